"""Retries, the dead-letter queue and a killed worker, on a real `qcluster`, on both brokers."""

from __future__ import annotations

import datetime as dt
import signal

import pytest
import redis
from django.utils import timezone
from django_q.models import Failure

from ingestion.choices import JobStatus
from ingestion.jobs import enqueue_sync, requeue_stale_jobs
from ingestion.models import IngestionJob
from tests.ingestion import job_streams
from tests.ingestion.qcluster_helpers import django_process, shared_database, stop, wait_for
from tracking.models import Repository

pytestmark = pytest.mark.slow
# The test's own Redis database, so other suites on the same server are untouched.
REDIS_URL = "redis://127.0.0.1:6379/13"
# django-q2's scheduler looks at due Schedules about every 30 s.
SCHEDULER_ROUND = 40


@pytest.fixture(params=["orm", "redis"])
def broker(request) -> str:
    return request.param


@pytest.fixture
def cluster_env(broker, tmp_path, django_db_setup, django_db_blocker, monkeypatch, settings):
    """A shared database, and the environment a qcluster subprocess needs to use it."""
    state = tmp_path / "state"
    monkeypatch.setenv("JOBTEST_STATE_DIR", str(state))
    settings.INGEST_MAX_ATTEMPTS = 2
    env = {"JOBTEST_STATE_DIR": str(state), "INGEST_MAX_ATTEMPTS": "2", "INGEST_WORKERS": "2"}
    if broker == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()
        env["REDIS_URL"] = REDIS_URL
        _use_redis_here(monkeypatch)
    with django_db_blocker.unblock(), shared_database(tmp_path) as database_url:
        env["DATABASE_URL"] = database_url
        yield env


def _use_redis_here(monkeypatch) -> None:
    """Make this test process enqueue on Redis too, as the web process does with REDIS_URL."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)


@pytest.fixture
def start_cluster(cluster_env, tmp_path):
    processes = []

    def start():
        process = django_process(["qcluster"], cluster_env, tmp_path / "qcluster.log")
        processes.append(process)
        return process

    yield start
    for process in processes:
        stop(process)


def status_of(job) -> str:
    return IngestionJob.objects.values_list("status", flat=True).get(pk=job.pk)


def finished(job):
    status = status_of(job)
    return status if status not in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING) else ""


def test_the_cluster_retries_a_transient_failure_until_it_succeeds(start_cluster):
    job = enqueue_sync(job_streams.SOURCE, "repositories", scope="fail-1")
    start_cluster()

    outcome = wait_for(lambda: finished(job), timeout=SCHEDULER_ROUND + 20, what="the retry")

    job.refresh_from_db()
    assert outcome == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert Repository.objects.filter(source=job_streams.SOURCE).count() == 1


def test_the_cluster_sends_a_job_that_keeps_failing_to_the_dead_letter_queue(start_cluster):
    job = enqueue_sync(job_streams.SOURCE, "repositories", scope="fail-always")
    start_cluster()

    outcome = wait_for(lambda: finished(job), timeout=SCHEDULER_ROUND + 20, what="the DLQ")

    job.refresh_from_db()
    assert outcome == JobStatus.DEAD
    assert job.attempts == 2
    assert "503" in job.last_error
    assert job_streams.fetches("fail-always") == 2
    # Our task caught the error and scheduled its own retry: django-q2 saw no failure.
    assert not Failure.objects.exists()


def test_a_job_whose_cluster_is_killed_mid_run_completes_on_a_new_cluster(start_cluster):
    job = enqueue_sync(job_streams.SOURCE, "repositories", scope="slow-12")
    first = start_cluster()
    wait_for(
        lambda: IngestionJob.objects.filter(pk=job.pk, progress_done__gte=2).exists(),
        timeout=30,
        what="the job to commit two pages",
    )

    stop(first, signal.SIGKILL)
    assert status_of(job) == JobStatus.RUNNING
    wait_for(
        lambda: requeue_stale_jobs(older_than=dt.timedelta(seconds=2)),
        timeout=15,
        what="the sweeper to find the stale job",
    )
    start_cluster()

    outcome = wait_for(lambda: finished(job), timeout=30, what="the job on the new cluster")
    job.refresh_from_db()
    assert outcome == JobStatus.SUCCEEDED
    assert Repository.objects.filter(source=job_streams.SOURCE).count() == 12
    assert job.finished_at > timezone.now() - dt.timedelta(minutes=1)
