"""github_actions/builds: every attempt of every workflow run of a repository, incremental by
creation time, never moved back by an older state."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion.errors import PermanentError
from ingestion.harness import run_sync
from ingestion.models import RejectedRecord
from ingestion.streams import get_stream
from tests.fakes.app import FakeApp
from tests.github_actions.conftest import REPO
from tracking.choices import BuildStatus
from tracking.models import Build

pytestmark = pytest.mark.django_db


def upstream_attempts(actions) -> int:
    runs = actions.upstream.actions(actions.upstream.repositories[REPO]).runs
    return sum(len(run.attempts) for run in runs)


def test_a_full_sync_stores_every_attempt_of_every_run(actions):
    run = actions.sync("builds")

    assert run.status == "succeeded"
    # 12 generated runs, two of them re-run once: 14 attempts, each a build.
    assert run.created == upstream_attempts(actions) == 14
    assert Build.objects.filter(repository__full_name=REPO).count() == 14
    assert Build.objects.filter(run_attempt=2).count() == 2


def test_a_build_keeps_its_workflow_commit_actor_and_duration(actions):
    run_id = actions.upstream.add_run(REPO, "CI", branch="main", actor_login="gracehopper")
    actions.upstream.update_run(REPO, run_id, status="in_progress")
    actions.upstream.update_run(REPO, run_id, status="completed", conclusion="failure")
    upstream = actions.upstream.actions(actions.upstream.repositories[REPO]).run(run_id).current

    actions.sync("builds")

    build = Build.objects.get(run_id=run_id)
    assert build.workflow_name == "CI"
    assert build.workflow_id == upstream["workflow_id"]
    assert build.head_sha == upstream["head_sha"]
    assert build.branch == "main"
    assert build.event == "push"
    assert (build.status, build.conclusion) == (BuildStatus.COMPLETED, "failure")
    assert build.actor.username == "gracehopper"
    assert build.repository.full_name == REPO
    assert build.url.endswith(f"/{REPO}/actions/runs/{run_id}")
    assert build.duration_seconds == 60.0  # started one fake minute before it completed


def test_a_sync_before_the_repository_is_known_names_what_to_sync_first(github):
    with pytest.raises(PermanentError, match="sync github/repositories first"):
        run_sync(get_stream("github_actions", "builds"), REPO)


def test_an_incremental_sync_asks_for_runs_created_since_a_day_before_the_checkpoint(actions):
    actions.sync("builds")
    newest = Build.objects.order_by("-created_at").first().created_at
    actions.github.server.clear_requests()

    actions.sync("builds")

    (request,) = actions.requests_to("/actions/runs")
    since = (newest - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert request.query["created"] == [f">={since}"]


def test_an_incremental_sync_adds_a_new_run_and_leaves_the_others_untouched(actions):
    actions.sync("builds")
    seen = dict(Build.objects.values_list("pk", "last_seen_at"))
    run_id = actions.upstream.add_run(REPO)

    run = actions.sync("builds")

    assert run.created == 1
    assert run.updated == 0
    assert Build.objects.get(run_id=run_id).status == BuildStatus.QUEUED
    assert dict(Build.objects.exclude(run_id=run_id).values_list("pk", "last_seen_at")) == seen


def test_a_build_moving_from_queued_to_completed_is_one_row_that_ends_with_its_duration(actions):
    run_id = actions.upstream.add_run(REPO)
    actions.sync("builds")
    actions.upstream.update_run(REPO, run_id, status="in_progress")
    actions.sync("builds")
    assert Build.objects.get(run_id=run_id).status == BuildStatus.IN_PROGRESS
    actions.upstream.update_run(REPO, run_id, status="completed", conclusion="success")

    run = actions.sync("builds")

    build = Build.objects.get(run_id=run_id)
    assert run.updated == 1
    assert (build.status, build.conclusion) == (BuildStatus.COMPLETED, "success")
    assert build.finished_at is not None
    assert build.duration_seconds == (build.finished_at - build.started_at).total_seconds() == 60


def test_an_older_state_read_after_a_newer_one_leaves_the_newer(actions):
    run_id = actions.upstream.add_run(REPO)
    in_progress = actions.upstream.update_run(REPO, run_id, status="in_progress")
    actions.upstream.update_run(REPO, run_id, status="completed")
    actions.sync("builds")
    actions.upstream.replace_run(REPO, run_id, in_progress)  # a lagging replica answers

    run = actions.sync("builds")

    build = Build.objects.get(run_id=run_id)
    assert run.updated == 0
    assert build.status == BuildStatus.COMPLETED
    assert build.duration_seconds is not None


def test_an_older_state_of_the_same_second_still_leaves_the_newer(actions):
    run_id = actions.upstream.add_run(REPO)
    actions.upstream.update_run(REPO, run_id, status="in_progress")
    completed = actions.upstream.update_run(REPO, run_id, status="completed")
    actions.sync("builds")
    # GitHub's one-second times: in_progress may carry the completed run's updated_at.
    same_second = {**completed, "status": "in_progress", "conclusion": None}
    actions.upstream.replace_run(REPO, run_id, same_second)

    actions.sync("builds")

    assert Build.objects.get(run_id=run_id).status == BuildStatus.COMPLETED


def test_attempts_one_and_two_of_a_run_are_two_builds(actions):
    run_id = actions.upstream.add_run(REPO)
    actions.upstream.update_run(REPO, run_id, status="completed", conclusion="failure")
    actions.sync("builds")
    actions.upstream.rerun(REPO, run_id)
    actions.upstream.update_run(REPO, run_id, status="completed", conclusion="success")

    actions.sync("builds")

    attempts = Build.objects.filter(run_id=run_id).order_by("run_attempt")
    assert [(b.run_attempt, b.conclusion) for b in attempts] == [(1, "failure"), (2, "success")]


def test_an_earlier_attempt_the_runs_list_no_longer_shows_is_fetched_once(actions):
    run_id = actions.upstream.add_run(REPO)
    actions.upstream.update_run(REPO, run_id, status="completed", conclusion="failure")
    actions.upstream.rerun(REPO, run_id)  # re-run before the hub ever saw attempt 1
    actions.sync("builds")
    assert actions.requests_to(f"/actions/runs/{run_id}/attempts/1")
    actions.github.server.clear_requests()

    actions.sync("builds")

    assert Build.objects.filter(run_id=run_id).count() == 2
    assert not actions.requests_to(f"/actions/runs/{run_id}/attempts/1")


def test_more_runs_than_one_search_returns_are_read_in_narrower_windows(actions):
    # GitHub lists at most 1,000 runs per filtered list; the fake's limit is lowered to 30.
    actions.upstream.runs_search_limit = 30
    actions.sync("builds")
    new = [actions.upstream.add_run(REPO) for _ in range(75)]
    actions.github.server.clear_requests()

    run = actions.sync("builds")

    assert set(new) <= set(Build.objects.values_list("run_id", flat=True))
    assert run.created == 75
    windows = [r.query["created"][0] for r in actions.requests_to("/actions/runs")]
    assert windows[0].startswith(">=")
    assert len(windows) == 3  # 30, then 30 more up to the oldest read, then the rest
    assert all(".." in window for window in windows[1:])


def test_an_unchanged_repository_costs_one_conditional_request_and_no_budget(actions):
    actions.sync("builds")
    actions.sync("builds")  # the first incremental asks with `created`: a new ETag
    counted = actions.github.counted()

    run = actions.sync("builds")

    assert run.requests == 1
    assert run.fetched == 0
    assert actions.github.counted() == counted


def test_a_malformed_run_is_rejected_with_its_reason_and_the_others_are_stored(actions):
    run_id = actions.upstream.add_run(REPO)
    broken = actions.upstream.update_run(REPO, run_id, status="in_progress")
    actions.upstream.replace_run(REPO, run_id, {**broken, "status": "on_fire"})

    run = actions.sync("builds")

    assert run.rejected == 1
    assert run.created == 14
    rejected = RejectedRecord.objects.get(source="github_actions", entity="builds")
    assert rejected.external_id.endswith(f":{run_id}:1")
    assert "status 'on_fire' is not one of GitHub's" in rejected.error
    assert not Build.objects.filter(run_id=run_id).exists()


def test_a_stopped_sync_resumes_in_the_narrower_window_it_had_reached(actions):
    actions.upstream.runs_search_limit = 30
    actions.sync("builds")
    new = [actions.upstream.add_run(REPO) for _ in range(45)]
    stream = get_stream("github_actions", "builds")
    stopped = run_sync(stream, REPO, should_stop=lambda: True)  # stops after the first list
    actions.github.server.clear_requests()

    actions.sync("builds")

    assert stopped.status == "stopped"
    assert set(new) <= set(Build.objects.values_list("run_id", flat=True))
    (request,) = actions.requests_to("/actions/runs")
    assert ".." in request.query["created"][0]  # the window narrowed before the stop


def test_a_runs_list_not_in_githubs_envelope_fails_naming_what_is_missing(
    actions, fake_server, settings
):
    # Something in front of GitHub (a proxy, an odd Enterprise Server) answers another shape.
    odd = FakeApp("not github", tokens={"ghp_test"})
    odd.add_route("GET", "/repos/{owner}/{repo}/actions/runs", lambda request: {"runs": []})
    settings.GITHUB_API_URL = fake_server(odd).url

    with pytest.raises(PermanentError, match="answered no 'workflow_runs' list"):
        actions.sync("builds")

    assert not Build.objects.exists()
