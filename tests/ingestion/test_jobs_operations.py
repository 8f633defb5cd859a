"""Operators: retry the dead, cancel, fan out daily syncs, clean up, set up schedules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from ingestion.choices import JobStatus
from ingestion.jobs import (
    cancel_jobs,
    cleanup,
    enqueue_sync,
    fan_out_syncs,
    retry_dead_jobs,
    run_job,
)
from ingestion.models import IngestionJob
from tests.ingestion import job_streams

pytestmark = pytest.mark.django_db


def sync_job(scope: str = "ok", **fields):
    job = enqueue_sync(job_streams.SOURCE, "repositories", scope=scope)
    IngestionJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def test_retrying_the_dead_letter_queue_queues_every_dead_job_with_fresh_attempts(
    django_capture_on_commit_callbacks,
):
    dead = [sync_job(status=JobStatus.DEAD, attempts=5) for _ in range(2)]
    failed = sync_job(status=JobStatus.FAILED, attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert retry_dead_jobs() == 2

    for job in dead:
        job.refresh_from_db()
        assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
        assert job.task_id
    failed.refresh_from_db()
    assert failed.status == JobStatus.FAILED


def test_retrying_named_jobs_takes_failed_ones_too_but_never_running_ones():
    failed = sync_job(status=JobStatus.FAILED)
    running = sync_job(status=JobStatus.RUNNING)

    assert retry_dead_jobs(ids=[failed.pk, running.pk]) == 1


def test_a_cancelled_job_never_starts():
    job = sync_job()

    assert cancel_jobs([job.pk]) == 1

    assert run_job(job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_the_daily_fan_out_queues_one_low_priority_sync_per_configured_scope():
    jobs = fan_out_syncs(source=job_streams.SOURCE)

    assert sorted(job.scope for job in jobs) == ["ok-1", "ok-2"]
    assert {job.priority for job in jobs} == {"low"}


def test_the_fan_out_skips_a_scope_whose_previous_sync_has_not_finished():
    fan_out_syncs(source=job_streams.SOURCE)

    assert fan_out_syncs(source=job_streams.SOURCE) == []


def test_cleanup_deletes_finished_jobs_past_retention_and_keeps_the_rest(settings):
    settings.INGEST_JOB_RETENTION_DAYS = 7
    old = timezone.now() - dt.timedelta(days=8)
    expired = sync_job(status=JobStatus.SUCCEEDED, finished_at=old)
    recent = sync_job(status=JobStatus.SUCCEEDED, finished_at=timezone.now())
    unfinished = sync_job(status=JobStatus.RETRYING, finished_at=old)

    assert cleanup()["jobs"] == 1

    remaining = set(IngestionJob.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, unfinished.pk}
    assert expired.pk not in remaining


def test_setup_schedules_is_idempotent(settings):
    settings.INGEST_SYNC_CRON = "15 4 * * *"
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115

    schedules = {s.func: s for s in Schedule.objects.all()}
    assert len(schedules) == 4
    assert schedules["ingestion.tasks.fan_out_syncs_task"].cron == "15 4 * * *"
    assert schedules["ingestion.tasks.reconcile_task"].cron == "0 4 * * 0"
    assert schedules["ingestion.tasks.sweep_task"].minutes == 1
    assert schedules["ingestion.tasks.cleanup_task"].schedule_type == Schedule.CRON


def test_setup_schedules_follows_a_changed_sync_cron(settings):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.INGEST_SYNC_CRON = "0 5 * * *"

    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115

    daily = Schedule.objects.get(func="ingestion.tasks.fan_out_syncs_task")
    assert daily.cron == "0 5 * * *"
    assert daily.next_run.hour == 5


def test_the_admin_lists_the_dead_letter_queue(staff_client):
    dead = sync_job(status=JobStatus.DEAD)
    sync_job(status=JobStatus.SUCCEEDED)

    response = staff_client.get(reverse("admin:ingestion_ingestionjob_changelist"), {"dlq": "yes"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [dead]


def test_the_admin_retry_action_queues_a_dead_job_again(staff_client):
    dead = sync_job(status=JobStatus.DEAD, attempts=5)

    response = staff_client.post(
        reverse("admin:ingestion_ingestionjob_changelist"),
        {"action": "retry_selected", "_selected_action": [dead.pk]},
        follow=True,
    )

    dead.refresh_from_db()
    assert dead.status == JobStatus.QUEUED
    assert "1 job(s) queued again." in response.content.decode()


def test_the_admin_cancel_action_cancels_a_queued_job(staff_client):
    job = sync_job()

    staff_client.post(
        reverse("admin:ingestion_ingestionjob_changelist"),
        {"action": "cancel_selected", "_selected_action": [job.pk]},
    )

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
