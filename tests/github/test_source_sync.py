"""A source sync: the repositories first, then one job per repository and stream."""

from __future__ import annotations

import pytest

from ingestion import jobs
from ingestion.choices import JobKind, JobStatus
from ingestion.models import IngestionJob
from tracking.models import Repository

pytestmark = pytest.mark.django_db


def test_a_source_sync_stores_the_repositories_and_fans_out_one_job_per_repository_and_stream(
    github, empty_broker
):
    job = jobs.enqueue_source_sync("github", created_by="test")

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert Repository.objects.count() == 3
    queued = IngestionJob.objects.filter(kind=JobKind.SYNC, source="github")
    assert sorted(queued.values_list("entity", "scope")) == sorted(
        (entity, f"acme/repo-00{n}")
        for n in range(3)
        for entity in ("commits", "issues", "pull_requests")
    )
    assert set(queued.values_list("priority", flat=True)) == {job.priority}


def test_the_fanned_out_jobs_sync_every_stream(github, empty_broker):
    source_job = jobs.enqueue_source_sync("github")
    jobs.run_job(source_job.pk)

    for job in IngestionJob.objects.filter(kind=JobKind.SYNC):
        jobs.run_job(job.pk)

    statuses = set(IngestionJob.objects.values_list("status", flat=True))
    assert statuses == {JobStatus.SUCCEEDED}


def test_a_repository_sync_reads_that_repository_and_queues_only_its_streams(github, empty_broker):
    job = jobs.enqueue_source_sync("github", scope="acme/repo-002")

    jobs.run_job(job.pk)

    assert list(Repository.objects.values_list("full_name", flat=True)) == ["acme/repo-002"]
    assert set(IngestionJob.objects.filter(kind=JobKind.SYNC).values_list("scope", flat=True)) == {
        "acme/repo-002"
    }


def test_the_daily_schedule_queues_one_source_sync_per_source(github, empty_broker):
    queued = jobs.fan_out_source_syncs()

    assert "github" in {job.source for job in queued}
    assert all(job.kind == JobKind.SOURCE_SYNC for job in queued)
    assert jobs.fan_out_source_syncs() == []  # still unfinished: not queued twice
