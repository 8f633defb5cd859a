"""How long to wait before the next attempt: exponential backoff with jitter.

Pure functions, no database: the job runner stores the result in
`IngestionJob.next_attempt_at` and the sweeper enqueues the job when it is due.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Mapping
from typing import Any

BASE_SECONDS = 2.0
# An hour: longer waits are better served by the breaker and the daily schedule.
MAX_SECONDS = 3600.0


def backoff_seconds(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = BASE_SECONDS,
    cap: float = MAX_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 for the first failure).

    The nominal wait doubles per attempt (2, 4, 8 … with base 2) up to `cap`; jitter
    adds up to half of it again, so workers that failed together do not retry in
    lockstep, but never waits less than the nominal value. The upstream's own
    `Retry-After` is a floor: we never come back sooner than it asked, even above
    the cap (it knows its rate limit better than we do).
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    nominal = min(cap, base * 2 ** (attempt - 1))
    jitter = (rng or random).uniform(0, nominal / 2)
    wait = min(cap, nominal + jitter)
    if retry_after is not None and retry_after > wait:
        return float(retry_after)
    return wait


def retry_after_seconds(headers: Mapping[str, Any] | None) -> float | None:
    """The `Retry-After` of an answer's headers in seconds, or None when absent or unreadable.

    Reads delay-seconds and the HTTP-date form, with the header name in any case and
    the value alone or as a one-item list (as clients hand headers over).
    """
    value: Any = None
    for name, header in (headers or {}).items():
        if str(name).lower() == "retry-after":
            value = header[0] if isinstance(header, list | tuple) and header else header
            break
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds())
