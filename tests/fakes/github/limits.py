"""GitHub's rate limits and conditional requests, per token, as GitHub documents them.

- Primary budget: `limit` requests per hour from a token's first request
  (X-RateLimit-* headers on every counted answer; 403 "API rate limit exceeded"
  once it is spent; full again after X-RateLimit-Reset).
- Conditional requests: a 200 GET carries `ETag: W/"<hash of the body>"`; the
  same request with a matching If-None-Match gets 304 and costs nothing.
- Secondary limits, on demand: the next N requests get 403 or 429 with Retry-After.
- Concurrency: the most requests one token had in flight at once.

https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.fakes.app import Request, Response

WINDOW_SECONDS = 3600
PRIMARY_DOCS = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)


@dataclass
class Budget:
    limit: int
    remaining: int
    reset_at: int  # epoch seconds, real wall clock

    def as_json(self) -> dict[str, int | str]:
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "reset": self.reset_at,
            "used": self.limit - self.remaining,
            "resource": "core",
        }


@dataclass
class SecondaryLimit:
    count: int
    retry_after: int | None
    status: int


def weak_etag(body: bytes) -> str:
    return f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/ prefixes do not matter; "*" matches all."""
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


class RateLimits:
    """Budgets and counters per token; every method is thread-safe."""

    def __init__(self, limit: int | None, user_id: int) -> None:
        # None: GitHub Enterprise with rate limiting disabled (no headers, never limited).
        self.limit = limit
        self.user_id = user_id
        self.budgets: dict[str, Budget] = {}
        self.counted_requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        # Raw header values sent as they are, over the computed ones (odd upstreams).
        self.headers_override: dict[str, str] = {}
        self.secondary: SecondaryLimit | None = None
        self._request_ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- configuration -----------------------------------------------------------------
    def set_budget(
        self,
        token: str,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset_at: int | None = None,
    ) -> Budget:
        with self._lock:
            budget = self.budgets.get(token)
            if budget is None:
                first = limit if limit is not None else (self.limit or 5000)
                budget = Budget(first, first, int(time.time()) + WINDOW_SECONDS)
                self.budgets[token] = budget
            if limit is not None:
                budget.limit = limit
                budget.remaining = min(budget.remaining, limit)
            if remaining is not None:
                budget.remaining = remaining
            if reset_at is not None:
                budget.reset_at = int(reset_at)
            return budget

    def set_secondary(self, count: int, retry_after: int | None, status: int) -> None:
        with self._lock:
            self.secondary = SecondaryLimit(count, retry_after, status) if count > 0 else None

    # --- per request -------------------------------------------------------------------
    @contextmanager
    def tracking(self, token: str) -> Iterator[None]:
        """Count the token's requests in flight for as long as one is being answered."""
        with self._lock:
            self.in_flight[token] += 1
            self.max_in_flight[token] = max(self.max_in_flight[token], self.in_flight[token])
        try:
            yield
        finally:
            with self._lock:
                self.in_flight[token] -= 1

    def counters(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                "counted_requests": dict(self.counted_requests),
                "not_modified": dict(self.not_modified),
                "max_in_flight": dict(self.max_in_flight),
            }

    def snapshot(self, token: str) -> Budget | None:
        """The token's budget as it stands (refilled if its window has passed); None: unlimited."""
        with self._lock:
            budget = self._current(token)
            return None if budget is None else Budget(**budget.__dict__)

    def serve(
        self, request: Request, token: str, produce: Callable[[], Response], *, counted: bool
    ) -> Response:
        """Answer one API request: limits first, then the handler, then ETag and headers."""
        request_id = f"FAKE:{next(self._request_ids):08X}"
        with self._lock:
            budget = self._current(token)
            secondary = self._take_secondary() if counted else None
            exhausted = counted and secondary is None and budget is not None
            exhausted = exhausted and budget.remaining <= 0
            # Reserve the request now so concurrent requests cannot overspend; a 304 refunds it.
            reserved = counted and secondary is None and not exhausted
            if reserved and budget is not None:
                budget.remaining -= 1
        if secondary is not None:
            response = self._secondary_response(secondary, request_id)
        elif exhausted:
            message = f"API rate limit exceeded for user ID {self.user_id}."
            payload = {"message": message, "documentation_url": PRIMARY_DOCS}
            response = Response.json(payload, status=403)
        else:
            response = produce()
            if request.method == "GET" and response.status == 200 and counted:
                response = self._conditional(request, response)
        with self._lock:
            if reserved and response.status == 304:
                self.not_modified[token] += 1
                if budget is not None:
                    budget.remaining += 1
            elif reserved:
                self.counted_requests[token] += 1
            response.headers.update(self._headers(budget, request_id))
        return response

    # --- helpers (called with the lock held) -----------------------------------------
    def _current(self, token: str) -> Budget | None:
        budget = self.budgets.get(token)
        if budget is None:
            if self.limit is None:
                return None
            budget = Budget(self.limit, self.limit, int(time.time()) + WINDOW_SECONDS)
            self.budgets[token] = budget
        if time.time() >= budget.reset_at:
            budget.remaining = budget.limit
            budget.reset_at = int(time.time()) + WINDOW_SECONDS
        return budget

    def _take_secondary(self) -> SecondaryLimit | None:
        secondary = self.secondary
        if secondary is None:
            return None
        secondary.count -= 1
        if secondary.count <= 0:
            self.secondary = None
        return secondary

    def _headers(self, budget: Budget | None, request_id: str) -> dict[str, str]:
        headers = {"X-GitHub-Request-Id": request_id}
        if budget is not None:
            headers.update(
                {
                    "X-RateLimit-Limit": str(budget.limit),
                    "X-RateLimit-Remaining": str(max(budget.remaining, 0)),
                    "X-RateLimit-Used": str(budget.limit - max(budget.remaining, 0)),
                    "X-RateLimit-Reset": str(budget.reset_at),
                    "X-RateLimit-Resource": "core",
                }
            )
        headers.update(self.headers_override)
        return headers

    @staticmethod
    def _secondary_response(secondary: SecondaryLimit, request_id: str) -> Response:
        payload = {
            "message": SECONDARY_MESSAGE.format(request_id=request_id),
            "documentation_url": SECONDARY_DOCS,
        }
        headers = {}
        if secondary.retry_after is not None:
            headers["Retry-After"] = str(secondary.retry_after)
        return Response.json(payload, status=secondary.status, headers=headers)

    @staticmethod
    def _conditional(request: Request, response: Response) -> Response:
        etag = weak_etag(response.body)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and etag_matches(if_none_match, etag):
            return Response(status=304, headers={"ETag": etag})
        response.headers["ETag"] = etag
        return response
