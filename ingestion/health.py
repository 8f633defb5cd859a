"""Health checks of the pipeline: database, broker, worker heartbeat, breakers.

Only the database and the broker decide "down" (HTTP 503): without them no job
can be queued or run. An open breaker (an upstream is failing) or a worker not
seen lately make the hub "degraded" but still 200, because the hub itself
serves requests and a load balancer must not take it out of rotation for an
upstream's outage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Max
from django.utils import timezone
from django_q.models import OrmQ
from django_q.status import Stat

from ingestion.breaker import breaker_states
from ingestion.choices import JobStatus
from ingestion.models import IngestionJob
from ingestion.redaction import redact
from ingestion.streams import all_streams

OK = "ok"
DOWN = "down"
DEGRADED = "degraded"
UNKNOWN = "unknown"
STALE = "stale"
SKIPPED = "skipped"

# A running job whose heartbeat is older than this has probably lost its worker.
WORKER_STALE_AFTER = dt.timedelta(minutes=2)
BROKER_TIMEOUT_SECONDS = 2.0


@dataclass
class Check:
    status: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, **self.detail}


def _failure(error: Exception) -> dict[str, Any]:
    # The message of a driver error names host and port, never a password, but
    # it goes through redact() like everything we return.
    return {"error": f"{type(error).__name__}: {redact(str(error)).strip()}"}


def check_database(alias: str = "default") -> Check:
    """SELECT 1 on the project database."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return Check(DOWN, _failure(error))
    return Check(OK, {"vendor": connections[alias].vendor})


def check_broker() -> Check:
    """Redis: PING the broker's server. ORM: read the queue table on its database alias."""
    cluster = settings.Q_CLUSTER
    if cluster.get("redis"):
        return _check_redis(cluster["redis"])
    return _check_orm_queue(cluster["orm"])


def _check_redis(url: str | dict) -> Check:
    options = {
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
    }
    client = (
        redis.Redis.from_url(url, **options)
        if isinstance(url, str)
        else redis.Redis(**{**url, **options})
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return Check(DOWN, {"kind": "redis", **_failure(error)})
    finally:
        client.close()
    return Check(OK, {"kind": "redis"})


def _check_orm_queue(alias: str) -> Check:
    try:
        queued = OrmQ.objects.using(alias).only("id")[:1]
        list(queued)
    except DatabaseError as error:
        return Check(DOWN, {"kind": "orm", **_failure(error)})
    return Check(OK, {"kind": "orm"})


def _cluster_stats() -> list[dict[str, Any]]:
    """Live django-q2 clusters from their own status reports.

    Clusters save a Stat every few seconds (with a 3 s expiry) in the broker's
    store: Redis for the Redis broker, the Django cache for the ORM broker (a cache
    every process sees: settings.CACHES). When none reported lately this is empty
    and the job heartbeats decide.
    """
    try:
        stats = Stat.get_all()
    except (redis.RedisError, OSError, DatabaseError):
        return []
    return [
        {
            "cluster_id": str(stat.cluster_id),
            "host": stat.host,
            "status": stat.status,
            "workers": len(stat.workers),
            "seen_at": stat.timestamp.isoformat() if stat.timestamp else None,
        }
        for stat in stats
    ]


def check_worker() -> Check:
    """Is a worker alive? Evidence, best first: cluster status reports, the heartbeat of
    running jobs, the last finished job.

    We combine both because neither works alone on both brokers: cluster stats are
    invisible to the web process on the ORM broker with a per-process cache, and
    job heartbeats exist only while a job runs. An idle worker with no visible
    cluster stats is "unknown", not "down".
    """
    now = timezone.now()
    clusters = _cluster_stats()
    running = IngestionJob.objects.filter(status=JobStatus.RUNNING)  # indexed on status
    newest_heartbeat = running.aggregate(newest=Max("heartbeat_at"))["newest"]
    # finished_at is indexed (ingestion_job_finished): MAX reads one index entry.
    last_finished = IngestionJob.objects.aggregate(newest=Max("finished_at"))["newest"]
    detail = {
        "clusters": clusters,
        "running_jobs_heartbeat_at": newest_heartbeat.isoformat() if newest_heartbeat else None,
        "last_job_finished_at": last_finished.isoformat() if last_finished else None,
    }
    if clusters or (newest_heartbeat and now - newest_heartbeat <= WORKER_STALE_AFTER):
        return Check(OK, detail)
    if newest_heartbeat is not None or running.exists():
        return Check(STALE, detail)
    return Check(UNKNOWN, detail)


def check_breakers() -> Check:
    """Each source's breaker (and each host breaker that has ever tripped)."""
    sources = sorted({stream.source for stream in all_streams()})
    breakers = [asdict(state) for state in breaker_states(sources)]
    for breaker in breakers:
        if breaker["opened_at"] is not None:
            breaker["opened_at"] = breaker["opened_at"].isoformat()
    any_open = any(breaker["state"] != "closed" for breaker in breakers)
    return Check(DEGRADED if any_open else OK, {"breakers": breakers})


# Checks a source adds (its credentials, say), by name; each reads the database.
_source_checks: dict[str, Callable[[], Check]] = {}


def register_check(name: str) -> Callable[[Callable[[], Check]], Callable[[], Check]]:
    """Decorator: a source's own health check, e.g. `@register_check("github_credentials")`.

    Such a check can make the hub "degraded" (a broken token), never "down".
    """

    def decorator(check: Callable[[], Check]) -> Callable[[], Check]:
        _source_checks[name] = check
        return check

    return decorator


def run_checks() -> tuple[bool, dict[str, Any]]:
    """(healthy, report). Healthy means database and broker are up."""
    database = check_database()
    broker = check_broker()
    checks: dict[str, Check] = {"database": database, "broker": broker}
    if database.status == OK:
        checks["worker"] = check_worker()
        checks["breakers"] = check_breakers()
        for name, check in sorted(_source_checks.items()):
            checks[name] = check()
    else:
        # They all read the database: reporting them as failing would hide the cause.
        for name in ["worker", "breakers", *sorted(_source_checks)]:
            checks[name] = Check(SKIPPED, {"reason": "database is down"})
    healthy = database.status == OK and broker.status == OK
    if not healthy:
        overall = DOWN
    elif any(check.status not in (OK, UNKNOWN) for check in checks.values()):
        overall = DEGRADED
    else:
        overall = OK
    return healthy, {
        "status": overall,
        "checks": {name: check.as_dict() for name, check in checks.items()},
    }
