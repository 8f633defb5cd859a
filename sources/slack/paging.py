"""One fetch's requests to Slack: paced, retried, and gathered into the harness's pages.

The harness commits a page (its rows and the cursor after it) before it asks
for the next one. A `Reader` gathers what several requests returned into one
page, up to PAGE_RECORDS records, and hands over what it holds before any
wait and before any error: so when the pace allows one request a minute and
the run stops (Deferred) to come back later, or a request fails for good,
everything fetched so far is committed with the cursor that follows it, and
no request is ever made twice.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Generator
from typing import Any

from ingestion.errors import IngestionError, TransientError
from ingestion.streams import FetchContext, Page
from sources.slack.client import SlackClient

# Records per harness page (its transaction), as the harness's own batches.
PAGE_RECORDS = 1000
# Retries of a request that failed in a way worth retrying (5xx, a reset, a 429).
RETRIES = 3
RETRY_BACKOFF_SECONDS = 0.25
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

    def call(self, method: str, params: dict[str, Any], resume: Cursor) -> Calls:
        """One request of `method` (`data = yield from reader.call(...)`): claimed from the
        pace, retried; yields a page of what is held before any wait or error.

        `resume` is where the sync resumes should it stop during this call: the
        stream's position before the request.
        """
        failures = 0
        while True:
            wait = self.client.claim(method)
            if wait > 0:
                yield from self.hand_over(resume)
                if wait > MAX_INLINE_WAIT_SECONDS:
                    raise self.client.deferred(method, wait)
                time.sleep(wait)
                continue
            self.requests += 1
            try:
                return self.client.send(method, params)
            except TransientError as failure:
                failures += 1
                if failures <= RETRIES:
                    self.context.retries += 1
                    if failure.retry_after is None:
                        time.sleep(RETRY_BACKOFF_SECONDS * 2 ** (failures - 1))
                    # A 429's wait is on the shared pace: the next claim waits it out.
                    continue
                if failure.retry_after is None:
                    self.client.record_failure()
                yield from self.hand_over(resume)
                raise
            except IngestionError:
                yield from self.hand_over(resume)
                raise

    def add(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    @property
    def full(self) -> bool:
        return len(self.records) >= PAGE_RECORDS

    def hand_over(self, cursor: Cursor) -> Generator[Page, None, None]:
        """Yield what is held as a page ending at `cursor`, if any request was made since
        the last one (a request that brought no record still moved the position)."""
        if self.records or self.requests:
            yield self.page(cursor)

    def page(self, cursor: Cursor) -> Page:
        # A copy: the stream goes on changing its position after the page is handed over.
        page = Page(records=self.records, next_cursor=copy.deepcopy(cursor), requests=self.requests)
        self.records, self.requests = [], 0
        return page
