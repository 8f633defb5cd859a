"""While paused or behind an open breaker, jobs wait without spending attempts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from ingestion.breaker import breaker_allows, record_failure
from ingestion.choices import JobStatus
from ingestion.jobs import enqueue_sync, is_paused, pause_pipeline, resume_pipeline, run_job
from ingestion.models import IngestionJob
from tests.ingestion import job_streams
from tracking.models import Repository

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("scripted_state")]


def sync_job(scope: str):
    return enqueue_sync(job_streams.SOURCE, "repositories", scope=scope)


def make_due(job) -> None:
    IngestionJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())


def test_no_job_starts_while_the_pipeline_is_paused():
    pause_pipeline(by="ops")

    job = run_job(sync_job("ok").pk)

    assert job.status == JobStatus.RETRYING
    assert job.waiting_for == "pause"
    assert job.attempts == 0
    assert job_streams.fetches("ok") == 0


def test_resume_queues_the_jobs_the_pause_held_back(django_capture_on_commit_callbacks):
    pause_pipeline()
    job = run_job(sync_job("ok").pk)

    held = resume_pipeline()

    job.refresh_from_db()
    assert not is_paused()
    assert held == 1
    assert job.status == JobStatus.QUEUED
    assert job.task_id
    assert run_job(job.pk).status == JobStatus.SUCCEEDED


def test_a_running_sync_stops_at_its_next_checkpoint_and_continues_after_resume():
    job = run_job(sync_job("pause-4").pk)
    assert job.status == JobStatus.RETRYING
    assert job.waiting_for == "pause"
    assert Repository.objects.filter(source=job_streams.SOURCE).count() == 2

    resume_pipeline()
    job = run_job(job.pk)

    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 1
    assert Repository.objects.filter(source=job_streams.SOURCE).count() == 4


def test_a_job_for_a_source_whose_breaker_is_open_is_deferred_not_failed(settings):
    settings.INGEST_BREAKER_FAILURES = 1
    settings.INGEST_BREAKER_COOLDOWN = 60
    record_failure(job_streams.SOURCE)

    job = run_job(sync_job("ok").pk)

    assert job.status == JobStatus.RETRYING
    assert job.waiting_for == "breaker"
    assert job.attempts == 0
    assert "Circuit breaker for jobtest is open" in job.last_error
    wait = (job.next_attempt_at - timezone.now()).total_seconds()
    assert 50 < wait <= 60
    assert job_streams.fetches("ok") == 0


def test_transient_failures_of_sync_jobs_open_the_breaker(settings):
    settings.INGEST_BREAKER_FAILURES = 2
    for _ in range(2):
        run_job(sync_job("fail-always").pk)

    assert breaker_allows(job_streams.SOURCE)[0] is False


def test_a_successful_sync_closes_a_half_open_breaker(settings):
    settings.INGEST_BREAKER_FAILURES = 1
    settings.INGEST_BREAKER_COOLDOWN = 0
    record_failure(job_streams.SOURCE)

    job = run_job(sync_job("ok").pk)

    assert job.status == JobStatus.SUCCEEDED
    assert breaker_allows(job_streams.SOURCE) == (True, None)
