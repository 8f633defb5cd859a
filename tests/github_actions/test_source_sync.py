"""How the schedule reaches the GitHub Actions streams: a github_actions source sync queues
one job per repository and stream, as the GitHub source's does."""

from __future__ import annotations

import pytest

from ingestion import jobs
from ingestion.choices import JobKind, JobStatus
from ingestion.models import IngestionJob
from tracking.models import Build, BuildJob

pytestmark = pytest.mark.django_db


def test_a_source_sync_queues_builds_and_build_jobs_for_every_known_repository(
    actions, empty_broker
):
    job = jobs.enqueue_source_sync("github_actions", created_by="test")

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    queued = IngestionJob.objects.filter(kind=JobKind.SYNC, source="github_actions")
    assert sorted(queued.values_list("entity", "scope")) == sorted(
        (entity, f"acme/repo-00{n}") for n in range(3) for entity in ("build_jobs", "builds")
    )


def test_the_fanned_out_jobs_sync_builds_and_then_their_jobs(actions, empty_broker):
    source_job = jobs.enqueue_source_sync("github_actions")
    jobs.run_job(source_job.pk)
    queued = IngestionJob.objects.filter(kind=JobKind.SYNC).order_by("pk")

    # The fan-out queues both streams at once; builds first here, so jobs find them.
    for job in sorted(queued, key=lambda job: job.entity != "builds"):
        jobs.run_job(job.pk)

    assert set(IngestionJob.objects.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    upstream = [actions.upstream.actions(r) for r in actions.upstream.repositories.values()]
    assert Build.objects.count() == sum(len(run.attempts) for a in upstream for run in a.runs)
    assert BuildJob.objects.count() == sum(
        len(attempt) for a in upstream for run in a.runs for attempt in run.jobs
    )


def test_the_daily_schedule_syncs_actions_through_the_github_source_sync(actions, empty_broker):
    queued = jobs.fan_out_source_syncs()

    # Actions streams run per GitHub repository: the github sync queues them once it
    # knows the repositories, never before.
    assert "github" in {job.source for job in queued}
    assert "github_actions" not in {job.source for job in queued}


def test_the_github_source_sync_queues_the_actions_streams_of_each_repository(github, empty_broker):
    job = jobs.enqueue_source_sync("github")

    jobs.run_job(job.pk)

    queued = IngestionJob.objects.filter(kind=JobKind.SYNC, source="github_actions")
    assert sorted(queued.values_list("entity", "scope")) == sorted(
        (entity, f"acme/repo-00{n}") for n in range(3) for entity in ("build_jobs", "builds")
    )
