"""Priorities under load, on real clusters: a critical job does not wait behind low ones.

The default cluster ("hub") has one worker, kept busy by 100 queued low-priority
syncs of 0.2 s each; the critical cluster has one worker of its own. A critical
job ("sync now", a webhook delivery) queued meanwhile starts at once, before
nearly all of the low jobs. Runs on the ORM broker, and on the Redis broker when
REDIS_URL is set (the test then uses that Redis database and purges only our queues).
"""

from __future__ import annotations

import os

import pytest
from django_q.models import Task

from ingestion.choices import JobPriority, JobStatus
from ingestion.jobs import CRITICAL_CLUSTER, enqueue_sync, purge_broker_queues
from ingestion.models import IngestionJob
from tests.ingestion import job_streams
from tests.ingestion.qcluster_helpers import (
    qcluster,
    shared_database,
    stop,
    use_broker_here,
    wait_for,
)

pytestmark = pytest.mark.slow

LOW_JOBS = 100
# Low jobs that may start before the critical one: the one the busy worker runs, the
# one its cluster has prefetched (queue_limit 1), and a little slack for timing.
MAY_START_FIRST = 5
# Cluster start-up (a few seconds each) plus one short sync.
READY_TIMEOUT = 30


@pytest.fixture
def start_clusters(broker, tmp_path, django_db_setup, django_db_blocker, monkeypatch):
    """A shared database; starts the default and the critical cluster, one worker each."""
    redis_url = os.environ.get("REDIS_URL", "") if broker == "redis" else ""
    use_broker_here(redis_url, monkeypatch)
    env = {
        "JOBTEST_STATE_DIR": str(tmp_path / "state"),
        "INGEST_WORKERS": "1",
        "INGEST_CRITICAL_WORKERS": "1",
        # Empty on the ORM broker, even when the suite itself runs with REDIS_URL.
        "REDIS_URL": redis_url,
    }
    processes = []
    with django_db_blocker.unblock(), shared_database(tmp_path) as database_url:
        env["DATABASE_URL"] = database_url
        purge_broker_queues()  # Redis is not rolled back with the database

        def start() -> None:
            processes.append(qcluster(env, tmp_path / "default.log"))
            processes.append(qcluster(env, tmp_path / "critical.log", CRITICAL_CLUSTER))

        try:
            yield start
        finally:
            for process in processes:
                stop(process)
            purge_broker_queues()


def sync(scope: str, priority: str) -> IngestionJob:
    return enqueue_sync(job_streams.SOURCE, "repositories", scope=scope, priority=priority)


def succeeded(job: IngestionJob) -> IngestionJob | None:
    return IngestionJob.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).first()


def test_a_critical_job_starts_before_a_queue_of_low_priority_jobs(start_clusters):
    start_clusters()
    # The critical cluster is up once it has run a job: from then on, its start-up
    # time cannot be mistaken for waiting in line.
    warm_up = sync("ok-warm-up", JobPriority.CRITICAL)
    wait_for(lambda: succeeded(warm_up), timeout=READY_TIMEOUT, what="the critical cluster")
    low_jobs = [sync(f"busy-{number}", JobPriority.LOW) for number in range(LOW_JOBS)]
    lows = IngestionJob.objects.filter(pk__in=[job.pk for job in low_jobs])
    wait_for(
        lambda: lows.filter(started_at__isnull=False).exists(),
        timeout=READY_TIMEOUT,
        what="the default cluster's worker to be busy with a low job",
    )

    critical = sync("ok", JobPriority.CRITICAL)
    critical = wait_for(lambda: succeeded(critical), timeout=20, what="the critical job")

    started_first = lows.filter(started_at__lt=critical.started_at).count()
    assert started_first <= MAY_START_FIRST, (
        f"{started_first} of {LOW_JOBS} low jobs started before the critical one"
    )
    # django-q2 saves a task's result just after the task returns.
    task = wait_for(
        lambda: Task.objects.filter(id=critical.task_id).first(), timeout=10, what="its result"
    )
    assert task.cluster == CRITICAL_CLUSTER
