"""The pace of each Slack Web API method, shared by every worker process.

Slack limits requests "per API method per workspace per app". Since 2025-05-29
commercially distributed apps outside the Slack Marketplace get one
`conversations.history` and one `conversations.replies` request a minute (each
method its own); SLACK_REQUESTS_PER_MINUTE sets that pace (0 turns it off, for
Marketplace apps and apps built for their own workspace, which Slack leaves at
Tier 3, 50+ a minute). Every other method is sent at once, unless Slack
answered it 429: then nobody calls that method before its Retry-After passed.

The state is one `MethodPace` row per (token, method). A request is sent only
after `claim` won it with one conditional UPDATE ("last request long enough
ago, and not blocked"), so two workers, or a run resumed after a restart,
never send faster than the pace. The interval is read from the settings at
each claim, so a changed SLACK_REQUESTS_PER_MINUTE applies at once.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ingestion.errors import PermanentError
from sources.slack.models import MethodPace

# The methods the 2025 limit for non-Marketplace apps applies to.
PACED_METHODS = frozenset({"conversations.history", "conversations.replies"})


def interval_seconds(method: str) -> float:
    """Seconds between two requests of `method` (0: no pace of our own)."""
    if method not in PACED_METHODS:
        return 0.0
    per_minute = settings.SLACK_REQUESTS_PER_MINUTE
    if per_minute < 0:
        raise PermanentError(
            f"SLACK_REQUESTS_PER_MINUTE is {per_minute}: set a pace of 0 (off) or more, "
            "e.g. 1 for an app outside the Slack Marketplace."
        )
    return 60.0 / per_minute if per_minute > 0 else 0.0


def _row(fingerprint: str, method: str) -> QuerySet[MethodPace]:
    return MethodPace.objects.filter(fingerprint=fingerprint, method=method)


def claim(fingerprint: str, method: str) -> float:
    """Take the right to send one request of `method` now.

    Returns 0.0 when taken (the request may go), else the seconds until it may be
    asked again. Nothing is taken when a wait is returned.
    """
    interval = interval_seconds(method)
    if not interval:
        return blocked_for(fingerprint, method)
    for _ in range(3):
        now = timezone.now()
        rested = now - dt.timedelta(seconds=interval)
        free = Q(blocked_until__isnull=True) | Q(blocked_until__lte=now)
        free &= Q(last_request_at__isnull=True) | Q(last_request_at__lte=rested)
        if _row(fingerprint, method).filter(free).update(last_request_at=now):
            return 0.0
        state = _row(fingerprint, method).values_list("last_request_at", "blocked_until").first()
        if state is None:
            # First request of this method with this token: make its row, then claim.
            MethodPace.objects.get_or_create(fingerprint=fingerprint, method=method)
            continue
        if state == (None, None):
            # Another worker made the row after our UPDATE looked: it is free, claim again.
            continue
        return _wait(now, interval, *state)
    raise RuntimeError(f"the pace row of {method} vanished while claiming it")  # pragma: no cover


def blocked_for(fingerprint: str, method: str) -> float:
    """Seconds a method without a pace of its own must still wait (a 429's block); 0.0 if none."""
    blocked_until = _row(fingerprint, method).values_list("blocked_until", flat=True).first()
    if blocked_until is None:
        return 0.0
    return max(0.0, (blocked_until - timezone.now()).total_seconds())


def _wait(
    now: dt.datetime,
    interval: float,
    last_request_at: dt.datetime | None,
    blocked_until: dt.datetime | None,
) -> float:
    waits = [0.0]
    if interval and last_request_at is not None:
        waits.append((last_request_at - now).total_seconds() + interval)
    if blocked_until is not None:
        waits.append((blocked_until - now).total_seconds())
    # Never 0: the caller asks again, and another worker may have won meanwhile.
    return max(max(waits), 0.001)


def block(fingerprint: str, method: str, retry_after: float) -> dt.datetime:
    """Slack answered 429: keep every worker off `method` for `retry_after` seconds.

    A later block already recorded by another worker is kept. Returns the time the
    method may be called again.
    """
    until = timezone.now() + dt.timedelta(seconds=max(0.0, retry_after))
    MethodPace.objects.get_or_create(fingerprint=fingerprint, method=method)
    _row(fingerprint, method).filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lt=until)
    ).update(blocked_until=until)
    _row(fingerprint, method).update(
        rate_limited=F("rate_limited") + 1, last_retry_after=max(0, round(retry_after))
    )
    return until
