"""github_actions/build_jobs: the jobs of the runs whose builds this hub stored or changed,
linked to their build (run attempt), with their steps."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ingestion.harness import run_sync
from ingestion.models import RejectedRecord
from ingestion.streams import get_stream
from tests.github_actions.conftest import REPO
from tracking.choices import BuildStatus
from tracking.models import Build, BuildJob, Repository

pytestmark = pytest.mark.django_db


def upstream_jobs(actions) -> list[dict]:
    runs = actions.upstream.actions(actions.upstream.repositories[REPO]).runs
    return [job for run in runs for attempt in run.jobs for job in attempt]


@pytest.fixture
def synced_builds(actions):
    actions.sync("builds")
    return actions


def test_the_jobs_of_every_stored_build_are_synced_and_linked_to_their_attempt(synced_builds):
    actions = synced_builds

    run = actions.sync("build_jobs")

    jobs = upstream_jobs(actions)
    assert run.status == "succeeded"
    assert run.created == len(jobs) == BuildJob.objects.count()
    for job in jobs:
        stored = BuildJob.objects.select_related("build").get(job_id=job["id"])
        assert (stored.build.run_id, stored.build.run_attempt) == (
            job["run_id"],
            job["run_attempt"],
        )
    # One request per run: filter=all brings the jobs of every attempt at once.
    assert len(actions.requests_to("/jobs")) == 12


def test_a_job_keeps_its_status_runner_duration_and_steps(synced_builds):
    actions = synced_builds
    job = upstream_jobs(actions)[0]

    actions.sync("build_jobs")

    stored = BuildJob.objects.get(job_id=job["id"])
    assert stored.name == job["name"]
    assert (stored.status, stored.conclusion) == (BuildStatus.COMPLETED, job["conclusion"])
    assert stored.runner_name == job["runner_name"]
    assert stored.labels == ["ubuntu-latest"]
    assert stored.duration_seconds == (stored.finished_at - stored.started_at).total_seconds() > 0
    assert [step["name"] for step in stored.steps] == [step["name"] for step in job["steps"]]
    first = stored.steps[0]
    assert first["status"] == "completed"
    assert first["started_at"] == job["steps"][0]["started_at"].replace(".000Z", "Z")


def test_a_job_moving_from_queued_to_completed_is_one_row(actions):
    run_id = actions.upstream.add_run(REPO, jobs=("build",))
    (job,) = actions.upstream.jobs_of(REPO, run_id)
    actions.sync("builds")
    actions.sync("build_jobs")
    assert BuildJob.objects.get(job_id=job["id"]).status == BuildStatus.QUEUED
    actions.upstream.update_job(REPO, job["id"], status="in_progress")
    actions.upstream.update_job(REPO, job["id"], status="completed", conclusion="failure")
    actions.upstream.update_run(REPO, run_id, status="completed", conclusion="failure")
    actions.sync("builds")

    actions.sync("build_jobs")

    stored = BuildJob.objects.get(job_id=job["id"])
    assert (stored.status, stored.conclusion) == (BuildStatus.COMPLETED, "failure")
    assert stored.duration_seconds == 60.0
    assert [step["conclusion"] for step in stored.steps] == [
        "success",
        "success",
        "failure",
        "skipped",
    ]
    assert BuildJob.objects.filter(job_id=job["id"]).count() == 1


def test_only_the_runs_of_builds_changed_since_the_checkpoint_are_asked_for(synced_builds):
    actions = synced_builds
    actions.sync("build_jobs")
    # Every build was stored two hours ago, long before the checkpoint; then one new run.
    Build.objects.update(last_seen_at=timezone.now() - dt.timedelta(hours=2))
    run_id = actions.upstream.add_run(REPO, jobs=("build", "test", "lint"))
    actions.sync("builds")
    actions.github.server.clear_requests()

    run = actions.sync("build_jobs")

    assert [r.path for r in actions.requests_to("/jobs")] == [
        f"/repos/{REPO}/actions/runs/{run_id}/jobs"
    ]
    assert run.created == 3


def test_re_reading_unchanged_jobs_costs_no_budget(synced_builds):
    actions = synced_builds
    actions.sync("build_jobs")
    counted = actions.github.counted()

    run = actions.sync("build_jobs")  # the builds were stored within the overlap: re-read

    assert run.requests == 12
    assert actions.github.counted() == counted  # every answer a 304


def test_a_job_whose_build_is_not_stored_yet_waits_and_loads_once_the_build_is(synced_builds):
    actions = synced_builds
    run_id = actions.upstream.add_run(REPO, jobs=("build",))
    actions.upstream.update_run(REPO, run_id, status="completed", conclusion="failure")
    actions.sync("builds")
    actions.upstream.rerun(REPO, run_id)  # attempt 2 and its job: no build for it yet
    (second,) = actions.upstream.jobs_of(REPO, run_id, attempt=2)

    run = actions.sync("build_jobs")

    assert run.rejected == 1
    rejected = RejectedRecord.objects.get(entity="build_jobs", resolved=False)
    assert rejected.external_id == str(second["id"])
    repository_id = Repository.objects.get(full_name=REPO).external_id
    assert rejected.error == (
        f"Missing reference: build github_actions:{repository_id}:{run_id}:2 not found."
    )
    assert not BuildJob.objects.filter(job_id=second["id"]).exists()

    actions.sync("builds")
    actions.sync("build_jobs")

    stored = BuildJob.objects.get(job_id=second["id"])
    assert (stored.build.run_id, stored.build.run_attempt) == (run_id, 2)
    rejected.refresh_from_db()
    assert rejected.resolved


def test_a_run_with_more_jobs_than_a_page_is_read_page_by_page(actions):
    run_id = actions.upstream.add_run(REPO, jobs=[f"shard-{n}" for n in range(130)])
    actions.sync("builds")

    run = actions.sync("build_jobs")

    assert BuildJob.objects.filter(build__run_id=run_id).count() == 130
    assert len(actions.requests_to(f"/actions/runs/{run_id}/jobs")) == 2
    assert run.pages >= 2


def test_a_run_deleted_upstream_skips_its_jobs(synced_builds):
    actions = synced_builds
    gone = Build.objects.order_by("pk").first()
    actions.upstream.delete_run(REPO, gone.run_id)  # deleted on GitHub after the hub stored it

    run = actions.sync("build_jobs")

    assert run.status == "succeeded"
    assert not BuildJob.objects.filter(build=gone).exists()
    assert BuildJob.objects.exists()


def test_a_repository_without_stored_builds_asks_for_nothing(actions):
    run = actions.sync("build_jobs")

    assert run.status == "succeeded"
    assert run.requests == 0
    assert not actions.requests_to("/jobs")


def test_a_stopped_sync_resumes_after_the_last_run_it_committed(synced_builds):
    actions = synced_builds
    stream = get_stream("github_actions", "build_jobs")
    stopped = run_sync(stream, REPO, should_stop=lambda: True)  # stops after its first page
    (first,) = [r.path for r in actions.requests_to("/jobs")]
    actions.github.server.clear_requests()

    resumed = actions.sync("build_jobs")

    assert (stopped.status, stopped.pages) == ("stopped", 1)
    assert BuildJob.objects.count() == len(upstream_jobs(actions))
    assert resumed.created == len(upstream_jobs(actions)) - stopped.created
    asked = [r.path for r in actions.requests_to("/jobs")]
    # Every other run once. The first is asked again only when another of its attempts
    # comes later in the order (one extra request, its rows unchanged).
    assert len(asked) == len(set(asked))
    assert len(set(asked) | {first}) == 12
