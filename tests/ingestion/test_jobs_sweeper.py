"""The sweeper finds jobs whose worker died, whose task was lost, whose retry never fired,
and closes the sync runs a killed process left "running"."""

from __future__ import annotations

import datetime as dt
import signal

import pytest
from django.utils import timezone

from ingestion.choices import JobStatus, RunStatus
from ingestion.jobs import (
    enqueue_due_retries,
    enqueue_sync,
    fail_orphaned_runs,
    requeue_lost_jobs,
    requeue_stale_jobs,
    tasks_waiting_in_broker,
)
from ingestion.models import IngestionJob, SyncRun, SyncState
from ingestion.tasks import sweep_task
from tests.ingestion import job_streams
from tests.ingestion.qcluster_helpers import django_process, shared_database, stop, wait_for
from tracking.choices import AuditAction
from tracking.models import AuditLog

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_broker")]

LONG_AGO = dt.timedelta(hours=1)
# Lock holders on another host: the sweeper cannot look at their processes, only at the lock.
FIRST_HOLDER = "elsewhere:101:first"
SECOND_HOLDER = "elsewhere:102:second"


def sync_job(**fields):
    job = enqueue_sync(job_streams.SOURCE, "repositories", scope="ok")
    IngestionJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def test_a_running_job_whose_heartbeat_stopped_is_queued_again():
    job = sync_job(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now() - LONG_AGO)

    assert requeue_stale_jobs() == 1

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert "worker running this job stopped" in job.last_error
    assert tasks_waiting_in_broker() == [job.task_id]


def test_a_running_job_with_a_fresh_heartbeat_is_left_alone():
    job = sync_job(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now())

    assert requeue_stale_jobs() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_a_job_that_kills_its_worker_every_time_ends_in_the_dead_letter_queue():
    job = sync_job(status=JobStatus.RUNNING, attempts=5, heartbeat_at=timezone.now() - LONG_AGO)

    requeue_stale_jobs()

    job.refresh_from_db()
    assert job.status == JobStatus.DEAD
    assert job.last_error.startswith("Gave up after 5 attempts")


def test_a_queued_job_whose_task_left_the_broker_is_sent_again():
    job = sync_job(created_at=timezone.now() - LONG_AGO, enqueued_at=timezone.now() - LONG_AGO)

    assert requeue_lost_jobs() == 1

    job.refresh_from_db()
    assert tasks_waiting_in_broker() == [job.task_id]


def test_a_queued_job_whose_task_still_waits_in_the_broker_is_not_sent_twice():
    job = sync_job(created_at=timezone.now() - LONG_AGO)
    requeue_lost_jobs()
    IngestionJob.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - LONG_AGO)

    assert requeue_lost_jobs() == 0
    assert len(tasks_waiting_in_broker()) == 1


def test_a_retry_whose_schedule_never_fired_is_sent_by_the_sweeper():
    job = sync_job(status=JobStatus.RETRYING, next_attempt_at=timezone.now() - LONG_AGO)

    assert enqueue_due_retries() == 1

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert tasks_waiting_in_broker() == [job.task_id]


# --- Runs left "running" by a process that stopped ------------------------------------


def running_run(holder: str, job_id: int | None = None) -> SyncRun:
    return SyncRun.objects.create(
        source=job_streams.SOURCE,
        entity="repositories",
        scope="ok",
        holder=holder,
        job_id=job_id,
        started_at=timezone.now() - dt.timedelta(minutes=5),
        fetched=3,
        created=3,
        pages=3,
        requests=3,
    )


def lock_stream(locked_by: str, expires_in: dt.timedelta = dt.timedelta(minutes=10)) -> None:
    SyncState.objects.update_or_create(
        source=job_streams.SOURCE,
        entity="repositories",
        scope="ok",
        defaults={"locked_by": locked_by, "lock_expires_at": timezone.now() + expires_in},
    )


@pytest.fixture
def syncing_child(tmp_path, django_db_blocker):
    """A `manage.py sync` in a child process, against a database shared with the test,
    that has committed two of its forty slow pages: (the process, its run)."""
    env = {"JOBTEST_STATE_DIR": str(tmp_path / "state")}
    with django_db_blocker.unblock(), shared_database(tmp_path) as database_url:
        env["DATABASE_URL"] = database_url
        args = ["sync", job_streams.SOURCE, "repositories", "--scope", "slow-40"]
        child = django_process(args, env, tmp_path / "sync.log")
        try:
            run = wait_for(
                lambda: SyncRun.objects.filter(pages__gte=2).first(),
                timeout=30,
                what="the child's run to commit two pages",
            )
            yield child, run
        finally:
            stop(child, signal.SIGKILL)


def test_a_run_left_running_by_a_killed_process_is_failed_by_the_sweeper(syncing_child):
    child, run = syncing_child
    stop(child, signal.SIGKILL)  # reaped: its pid is gone, as after any crash
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING

    assert fail_orphaned_runs() == 1

    failed = SyncRun.objects.get(pk=run.pk)
    assert failed.status == RunStatus.FAILED
    assert failed.error == (
        "The process running it stopped (killed or crashed); "
        "the next run resumes from the last checkpoint."
    )
    assert failed.finished_at >= failed.started_at
    assert failed.duration_seconds == pytest.approx(
        (failed.finished_at - failed.started_at).total_seconds()
    )
    assert (failed.pages, failed.fetched, failed.created) == (run.pages, run.pages, run.pages)
    entry = AuditLog.objects.get(object_id=str(run.pk), action=AuditAction.INGEST)
    assert entry.changes["status"] == RunStatus.FAILED
    assert entry.changes["pages"] == run.pages


def test_a_run_in_a_live_process_holding_its_lock_is_left_alone(syncing_child):
    _, run = syncing_child

    assert fail_orphaned_runs() == 0

    assert SyncRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    assert not AuditLog.objects.filter(object_id=str(run.pk)).exists()


def test_a_run_holding_a_fresh_lock_on_another_host_is_left_alone():
    run = running_run(FIRST_HOLDER)
    lock_stream(FIRST_HOLDER)

    assert fail_orphaned_runs() == 0
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


@pytest.mark.parametrize(
    ("locked_by", "expires_in"),
    [
        ("", dt.timedelta(minutes=10)),
        (SECOND_HOLDER, dt.timedelta(minutes=10)),
        (FIRST_HOLDER, -dt.timedelta(seconds=1)),
    ],
    ids=["lock released", "lock taken over by another run", "lock expired"],
)
def test_a_running_run_that_no_longer_holds_a_live_lock_is_failed(locked_by, expires_in):
    run = running_run(FIRST_HOLDER)
    lock_stream(locked_by, expires_in)

    assert fail_orphaned_runs() == 1

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.created == 3


def test_a_run_from_before_holders_were_recorded_is_failed_once_its_job_stopped_running():
    job = sync_job(status=JobStatus.QUEUED)
    still_running_job = sync_job(status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    orphan = running_run("", job_id=job.pk)
    alive = running_run("", job_id=still_running_job.pk)
    lock_stream(SECOND_HOLDER)

    assert fail_orphaned_runs() == 1

    assert SyncRun.objects.get(pk=orphan.pk).status == RunStatus.FAILED
    assert SyncRun.objects.get(pk=alive.pk).status == RunStatus.RUNNING


def test_a_run_is_failed_once_however_often_the_sweeper_runs():
    run = running_run(FIRST_HOLDER)
    lock_stream("")

    assert [fail_orphaned_runs(), fail_orphaned_runs()] == [1, 0]
    assert AuditLog.objects.filter(object_id=str(run.pk)).count() == 1


def test_the_sweep_task_reports_the_runs_it_failed():
    running_run(FIRST_HOLDER)
    lock_stream("")

    assert sweep_task() == "stale 0, lost 0, due 0, orphaned runs 1, webhook jobs 0"
