"""workflow_run and workflow_job deliveries → builds and their jobs, whatever the order."""

from __future__ import annotations

import pytest

from ingestion.choices import DeliveryStatus
from ingestion.models import WebhookDelivery
from tests.webhooks.payloads import github_example, workflow_job, workflow_run
from tracking.choices import BuildConclusion, BuildStatus
from tracking.models import Build, BuildJob, Repository

pytestmark = pytest.mark.django_db

EARLY = "2020-10-05T16:33:35Z"
LATER = "2020-10-05T16:34:10Z"
LAST = "2020-10-05T16:40:00Z"


def test_the_documented_completed_run_becomes_a_build(github_hook, process):
    payload = github_example("workflow_run.completed")
    run = payload["workflow_run"]

    assert github_hook.post("workflow_run", payload).status_code == 202
    process()

    build = Build.objects.get()
    assert build.external_id == f"{payload['repository']['id']}:{run['id']}:{run['run_attempt']}"
    assert build.repository == Repository.objects.get(external_id=str(payload["repository"]["id"]))
    assert (build.run_id, build.run_attempt, build.run_number) == (run["id"], 1, run["run_number"])
    assert build.workflow_id == run["workflow_id"]
    assert (build.branch, build.head_sha, build.event) == (
        run["head_branch"],
        run["head_sha"],
        run["event"],
    )
    assert (build.status, build.conclusion) == (BuildStatus.COMPLETED, BuildConclusion.SUCCESS)
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PROCESSED


def test_a_run_moving_through_its_states_is_one_build_with_its_duration(github_hook, process):
    github_hook.post("workflow_run", workflow_run("queued", updated_at=EARLY))
    process()
    github_hook.post("workflow_run", workflow_run("in_progress", updated_at=LATER))
    process()
    github_hook.post("workflow_run", workflow_run("completed", updated_at=LAST))
    process()

    build = Build.objects.get()
    assert build.status == BuildStatus.COMPLETED
    assert build.duration_seconds == 390.0  # 16:33:30 → 16:40:00


def test_a_late_in_progress_after_completed_does_not_move_the_build_back(github_hook, process):
    github_hook.post("workflow_run", workflow_run("completed", updated_at=LAST))
    process()
    github_hook.post("workflow_run", workflow_run("in_progress", updated_at=LATER))
    process()

    build = Build.objects.get()
    assert (build.status, build.conclusion) == (BuildStatus.COMPLETED, BuildConclusion.SUCCESS)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PROCESSED).count() == 2


def test_out_of_order_events_in_one_batch_end_in_the_final_state(github_hook, process):
    github_hook.post("workflow_run", workflow_run("completed", updated_at=LAST))
    github_hook.post("workflow_run", workflow_run("queued", updated_at=EARLY))
    github_hook.post("workflow_run", workflow_run("in_progress", updated_at=LATER))

    process()

    build = Build.objects.get()
    assert build.status == BuildStatus.COMPLETED
    # The stored version carries the status rank in microseconds (see the normalizer).
    assert build.updated_at.replace(microsecond=0).isoformat() == "2020-10-05T16:40:00+00:00"


def test_a_rerun_is_a_second_build_of_the_same_run(github_hook, process):
    github_hook.post("workflow_run", workflow_run("completed", attempt=1, conclusion="failure"))
    github_hook.post("workflow_run", workflow_run("completed", attempt=2, conclusion="success"))

    process()

    builds = Build.objects.order_by("run_attempt")
    assert [(b.run_attempt, b.conclusion) for b in builds] == [(1, "failure"), (2, "success")]


def test_a_redelivered_run_writes_nothing_new(github_hook, process):
    payload = workflow_run("completed")
    github_hook.post("workflow_run", payload, delivery_id="once")
    process()
    seen = Build.objects.get().last_seen_at

    github_hook.post("workflow_run", payload, delivery_id="twice")
    process()

    assert Build.objects.get().last_seen_at == seen


def test_the_repository_of_a_delivery_is_created_when_unknown(github_hook, process):
    github_hook.post("workflow_run", workflow_run("completed"))
    process()

    repository = Repository.objects.get()
    assert repository.full_name == "octo-org/octo-repo"


def test_a_known_repository_is_left_to_polling(github_hook, process):
    github_hook.post("workflow_run", workflow_run("completed"))
    process()
    Repository.objects.update(description="kept from the API")

    github_hook.post("workflow_run", workflow_run("completed", attempt=2))
    process()

    assert Repository.objects.get().description == "kept from the API"


def test_a_job_becomes_a_build_job_of_its_build_with_steps(github_hook, process):
    github_hook.post("workflow_run", workflow_run("completed"))
    github_hook.post("workflow_job", workflow_job("completed"))

    process()

    job = BuildJob.objects.get()
    assert job.build == Build.objects.get()
    assert job.status == BuildStatus.COMPLETED
    assert job.steps and {"name", "number", "status"} <= set(job.steps[0])


def test_a_job_before_its_build_fails_and_a_replay_links_it(github_hook, process):
    from ingestion.webhooks import replay

    github_hook.post("workflow_job", workflow_job("completed"), delivery_id="job")
    process()
    failed = WebhookDelivery.objects.get(delivery_id="job")
    assert failed.status == DeliveryStatus.FAILED
    assert "Missing reference" in failed.error

    github_hook.post("workflow_run", workflow_run("completed"), delivery_id="run")
    process()
    replay([failed])

    assert BuildJob.objects.get().build == Build.objects.get()
    assert WebhookDelivery.objects.get(delivery_id="job").status == DeliveryStatus.PROCESSED


def test_a_run_without_an_id_fails_naming_the_field(github_hook, process):
    payload = workflow_run("completed")
    del payload["workflow_run"]["id"]

    github_hook.post("workflow_run", payload)
    process()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "id" in delivery.error
    assert not Build.objects.exists()


def test_a_late_in_progress_job_after_completed_does_not_move_the_job_back(github_hook, process):
    github_hook.post("workflow_run", workflow_run("completed"))
    github_hook.post("workflow_job", workflow_job("completed"))
    process()
    github_hook.post("workflow_job", workflow_job("in_progress"))
    process()

    job = BuildJob.objects.get()
    assert job.status == BuildStatus.COMPLETED
    assert job.finished_at is not None


def test_the_workflow_name_comes_from_the_delivery_when_the_run_has_none(github_hook, process):
    payload = workflow_run("completed")
    payload["workflow_run"]["name"] = ""

    github_hook.post("workflow_run", payload)
    process()

    assert Build.objects.get().workflow_name == payload["workflow"]["name"]


def test_deliveries_do_not_move_the_polling_checkpoint(github_hook, process):
    from ingestion.models import SyncState

    github_hook.post("workflow_run", workflow_run("completed"))
    process()

    state = SyncState.objects.get(source="github_actions", entity="builds")
    assert state.high_water_mark is None
    assert state.pending_high_water_mark is None
