"""One fetch's requests to Slack: paced, retried, and gathered into the harness's pages.

The harness commits a page (its rows and the cursor after it) before it asks
for the next one. A `Reader` gathers what several requests returned into one
page, up to PAGE_RECORDS records, and hands over what it holds before any
wait and before any error: so when the pace allows one request a minute and
the run stops (Deferred) to come back later, or a request fails for good,
everything fetched so far is committed with the cursor that follows it, and
nothing committed is ever asked for again.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ingestion.backoff import backoff_seconds
from ingestion.errors import IngestionError, TransientError
from ingestion.streams import FetchContext, Page
from sources.slack import pace
from sources.slack.client import SlackClient

# Records per harness page (its transaction), as the harness's own batches.
PAGE_RECORDS = 1000
# Retries of a request that failed in a way worth retrying (5xx, a reset, a 429).
RETRIES = 3
RETRY_BACKOFF_SECONDS = 0.25
# Worker threads for prefetched requests (thread replies, with the pace off): slack-sdk's
# urllib opens a connection per request, so overlapping requests hides their latency.
IN_FLIGHT = 4
# Longer waits are not slept in a worker: the run stops at its checkpoint and the
# job layer brings it back when the wait is over, without spending an attempt.
MAX_INLINE_WAIT_SECONDS = 5.0

Cursor = dict[str, Any] | None
Calls = Generator[Page, None, dict[str, Any]]


class Reader:
    """Sends one fetch's requests and gathers their records into pages."""

    def __init__(self, client: SlackClient, context: FetchContext) -> None:
        self.client = client
        self.context = context
        self.records: list[dict[str, Any]] = []
        # Requests made since the last page was handed over.
        self.requests = 0
        self.pool: ThreadPoolExecutor | None = None
        self.in_flight: dict[tuple[str, tuple[tuple[str, str], ...]], Future[Any]] = {}

    def call(self, method: str, params: dict[str, Any], resume: Cursor) -> Calls:
        """One request of `method` (`data = yield from reader.call(...)`): claimed from the
        pace (or prefetched), retried; yields a page of what is held before any wait or error.

        `resume` is where the sync resumes should it stop during this call: the
        stream's position before the request.
        """
        failures = 0
        prefetched = self.in_flight.pop(_key(method, params), None)
        while True:
            if prefetched is None:
                wait = self.client.claim(method)
                if wait > 0:
                    yield from self.hand_over(resume)
                    if wait > MAX_INLINE_WAIT_SECONDS:
                        raise self.client.deferred(method, wait)
                    time.sleep(wait)
                    continue
            self.requests += 1
            try:
                if prefetched is not None:
                    future, prefetched = prefetched, None
                    return self.client.interpret(method, future.result())
                return self.client.send(method, params)
            except TransientError as failure:
                failures += 1
                if failures <= RETRIES:
                    self.context.retries += 1
                    if failure.retry_after is None:
                        time.sleep(backoff_seconds(failures, base=RETRY_BACKOFF_SECONDS))
                    # A 429's wait is on the shared pace: the next claim waits it out.
                    continue
                if failure.retry_after is None:
                    self.client.record_failure()
                yield from self.hand_over(resume)
                raise
            except IngestionError:
                yield from self.hand_over(resume)
                raise

    def can_overlap(self, method: str) -> bool:
        """Whether requests of `method` may be in flight together: only without a pace."""
        return not pace.interval_seconds(method)

    def prefetch(self, method: str, upcoming: list[dict[str, Any]]) -> None:
        """Start the HTTP exchanges of requests the stream will `call` soon, in worker threads,
        so they overlap with each other and with the harness's work on the pages.

        Only for a method without a pace, and not while it is blocked. A prefetched answer
        is used (interpreted, retried, counted) by the `call` with the same parameters;
        one never called for (the run stopped first) cost a request, nothing else.
        """
        if not upcoming or self.client.claim(method) > 0:
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="slack")
        for params in upcoming:
            key = _key(method, params)
            if key not in self.in_flight:
                self.in_flight[key] = self.pool.submit(self.client.exchange, method, params)

    def close(self) -> None:
        """Stop the worker threads; prefetches never called for are dropped."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self.in_flight.clear()

    def add(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    @property
    def full(self) -> bool:
        return len(self.records) >= PAGE_RECORDS

    def hand_over(self, resume: Cursor) -> Generator[Page, None, None]:
        """Before a wait or an error: yield what is held as a page ending at `resume`, if any
        request was made since the last page (one that brought no record still moved the
        position). Never a last page: a position of None (the start) is handed over as {},
        since a page without a next cursor would end the run as if it had succeeded."""
        if self.records or self.requests:
            yield self.page({} if resume is None else resume)

    def finish(self) -> Generator[Page, None, None]:
        """The last page: what is still held, with no next cursor (the run is complete)."""
        if self.records or self.requests:
            yield self.page(None)

    def page(self, cursor: Cursor) -> Page:
        # A copy: the stream goes on changing its position after the page is handed over.
        page = Page(records=self.records, next_cursor=copy.deepcopy(cursor), requests=self.requests)
        self.records, self.requests = [], 0
        return page


def _key(method: str, params: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return method, tuple(sorted((name, str(value)) for name, value in params.items()))
