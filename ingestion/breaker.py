"""Circuit breakers per source and per upstream host, shared by all worker processes.

Keys are a source name ("github") or "host:<hostname>" ("host:api.github.com").
A breaker opens after INGEST_BREAKER_FAILURES consecutive failures, stays open
INGEST_BREAKER_COOLDOWN seconds, then lets exactly ONE trial through (half-open):
a success closes it, a failure opens it again for another cooldown.

The state lives in the database (`CircuitBreaker`), not in process memory, and
every transition is one conditional UPDATE, so it holds across worker processes
on SQLite and PostgreSQL alike:
- the failure counter is incremented with F() in the database, never read-modify-write;
- the half-open trial is claimed with compare-and-set on (state, opened_at,
  trial_claimed_at): of several workers asking at once, one UPDATE matches a row.

Callers: ask `breaker_allows(key)` before calling the upstream; if refused, defer
the job by the returned number of seconds (do not fail it). Report the outcome
with `record_success(key)` / `record_failure(key)`; only transient upstream
failures (5xx, timeouts, connection errors, 429) should count as failures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from ingestion.errors import WAIT_BREAKER, Deferred
from ingestion.models.breaker import BreakerState, CircuitBreaker

__all__ = [
    "BreakerSnapshot",
    "breaker_allows",
    "breaker_states",
    "host_key",
    "record_failure",
    "record_success",
]


def failure_threshold() -> int:
    return max(1, settings.INGEST_BREAKER_FAILURES)


def cooldown() -> dt.timedelta:
    return dt.timedelta(seconds=max(0, settings.INGEST_BREAKER_COOLDOWN))


def host_key(hostname: str) -> str:
    """The breaker key of an upstream host, e.g. host_key("api.github.com")."""
    return f"host:{hostname.lower()}"


def _seconds_left(since: dt.datetime, now: dt.datetime) -> float:
    return max(0.0, (since + cooldown() - now).total_seconds())


def breaker_allows(key: str) -> tuple[bool, float | None]:
    """May a call to `key` go through now? Returns (allowed, seconds to wait when refused).

    An open breaker whose cooldown has passed grants the single half-open trial to
    the first caller (compare-and-set); the others are refused until the trial
    reports, or until the trial is abandoned (no outcome within one cooldown).
    """
    breaker = CircuitBreaker.objects.filter(key=key).first()
    if breaker is None or breaker.state == BreakerState.CLOSED:
        return True, None
    now = timezone.now()
    if breaker.state == BreakerState.OPEN:
        if breaker.opened_at is not None:
            wait = _seconds_left(breaker.opened_at, now)
            if wait > 0:
                return False, wait
        claimed = CircuitBreaker.objects.filter(
            pk=breaker.pk, state=BreakerState.OPEN, opened_at=breaker.opened_at
        ).update(state=BreakerState.HALF_OPEN, trial_claimed_at=now)
        if claimed == 1:
            return True, None
        return False, cooldown().total_seconds()
    # Half-open: someone holds the trial. Re-claim it only if it was abandoned.
    claimed_at = breaker.trial_claimed_at
    if claimed_at is not None and _seconds_left(claimed_at, now) > 0:
        return False, _seconds_left(claimed_at, now)
    reclaimed = CircuitBreaker.objects.filter(
        pk=breaker.pk, state=BreakerState.HALF_OPEN, trial_claimed_at=claimed_at
    ).update(trial_claimed_at=now)
    if reclaimed == 1:
        return True, None
    return False, cooldown().total_seconds()


def defer_while_open(key: str, name: str = "") -> None:
    """Raise Deferred (not a failure) while the breaker of `key` is open; `name` (the
    host or source, as a person reads it) goes in the message."""
    allowed, wait = breaker_allows(key)
    if not allowed:
        raise Deferred(
            wait or 0.0,
            WAIT_BREAKER,
            f"Circuit breaker for {name or key} is open; trying again when it half-opens.",
        )


def record_success(key: str) -> None:
    """Close the breaker and reset its failure count.

    Writes only when there is something to reset, so the hot path of a healthy
    upstream (every page succeeds) costs one UPDATE matching no row.
    """
    CircuitBreaker.objects.filter(key=key).filter(
        Q(consecutive_failures__gt=0) | ~Q(state=BreakerState.CLOSED)
    ).update(
        state=BreakerState.CLOSED,
        consecutive_failures=0,
        opened_at=None,
        trial_claimed_at=None,
    )


def record_failure(key: str) -> None:
    """Count one failure; open the breaker at the threshold, re-open it after a failed trial.

    One UPDATE computes the new state from the row's current values in the
    database, so concurrent failures from several workers are all counted and
    the breaker opens exactly once.
    """
    _ensure_row(key)
    now = timezone.now()
    opens = Q(state=BreakerState.HALF_OPEN) | Q(
        state=BreakerState.CLOSED, consecutive_failures__gte=failure_threshold() - 1
    )
    CircuitBreaker.objects.filter(key=key).update(
        consecutive_failures=F("consecutive_failures") + 1,
        last_failure_at=now,
        state=Case(When(opens, then=Value(BreakerState.OPEN)), default=F("state")),
        opened_at=Case(When(opens, then=Value(now)), default=F("opened_at")),
        trial_claimed_at=Case(When(opens, then=Value(None)), default=F("trial_claimed_at")),
    )


def _ensure_row(key: str) -> None:
    if CircuitBreaker.objects.filter(key=key).exists():
        return
    try:
        # A savepoint, so losing the creation race does not break an outer transaction.
        with transaction.atomic():
            CircuitBreaker.objects.create(key=key)
    except IntegrityError:
        pass  # another worker created it first: exactly what we wanted


@dataclass(frozen=True)
class BreakerSnapshot:
    """A breaker as health, metrics and the admin show it."""

    key: str
    state: str
    consecutive_failures: int
    opened_at: dt.datetime | None
    # Seconds until an open breaker lets its trial through (None unless open).
    seconds_until_half_open: float | None


def snapshot(breaker: CircuitBreaker, now: dt.datetime | None = None) -> BreakerSnapshot:
    """The breaker's state as seen now: an open breaker past its cooldown shows as half-open,
    since the next caller will get the trial."""
    now = now or timezone.now()
    state = breaker.state
    wait = None
    if state == BreakerState.OPEN and breaker.opened_at is not None:
        wait = _seconds_left(breaker.opened_at, now)
        if wait == 0:
            state, wait = BreakerState.HALF_OPEN, None
    return BreakerSnapshot(
        key=breaker.key,
        state=str(state),
        consecutive_failures=breaker.consecutive_failures,
        opened_at=breaker.opened_at,
        seconds_until_half_open=wait,
    )


def breaker_states(keys: list[str] | None = None) -> list[BreakerSnapshot]:
    """Every breaker known to the database, plus `keys` (shown closed when never used)."""
    now = timezone.now()
    known = {breaker.key: snapshot(breaker, now) for breaker in CircuitBreaker.objects.all()}
    for key in keys or []:
        known.setdefault(
            key,
            BreakerSnapshot(
                key=key,
                state=str(BreakerState.CLOSED),
                consecutive_failures=0,
                opened_at=None,
                seconds_until_half_open=None,
            ),
        )
    return [known[key] for key in sorted(known)]
