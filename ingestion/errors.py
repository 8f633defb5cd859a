"""The two kinds of failure the pipeline knows, and what it does with each.

Sources raise these (wrapping their client library's exceptions); the harness
and the job runner decide retry or fail from the kind alone.
"""

from __future__ import annotations


class IngestionError(Exception):
    """Base class. Messages must never contain a token or secret."""


class TransientError(IngestionError):
    """Worth retrying with backoff: connection errors, timeouts, 5xx, 429, secondary limits.

    `retry_after` (seconds) is the upstream's own Retry-After when it sent one; the
    pipeline waits at least that long.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(IngestionError):
    """Retrying will not help: bad credentials, a scope that is gone, invalid input.

    The message says what to fix (which credential, which scope).
    """


class RecordRejected(IngestionError):
    """One raw record cannot be normalized; the run goes on without it."""


# Why a deferred job waits (IngestionJob.waiting_for).
WAIT_BREAKER = "breaker"
WAIT_RATE_LIMIT = "rate_limit"


class Deferred(IngestionError):
    """Not a failure: come back in `seconds` (a rate budget spent until its reset, an
    open circuit breaker, a paused pipeline).

    The harness stops the run at its last checkpoint; the job layer reschedules
    the job without counting an attempt. `reason` names the wait ("rate_limit").
    """

    def __init__(self, seconds: float, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.seconds = max(0.0, seconds)
        self.reason = reason
