"""One request budget per GitHub credential, shared by every worker process.

The budget lives on the credential's row: the primary rate limit as the last
counted answer's `X-RateLimit-*` headers reported it, and a `blocked_until`
set by secondary rate limits. A lease on the same row lets one process at a
time send a request with the credential (GitHub asks clients not to send
requests for one user concurrently), so the budget read after taking the lease
is exact, never a stale guess from another worker.

Every write is one conditional UPDATE, so it holds across processes on SQLite
and PostgreSQL alike, and none of it runs inside the harness's page transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from ingestion.errors import WAIT_RATE_LIMIT, Deferred, TransientError
from sources.github.models import GitHubCredential

# A lease outlives the longest request it covers, so a holder that died frees it.
LEASE_MARGIN_SECONDS = 5.0
# How long a process waits for another to finish its request before giving up.
LEASE_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class RateObservation:
    """What one answer's headers said about the primary budget (None: not said)."""

    limit: int | None
    remaining: int | None
    used: int | None
    reset_at: dt.datetime | None

    @classmethod
    def from_headers(cls, headers: dict[str, Any]) -> RateObservation | None:
        lowered = {name.lower(): value for name, value in headers.items()}

        def number(name: str) -> int | None:
            try:
                # GitHub has been seen sending floats ("4999.0").
                return int(float(lowered[name]))
            except (KeyError, TypeError, ValueError):
                return None

        limit = number("x-ratelimit-limit")
        remaining = number("x-ratelimit-remaining")
        if limit is None and remaining is None:
            return None
        reset = number("x-ratelimit-reset")
        reset_at = dt.datetime.fromtimestamp(reset, dt.UTC) if reset is not None else None
        return cls(limit, remaining, number("x-ratelimit-used"), reset_at)

    def as_fields(self) -> dict[str, Any]:
        return {
            "rate_limit": self.limit,
            "rate_remaining": self.remaining,
            "rate_used": self.used,
            "rate_reset_at": self.reset_at,
        }


def reserve_of(limit: int) -> int:
    """Requests kept back from the primary budget (at least one, so 0 is never reached)."""
    return max(1, math.ceil(limit * settings.GITHUB_RATE_RESERVE))


def primary_wait(credential: GitHubCredential, now: dt.datetime) -> float | None:
    """Seconds until the reset when the budget is down to its reserve; None to go on.

    A limit of 0 (GitHub Enterprise with rate limiting off), an unknown budget or
    a reset time already past never make anyone wait: the next answer's
    headers tell the truth.
    """
    limit, remaining, reset_at = (
        credential.rate_limit,
        credential.rate_remaining,
        credential.rate_reset_at,
    )
    if not limit or remaining is None or reset_at is None or reset_at <= now:
        return None
    if remaining >= reserve_of(limit):
        return None
    return (reset_at - now).total_seconds() + 1.0


class Lease:
    """The right to send one request with a credential: `acquire()`, send, then `release()`
    (with what the answer said about the budget)."""

    def __init__(self, credential_pk: int, holder: str, ttl_seconds: float) -> None:
        self.credential_pk = credential_pk
        self.holder = holder
        self.ttl = dt.timedelta(seconds=ttl_seconds + LEASE_MARGIN_SECONDS)

    def acquire(self) -> GitHubCredential:
        """Take the lease (waiting for another holder) and return the row as it is now."""
        deadline = time.monotonic() + LEASE_WAIT_SECONDS
        pause = 0.005
        while True:
            now = timezone.now()
            taken = GitHubCredential.objects.filter(
                Q(lease_holder="") | Q(lease_holder=self.holder) | Q(lease_until__lt=now),
                pk=self.credential_pk,
            ).update(lease_holder=self.holder, lease_until=now + self.ttl)
            if taken:
                return GitHubCredential.objects.get(pk=self.credential_pk)
            if time.monotonic() > deadline:
                raise TransientError(
                    "Another worker has held the GitHub credential for "
                    f"{LEASE_WAIT_SECONDS:.0f} s; trying again later."
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def release(
        self,
        observation: RateObservation | None = None,
        *,
        counted: bool = False,
        not_modified: bool = False,
        blocked_until: dt.datetime | None = None,
    ) -> None:
        """Give the lease back, recording in the same UPDATE what the answer said."""
        changes: dict[str, Any] = {"lease_holder": "", "lease_until": None}
        if observation is not None:
            changes.update(observation.as_fields(), rate_seen_at=timezone.now())
        if counted:
            changes["requests_made"] = F("requests_made") + 1
        if not_modified:
            changes["not_modified"] = F("not_modified") + 1
        if blocked_until is not None:
            changes["blocked_until"] = blocked_until
        GitHubCredential.objects.filter(pk=self.credential_pk, lease_holder=self.holder).update(
            **changes
        )


def deferred_until_reset(credential: GitHubCredential, seconds: float) -> Deferred:
    reset = credential.rate_reset_at.isoformat() if credential.rate_reset_at else "the reset"
    return Deferred(
        seconds,
        WAIT_RATE_LIMIT,
        f"GitHub rate budget of {credential.label!r} is down to {credential.rate_remaining} "
        f"of {credential.rate_limit} (reserve {reserve_of(credential.rate_limit or 0)}); "
        f"the sync resumes at {reset}.",
    )
