"""A Slack source sync, as the schedule runs it: channels and users first, then one messages
job per channel the bot is in, each paced and resumed by the job layer."""

from __future__ import annotations

import pytest

from ingestion import jobs
from ingestion.choices import JobKind, JobStatus
from ingestion.models import IngestionJob
from tests.slack.conftest import FULL_COUNT, a_minute_passes
from tracking.models import ChatChannel, ChatMessage, Identity

pytestmark = pytest.mark.django_db


def test_a_source_sync_reads_channels_and_users_and_fans_out_one_job_per_channel(
    slack, empty_broker
):
    job = jobs.enqueue_source_sync("slack", created_by="test")

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert ChatChannel.objects.count() == 3
    assert Identity.objects.filter(source="slack").count() == 6
    queued = IngestionJob.objects.filter(kind=JobKind.SYNC, source="slack")
    assert sorted(queued.values_list("entity", "scope")) == [
        ("messages", "C00000001"),
        ("messages", "C00000002"),
        ("messages", "C00000003"),
    ]


def test_the_fanned_out_jobs_store_every_message(slack, empty_broker):
    source_job = jobs.enqueue_source_sync("slack")
    jobs.run_job(source_job.pk)

    for job in IngestionJob.objects.filter(kind=JobKind.SYNC):
        jobs.run_job(job.pk)

    assert set(IngestionJob.objects.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    assert ChatMessage.objects.count() == 3 * FULL_COUNT


def test_paced_channel_jobs_take_turns_and_all_finish(slack, settings, empty_broker):
    """At one request a minute, every job run sends what the pace allows and waits for its
    next turn; run again as the job layer would after each wait, all of them finish."""
    settings.SLACK_REQUESTS_PER_MINUTE = 1
    jobs.run_job(jobs.enqueue_source_sync("slack").pk)
    channel_jobs = list(IngestionJob.objects.filter(kind=JobKind.SYNC))

    for _minute in range(40):
        waiting = [job for job in channel_jobs if _status(job) != JobStatus.SUCCEEDED]
        if not waiting:
            break
        for job in waiting:
            jobs.run_job(job.pk)
        a_minute_passes()

    assert {_status(job) for job in channel_jobs} == {JobStatus.SUCCEEDED}
    assert ChatMessage.objects.count() == 3 * FULL_COUNT
    assert {job.attempts for job in IngestionJob.objects.filter(kind=JobKind.SYNC)} == {1}


def _status(job: IngestionJob) -> str:
    job.refresh_from_db()
    return job.status
