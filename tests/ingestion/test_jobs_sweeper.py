"""The sweeper finds jobs whose worker died, whose task was lost, whose retry never fired."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ingestion.choices import JobStatus
from ingestion.jobs import (
    enqueue_due_retries,
    enqueue_sync,
    requeue_lost_jobs,
    requeue_stale_jobs,
    tasks_waiting_in_broker,
)
from ingestion.models import IngestionJob
from tests.ingestion import job_streams

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_broker")]

LONG_AGO = dt.timedelta(hours=1)


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
