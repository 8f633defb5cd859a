"""A job's life run in-process: claim, success, retry with backoff, dead letter, failure."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule

from ingestion.choices import JobPriority, JobStatus
from ingestion.jobs import (
    enqueue_job,
    enqueue_sync,
    run_job,
    tasks_waiting_in_broker,
)
from tests.ingestion import job_streams
from tracking.models import Repository

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_broker", "scripted_state")]


def sync_job(scope: str, **kwargs):
    return enqueue_sync(job_streams.SOURCE, "repositories", scope=scope, **kwargs)


def test_a_successful_sync_job_keeps_the_run_counts_and_timings():
    job = run_job(sync_job("ok-3").pk)

    assert job.status == JobStatus.SUCCEEDED
    assert (job.attempts, job.fetched, job.created, job.pages) == (1, 3, 3, 3)
    assert job.progress_done == 3
    assert job.finished_at >= job.started_at
    assert job.duration_seconds is not None
    assert Repository.objects.filter(source=job_streams.SOURCE).count() == 3


def test_a_job_is_sent_to_the_broker_when_its_transaction_commits(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        job = sync_job("ok")

    job.refresh_from_db()
    assert job.task_id
    assert tasks_waiting_in_broker() == [job.task_id]


def test_critical_jobs_go_to_the_critical_cluster_and_low_ones_to_the_default(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        sync_job("ok", priority=JobPriority.CRITICAL)
        sync_job("ok", priority=JobPriority.LOW)

    assert len(tasks_waiting_in_broker(["critical"])) == 1
    assert len(tasks_waiting_in_broker(["hub"])) == 1


def test_a_job_runs_once_even_when_its_task_is_delivered_twice():
    job = sync_job("ok")

    first = run_job(job.pk)
    second = run_job(job.pk)

    assert first.status == JobStatus.SUCCEEDED
    assert second is None
    assert job_streams.fetches("ok") == 1


def test_a_transient_error_schedules_a_retry_no_sooner_than_retry_after():
    job = run_job(sync_job("fail-1").pk)

    assert job.status == JobStatus.RETRYING
    assert job.attempts == 1
    assert job.waiting_for == "backoff"
    assert "503" in job.last_error
    assert job.next_attempt_at >= job.started_at + dt.timedelta(seconds=2)
    retry = Schedule.objects.get()
    assert retry.func == "ingestion.tasks.run_job_task"
    assert retry.next_run == job.next_attempt_at
    assert retry.cluster == "hub"


def test_a_retry_that_is_not_due_does_not_start():
    job = run_job(sync_job("fail-1").pk)

    assert run_job(job.pk) is None
    assert job_streams.fetches("fail-1") == 1


def test_a_retried_job_succeeds_once_the_upstream_recovers():
    job = run_job(sync_job("fail-1").pk)
    type(job).objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())

    job = run_job(job.pk)

    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert job.last_error == ""


def test_a_job_that_exhausts_its_attempts_goes_to_the_dead_letter_queue(settings):
    settings.INGEST_MAX_ATTEMPTS = 2
    job = sync_job("fail-always")
    for _ in range(2):
        type(job).objects.filter(pk=job.pk).update(next_attempt_at=None)
        run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.DEAD
    assert job.attempts == 2
    assert job.last_error.startswith("Gave up after 2 attempts")
    assert "503" in job.last_error


def test_a_permanent_error_fails_the_job_at_once_saying_what_to_fix():
    job = run_job(sync_job("permanent").pk)

    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert "set a valid token" in job.last_error
    assert not Schedule.objects.exists()


def test_a_job_for_a_stream_nobody_registered_fails_naming_the_known_ones():
    job = enqueue_job("sync", {"source": "nope", "entity": "things"})

    job = run_job(job.pk)

    assert job.status == JobStatus.FAILED
    assert "No stream nope/things" in job.last_error


def test_an_unknown_priority_is_refused():
    with pytest.raises(ValueError, match="Unknown priority"):
        enqueue_job("cleanup", {}, "urgent")
