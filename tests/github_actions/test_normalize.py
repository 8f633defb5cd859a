"""The normalizers on GitHub's documented example deliveries (fixtures/webhooks/github),
and every malformed input rejected with the field it is about."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion.errors import RecordRejected
from ingestion.streams import IdentityRef, Ref
from sources.github.normalize import hub_context, with_context
from sources.github_actions.normalize import (
    build_job_key,
    build_job_rows,
    build_key,
    build_rows,
    build_time,
)
from tests.github_actions.conftest import delivery
from tracking.choices import BuildStatus
from tracking.models import Build, BuildJob, Repository

UTC = dt.UTC


def run_of(name: str) -> dict:
    return delivery(f"workflow_run.{name}")["workflow_run"]


def job_of(name: str) -> dict:
    payload = delivery(f"workflow_job.{name}")
    repository = payload["repository"]
    return with_context(payload["workflow_job"], hub_context(repository["id"], "Codertocat/Hello"))


def build_fields(run: dict) -> dict:
    (row,) = build_rows(run)
    assert row.model is Build
    return row.fields


def job_fields(job: dict) -> dict:
    (row,) = build_job_rows(job)
    assert row.model is BuildJob
    return row.fields


# --- workflow runs ---------------------------------------------------------------------------


def test_a_completed_run_is_a_completed_build_with_its_times_actor_and_repository():
    fields = build_fields(run_of("completed"))

    assert fields["external_id"] == build_key(run_of("completed")) == "300029405:289782451:1"
    assert fields["repository"] == Ref(Repository, "github", "300029405")
    assert fields["run_id"] == 289782451
    assert fields["run_attempt"] == 1
    assert fields["run_number"] == 163
    assert fields["workflow_id"] == 2823525
    assert fields["head_sha"] == "3484a3fb816e0859fd6e1cea078d76385ff50625"
    assert fields["branch"] == "master"
    assert fields["event"] == "repository_dispatch"
    assert (fields["status"], fields["original_status"]) == (BuildStatus.COMPLETED, "completed")
    assert fields["conclusion"] == "success"
    assert fields["url"] == "https://github.com/octo-org/octo-repo/actions/runs/289782451"
    assert fields["created_at"] == dt.datetime(2020, 10, 5, 16, 33, 24, tzinfo=UTC)
    assert fields["started_at"] == dt.datetime(2020, 10, 5, 16, 33, 49, tzinfo=UTC)
    assert fields["finished_at"] == dt.datetime(2020, 10, 5, 16, 33, 49, tzinfo=UTC)
    assert fields["actor"] == IdentityRef(
        source="github", external_id="15669918", username="Codertocat"
    )


def test_a_requested_run_is_queued_without_conclusion_or_finish():
    fields = build_fields(run_of("requested"))

    assert (fields["status"], fields["original_status"]) == (BuildStatus.QUEUED, "queued")
    assert fields["conclusion"] == ""
    assert fields["finished_at"] is None


def test_an_in_progress_run_is_in_progress():
    fields = build_fields(run_of("in_progress"))

    assert fields["status"] == BuildStatus.IN_PROGRESS
    assert fields["finished_at"] is None


def test_the_three_deliveries_of_one_run_are_one_build():
    keys = {build_key(run_of(name)) for name in ("requested", "in_progress", "completed")}

    assert keys == {"300029405:289782451:1"}


def test_the_versions_of_one_run_order_its_deliveries_even_within_one_second():
    # The documented in_progress and completed deliveries share updated_at 16:33:49.
    versions = [build_fields(run_of(name))["updated_at"] for name in ("requested", "in_progress")]
    versions.append(build_fields(run_of("completed"))["updated_at"])

    assert versions == sorted(versions)
    assert len(set(versions)) == 3
    assert versions[2].replace(microsecond=0) == dt.datetime(2020, 10, 5, 16, 33, 49, tzinfo=UTC)


def test_an_empty_run_name_falls_back_to_the_workflow_name_a_webhook_passes():
    payload = delivery("workflow_run.completed")
    context = hub_context(payload["repository"]["id"], "octo-org/octo-repo")
    context["workflow_name"] = payload["workflow"]["name"]

    fields = build_fields(with_context(payload["workflow_run"], context))

    assert fields["workflow_name"] == "test"


def test_each_attempt_of_a_run_is_its_own_build():
    second = {**run_of("completed"), "run_attempt": 2}

    assert build_key(second) == "300029405:289782451:2"
    assert build_fields(second)["run_attempt"] == 2


def test_a_run_without_its_own_repository_takes_the_one_of_its_context():
    run = run_of("completed")
    del run["repository"]

    key = build_key(with_context(run, hub_context(42, "acme/other")))

    assert key == "42:289782451:1"


def test_the_build_time_is_the_runs_creation():
    assert build_time(run_of("completed")) == dt.datetime(2020, 10, 5, 16, 33, 24, tzinfo=UTC)


def test_waiting_and_pending_runs_are_queued():
    for status in ("waiting", "pending", "requested"):
        fields = build_fields({**run_of("requested"), "status": status})
        assert (fields["status"], fields["original_status"]) == (BuildStatus.QUEUED, status)


def _broken_run(change) -> dict:
    run = run_of("completed")  # a fresh copy, read from the fixture
    change(run)
    return run


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda run: run.pop("id"), "id must be an integer"),
        (lambda run: run.update(id="289782451"), "id must be an integer"),
        (lambda run: run.update(run_attempt="2"), "run_attempt must be an integer"),
        (lambda run: run.update(run_attempt=0), "run_attempt must be 1 or more"),
        (lambda run: run.pop("repository"), "repository is missing"),
        (lambda run: run["repository"].pop("id"), "repository.id must be an integer"),
        (lambda run: run.update(status="exploded"), "status 'exploded' is not one of"),
        (lambda run: run.update(conclusion="meh"), "conclusion 'meh' is not one of"),
        (lambda run: run.pop("created_at"), "created_at is missing"),
        (lambda run: run.update(updated_at="yesterday"), "updated_at 'yesterday' is not ISO"),
        (lambda run: run.update(run_started_at=17), "run_started_at must be an ISO 8601"),
        (lambda run: run.update(head_branch=["main"]), "head_branch must be text"),
        (lambda run: run.update(actor="Codertocat"), "a user must be an object"),
    ],
)
def test_a_malformed_run_is_rejected_naming_the_field(change, message):
    with pytest.raises(RecordRejected, match=message):
        build_rows(_broken_run(change))


def test_a_run_that_is_not_an_object_is_rejected():
    with pytest.raises(RecordRejected, match="workflow run must be an object, not list"):
        build_key([1, 2])


# --- workflow jobs -----------------------------------------------------------------------------


def test_a_completed_job_belongs_to_its_run_attempt_and_keeps_its_steps():
    fields = job_fields(job_of("completed"))

    assert fields["external_id"] == build_job_key(job_of("completed")) == "289782451"
    assert fields["build"] == Ref(Build, "github_actions", "186853002:2202229078:1")
    assert fields["job_id"] == 289782451
    assert fields["name"] == "linters"
    assert (fields["status"], fields["conclusion"]) == (BuildStatus.COMPLETED, "success")
    assert fields["runner_name"] == "GitHub Actions 5"
    assert fields["labels"] == ["ubuntu-latest"]
    assert fields["url"] == "https://github.com/octo-org/octo-repo/runs/1291536064"
    assert fields["started_at"] == dt.datetime(2021, 8, 5, 10, 34, 58, tzinfo=UTC)
    assert fields["finished_at"] == dt.datetime(2021, 8, 5, 10, 38, 16, tzinfo=UTC)
    assert [step["number"] for step in fields["steps"]] == [1, 2, 3, 4, 5, 6, 12, 13]
    assert fields["steps"][0] == {
        "name": "Set up job",
        "number": 1,
        "status": "completed",
        "conclusion": "success",
        "started_at": "2021-08-05T10:26:08Z",
        "completed_at": "2021-08-05T10:26:11Z",
    }


def test_a_queued_job_has_no_steps_and_no_finish():
    fields = job_fields(job_of("queued"))

    assert (fields["status"], fields["original_status"]) == (BuildStatus.QUEUED, "queued")
    assert fields["conclusion"] == ""
    assert fields["steps"] == []
    assert fields["created_at"] is None  # the older payload has none
    assert fields["finished_at"] is None


def test_an_in_progress_job_keeps_its_running_step():
    fields = job_fields(job_of("in_progress"))

    assert fields["status"] == BuildStatus.IN_PROGRESS
    assert fields["steps"] == [
        {
            "name": "Set up job",
            "number": 1,
            "status": "in_progress",
            "conclusion": None,
            "started_at": "2021-09-13T02:21:13Z",
            "completed_at": None,
        }
    ]


def test_a_job_waiting_for_an_environments_approval_is_queued():
    fields = job_fields({**job_of("queued"), "status": "waiting"})

    assert (fields["status"], fields["original_status"]) == (BuildStatus.QUEUED, "waiting")


def test_a_job_without_its_repository_context_is_rejected():
    job = delivery("workflow_job.completed")["workflow_job"]

    with pytest.raises(RecordRejected, match=r"no repository context \(_hub.repository_id\)"):
        build_job_rows(job)


def _broken_job(change) -> dict:
    job = job_of("completed")  # a fresh copy, read from the fixture
    change(job)
    return job


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda job: job.pop("id"), "id must be an integer"),
        (lambda job: job.update(run_id=None), "run_id must be an integer"),
        (lambda job: job.update(status=None), "status None is not one of"),
        (lambda job: job.update(conclusion="great"), "conclusion 'great' is not one of"),
        (lambda job: job.update(labels="ubuntu-latest"), "labels must be a list of names"),
        (lambda job: job.update(steps={"name": "x"}), "steps must be a list"),
        (lambda job: job["steps"].append("Set up job"), r"steps\[8\] must be an object"),
        (lambda job: job["steps"][2].update(number="3"), r"steps\[2\].number must be an integer"),
        (
            lambda job: job["steps"][1].update(started_at="10:26"),
            r"steps\[1\].started_at '10:26' is not ISO 8601",
        ),
        (lambda job: job.update(completed_at="2021-08-05"), "completed_at '2021-08-05' has no UTC"),
    ],
)
def test_a_malformed_job_is_rejected_naming_the_field(change, message):
    with pytest.raises(RecordRejected, match=message):
        build_job_rows(_broken_job(change))
