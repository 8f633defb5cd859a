"""Pipeline figures for `/api/pipeline/stats`, `/api/metrics` (JSON) and `/metrics` (Prometheus).

Every figure is read from the database when asked, never from counters kept in
process memory: jobs run in several django-q2 worker processes (and web
processes serve the scrapes), so a per-process counter would show only the
share of whichever process answered. Reading the tables at scrape time is
correct with any number of processes, needs no prometheus_client multiprocess
directory, and survives restarts.

Cost stays flat as data grows (no full-table COUNT on a request path):
- jobs are grouped by status over the job table, which the daily cleanup keeps
  to INGEST_JOB_RETENTION_DAYS of finished jobs (status is indexed);
- job durations read only jobs finished in the last 24 h (finished_at is indexed);
- runs are read per registered stream over the last 24 h, through the
  (source, entity, started_at) index;
- record counts come from the counts stored on each run, never from the
  normalized tables.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ingestion.breaker import breaker_states
from ingestion.choices import JobStatus, RunStatus
from ingestion.jobs import is_paused
from ingestion.models import IngestionJob, SyncRun, WebhookDelivery, WebhookRefusal
from ingestion.redaction import redact
from ingestion.streams import all_streams

WINDOW = dt.timedelta(hours=24)
RECORD_OUTCOMES = ("fetched", "created", "updated", "unchanged", "rejected")
BREAKER_STATES = ("closed", "open", "half_open")


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p95: fraction=0.95); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def jobs_by_status() -> dict[str, int]:
    counts = dict.fromkeys(JobStatus.values, 0)
    rows = IngestionJob.objects.order_by().values_list("status").annotate(total=Count("id"))
    for status, total in rows:
        counts[status] = total
    return counts


def job_outcomes(since: dt.datetime) -> dict[str, Any]:
    """Success rate and durations of the jobs that finished since `since`."""
    finished = IngestionJob.objects.filter(finished_at__gte=since).order_by()
    outcomes = finished.aggregate(
        succeeded=Count("id", filter=Q(status=JobStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status__in=[JobStatus.FAILED, JobStatus.DEAD])),
    )
    concluded = outcomes["succeeded"] + outcomes["failed"]
    durations = [
        duration
        for duration in finished.values_list("duration_seconds", flat=True)
        if duration is not None
    ]
    return {
        "succeeded": outcomes["succeeded"],
        "failed": outcomes["failed"],
        "success_rate": outcomes["succeeded"] / concluded if concluded else None,
        "mean_duration_seconds": sum(durations) / len(durations) if durations else None,
        "p95_duration_seconds": percentile(durations, 0.95),
    }


def stream_names() -> list[tuple[str, str]]:
    return [(stream.source, stream.entity) for stream in all_streams()]


def _runs_of(source: str, entity: str) -> QuerySet[SyncRun]:
    # Served by the ingestion_run_stream index (source, entity, started_at).
    return SyncRun.objects.filter(source=source, entity=entity)


def stream_window(source: str, entity: str, since: dt.datetime) -> dict[str, Any]:
    """Runs and record counts of one stream since `since`, summed from its runs."""
    runs = _runs_of(source, entity).filter(started_at__gte=since).order_by()
    sums = runs.aggregate(
        runs=Count("id"),
        succeeded=Count("id", filter=Q(status=RunStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status=RunStatus.FAILED)),
        mean_duration_seconds=Avg("duration_seconds"),
        **{outcome: Sum(outcome) for outcome in RECORD_OUTCOMES},
    )
    return {
        "runs": sums["runs"],
        "succeeded": sums["succeeded"],
        "failed": sums["failed"],
        "mean_duration_seconds": sums["mean_duration_seconds"],
        "records": {outcome: sums[outcome] or 0 for outcome in RECORD_OUTCOMES},
    }


def run_summary(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "scope": run.scope,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": run.duration_seconds,
        **{outcome: getattr(run, outcome) for outcome in RECORD_OUTCOMES},
        "pages": run.pages,
        "requests": run.requests,
        "retries": run.retries,
        "counts_mismatch": run.counts_mismatch,
        # Stored errors should already be redacted; redacting again costs little.
        "error": redact(run.error),
        "job_id": run.job_id,
    }


def stream_metrics(now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per registered stream: last run (outcome, counts, latency), last success, 24 h totals."""
    now = now or timezone.now()
    metrics = []
    for source, entity in stream_names():
        runs = _runs_of(source, entity).order_by("-started_at", "-id")
        last_run = runs.first()
        last_success = runs.filter(status=RunStatus.SUCCEEDED).first()
        success_at = last_success.finished_at if last_success else None
        metrics.append(
            {
                "source": source,
                "entity": entity,
                "last_run": run_summary(last_run) if last_run else None,
                "last_success_at": success_at,
                # Freshness: how old the newest successfully synced data is.
                "seconds_since_success": (now - success_at).total_seconds() if success_at else None,
                "last_24h": stream_window(source, entity, now - WINDOW),
            }
        )
    return metrics


def pipeline_stats(now: dt.datetime | None = None) -> dict[str, Any]:
    """What `/api/pipeline/stats` shows."""
    now = now or timezone.now()
    since = now - WINDOW
    records = []
    for source, entity in stream_names():
        window = stream_window(source, entity, since)
        records.append({"source": source, "entity": entity, **window["records"]})
    return {
        "window_hours": WINDOW.total_seconds() / 3600,
        "jobs_by_status": jobs_by_status(),
        "last_24h": job_outcomes(since),
        "records_last_24h": records,
    }


class PipelineCollector(Collector):
    """Prometheus metrics read from the database at each scrape (see the module docstring)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from self._jobs()
        yield from self._streams(now)
        yield from self._breakers()
        yield from self._webhooks()
        yield GaugeMetricFamily(
            "hub_ingestion_paused", "1 while the pipeline is paused.", value=int(is_paused())
        )

    def _jobs(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "hub_ingestion_jobs", "Ingestion jobs by status (kept ones).", labels=["status"]
        )
        for status, total in jobs_by_status().items():
            jobs.add_metric([status], total)
        yield jobs

    def _streams(self, now: dt.datetime) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "hub_ingestion_runs_last_24h",
            "Sync runs started in the last 24 h.",
            labels=["source", "entity", "status"],
        )
        records = GaugeMetricFamily(
            "hub_ingestion_records_last_24h",
            "Records of the sync runs started in the last 24 h, by outcome.",
            labels=["source", "entity", "outcome"],
        )
        mean_duration = GaugeMetricFamily(
            "hub_ingestion_run_duration_seconds_mean_last_24h",
            "Mean duration of the sync runs started in the last 24 h.",
            labels=["source", "entity"],
        )
        last_duration = GaugeMetricFamily(
            "hub_ingestion_last_run_duration_seconds",
            "Duration of the latest sync run.",
            labels=["source", "entity"],
        )
        last_success = GaugeMetricFamily(
            "hub_ingestion_last_success_timestamp_seconds",
            "When the latest successful sync run finished (Unix time).",
            labels=["source", "entity"],
        )
        for stream in stream_metrics(now):
            labels = [stream["source"], stream["entity"]]
            window = stream["last_24h"]
            runs.add_metric([*labels, "succeeded"], window["succeeded"])
            runs.add_metric([*labels, "failed"], window["failed"])
            runs.add_metric([*labels, "all"], window["runs"])
            for outcome, total in window["records"].items():
                records.add_metric([*labels, outcome], total)
            if window["mean_duration_seconds"] is not None:
                mean_duration.add_metric(labels, window["mean_duration_seconds"])
            last_run = stream["last_run"]
            if last_run and last_run["duration_seconds"] is not None:
                last_duration.add_metric(labels, last_run["duration_seconds"])
            if stream["last_success_at"] is not None:
                last_success.add_metric(labels, stream["last_success_at"].timestamp())
        yield from (runs, records, mean_duration, last_duration, last_success)

    def _breakers(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "hub_ingestion_breaker_state",
            "Circuit breaker state per source or host: 1 for the current state.",
            labels=["key", "state"],
        )
        failures = GaugeMetricFamily(
            "hub_ingestion_breaker_consecutive_failures",
            "Consecutive failures counted by the breaker.",
            labels=["key"],
        )
        sources = sorted({source for source, _ in stream_names()})
        for breaker in breaker_states(sources):
            for name in BREAKER_STATES:
                state.add_metric([breaker.key, name], int(breaker.state == name))
            failures.add_metric([breaker.key], breaker.consecutive_failures)
        yield state
        yield failures

    def _webhooks(self) -> Iterator[Metric]:
        deliveries = GaugeMetricFamily(
            "hub_webhook_deliveries",
            "Webhook deliveries kept (WEBHOOK_RETENTION_DAYS), by source and status.",
            labels=["source", "status"],
        )
        for source, status, total in webhook_deliveries_by_status():
            deliveries.add_metric([source, status], total)
        refused = CounterMetricFamily(
            "hub_webhook_refused",
            "Webhook requests refused (bad signature, too large, not JSON…).",
            labels=["source", "reason"],
        )
        for source, reason, total in WebhookRefusal.objects.values_list(
            "source", "reason", "count"
        ):
            refused.add_metric([source, reason], total)
        yield deliveries
        yield refused


def webhook_deliveries_by_status() -> list[tuple[str, str, int]]:
    # Grouped over the (status, id) index; the cleanup job bounds the table.
    return list(
        WebhookDelivery.objects.order_by()
        .values_list("source", "status")
        .annotate(total=Count("id"))
        .values_list("source", "status", "total")
    )


def prometheus_registry() -> CollectorRegistry:
    """A registry holding only the database-backed collector (no per-process metrics,
    which would differ depending on which web process answered the scrape)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector())
    return registry
