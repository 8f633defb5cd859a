"""Pipeline figures: /api/pipeline/stats, /api/metrics (JSON) and /metrics (Prometheus)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ingestion.breaker import record_failure
from ingestion.choices import JobKind, JobStatus, RunStatus
from ingestion.models import IngestionJob, SyncRun
from tests.ingestion.memory_streams import SOURCE  # registers test/repositories, test/commits

pytestmark = pytest.mark.django_db


def make_run(entity: str = "commits", *, hours_ago: float = 1, **fields) -> SyncRun:
    started = timezone.now() - dt.timedelta(hours=hours_ago)
    defaults = {
        "source": SOURCE,
        "entity": entity,
        "status": RunStatus.SUCCEEDED,
        "started_at": started,
        "finished_at": started + dt.timedelta(seconds=fields.get("duration_seconds") or 0),
    }
    return SyncRun.objects.create(**{**defaults, **fields})


def make_job(status: str, duration: float | None = None, **fields) -> IngestionJob:
    finished = timezone.now() if status in ("succeeded", "failed", "dead") else None
    return IngestionJob.objects.create(
        kind=JobKind.SYNC,
        source=SOURCE,
        entity="commits",
        status=status,
        finished_at=finished,
        duration_seconds=duration,
        **fields,
    )


def prometheus_samples(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


# --- /api/pipeline/stats ---------------------------------------------------------------


def test_stats_count_jobs_by_status(plain_client):
    make_job(JobStatus.QUEUED)
    make_job(JobStatus.QUEUED)
    make_job(JobStatus.DEAD)

    stats = plain_client.get("/api/pipeline/stats").json()

    assert stats["jobs_by_status"]["queued"] == 2
    assert stats["jobs_by_status"]["dead"] == 1
    assert stats["jobs_by_status"]["running"] == 0


def test_stats_give_success_rate_mean_and_p95_duration_of_the_last_24h(plain_client):
    for duration in range(1, 20):  # 19 successes of 1..19 s
        make_job(JobStatus.SUCCEEDED, duration=float(duration))
    make_job(JobStatus.FAILED, duration=100.0)
    old = make_job(JobStatus.FAILED, duration=1000.0)
    IngestionJob.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - dt.timedelta(hours=25)
    )

    window = plain_client.get("/api/pipeline/stats").json()["last_24h"]

    assert window["succeeded"] == 19
    assert window["failed"] == 1
    assert window["success_rate"] == pytest.approx(0.95)
    assert window["mean_duration_seconds"] == pytest.approx((190 + 100) / 20)
    assert window["p95_duration_seconds"] == 19.0


def test_stats_success_rate_is_null_with_no_finished_job(plain_client):
    assert plain_client.get("/api/pipeline/stats").json()["last_24h"]["success_rate"] is None


def test_stats_sum_records_per_stream_over_24h_from_runs(plain_client):
    make_run(fetched=10, created=6, updated=2, unchanged=1, rejected=1)
    make_run(fetched=5, created=5)
    make_run(hours_ago=30, fetched=1000, created=1000)

    stats = plain_client.get("/api/pipeline/stats").json()

    [commits] = [
        r for r in stats["records_last_24h"] if (r["source"], r["entity"]) == (SOURCE, "commits")
    ]
    assert (commits["fetched"], commits["created"], commits["updated"]) == (15, 11, 2)
    assert (commits["unchanged"], commits["rejected"]) == (1, 1)


def test_stats_say_whether_the_pipeline_is_paused(staff_client):
    staff_client.post("/api/pipeline/pause")

    assert staff_client.get("/api/pipeline/stats").json()["paused"] is True


def test_stats_need_a_signed_in_user(client):
    assert client.get("/api/pipeline/stats").status_code == 403


# --- /api/metrics ----------------------------------------------------------------------


def test_json_metrics_show_each_streams_last_run_outcome_counts_and_latency(plain_client):
    make_run(hours_ago=3, duration_seconds=4.0, created=3, fetched=3)
    make_run(
        hours_ago=1,
        status=RunStatus.FAILED,
        duration_seconds=2.5,
        fetched=7,
        created=7,
        error="upstream answered 503",
    )

    streams = plain_client.get("/api/metrics").json()["streams"]

    [commits] = [s for s in streams if (s["source"], s["entity"]) == (SOURCE, "commits")]
    assert commits["last_run"]["status"] == "failed"
    assert commits["last_run"]["duration_seconds"] == 2.5
    assert commits["last_run"]["created"] == 7
    assert commits["last_run"]["error"] == "upstream answered 503"
    assert commits["last_success_at"] is not None
    assert 3 * 3600 - 60 < commits["seconds_since_success"] < 3 * 3600 + 60
    assert commits["last_24h"]["runs"] == 2
    assert commits["last_24h"]["failed"] == 1


def test_json_metrics_show_a_stream_never_run(plain_client):
    streams = plain_client.get("/api/metrics").json()["streams"]

    # Other test modules register streams too: pick this module's by its full name.
    [repositories] = [s for s in streams if (s["source"], s["entity"]) == ("test", "repositories")]
    assert repositories["last_run"] is None
    assert repositories["last_24h"]["runs"] == 0


def test_json_metrics_need_a_signed_in_user(client):
    assert client.get("/api/metrics").status_code == 403


# --- /metrics (Prometheus) ---------------------------------------------------------------


def test_prometheus_exposes_jobs_by_status_without_a_session(client):
    make_job(JobStatus.DEAD)
    make_job(JobStatus.DEAD)

    samples = prometheus_samples(client)

    assert samples[("hub_ingestion_jobs", frozenset({("status", "dead")}))] == 2
    assert samples[("hub_ingestion_jobs", frozenset({("status", "queued")}))] == 0


def test_prometheus_exposes_runs_and_records_by_stream_and_outcome(client):
    make_run(fetched=4, created=3, rejected=1)
    make_run(status=RunStatus.FAILED)

    samples = prometheus_samples(client)

    labels = {("source", SOURCE), ("entity", "commits")}
    runs = "hub_ingestion_runs_last_24h"
    assert samples[(runs, frozenset({*labels, ("status", "succeeded")}))] == 1
    assert samples[(runs, frozenset({*labels, ("status", "failed")}))] == 1
    records = "hub_ingestion_records_last_24h"
    assert samples[(records, frozenset({*labels, ("outcome", "created")}))] == 3
    assert samples[(records, frozenset({*labels, ("outcome", "rejected")}))] == 1


def test_prometheus_exposes_the_last_run_duration(client):
    make_run(duration_seconds=12.5)

    samples = prometheus_samples(client)

    labels = frozenset({("source", SOURCE), ("entity", "commits")})
    assert samples[("hub_ingestion_last_run_duration_seconds", labels)] == 12.5


def test_prometheus_shows_an_open_breaker(client, settings):
    settings.INGEST_BREAKER_FAILURES = 5
    for _ in range(5):
        record_failure(SOURCE)

    samples = prometheus_samples(client)

    state = "hub_ingestion_breaker_state"
    assert samples[(state, frozenset({("key", SOURCE), ("state", "open")}))] == 1
    assert samples[(state, frozenset({("key", SOURCE), ("state", "closed")}))] == 0
    failures = "hub_ingestion_breaker_consecutive_failures"
    assert samples[(failures, frozenset({("key", SOURCE)}))] == 5


def test_prometheus_figures_are_read_from_the_database_at_each_scrape(client):
    # Another process (a worker) records through the database only; the scrape,
    # served by this process, must see it without any in-process counter.
    before = prometheus_samples(client)[("hub_ingestion_jobs", frozenset({("status", "dead")}))]
    make_job(JobStatus.DEAD)

    after = prometheus_samples(client)[("hub_ingestion_jobs", frozenset({("status", "dead")}))]

    assert (before, after) == (0, 1)


def test_prometheus_shows_no_error_text(client):
    make_run(status=RunStatus.FAILED, error="boom: secret-looking detail")

    assert b"secret-looking" not in client.get("/metrics").content
