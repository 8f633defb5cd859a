"""`fake/records`: a test-only Stream that syncs the records fake into `tracking.Issue`.

It talks to `tests.fakes.records` over real HTTP with `requests`, and retries
the way the real source clients do: a bounded number of attempts with a short
exponential backoff, honouring Retry-After, each retry added to
`context.retries`; once exhausted it raises TransientError (with the
upstream's Retry-After) for the job layer to schedule. Each record becomes an
Issue whose assignee is an IdentityRef, so identity resolution is exercised.

Where the fake is: `stream.base_url`, else the `FAKE_RECORDS_URL` environment
variable (for a worker in another process). Registered on demand with
`register_records_stream()`, never at import, so it exists only where a test
asks for it.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from typing import Any

import requests

from ingestion.errors import PermanentError, RecordRejected, TransientError
from ingestion.parsing import parse_time
from ingestion.streams import (
    FetchContext,
    IdentityRef,
    Page,
    Row,
    Stream,
    UnknownStream,
    get_stream,
    register,
)
from tracking.choices import WorkStatus
from tracking.models import Issue

RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

STATUS_BY_UPSTREAM = {"open": WorkStatus.TODO, "closed": WorkStatus.DONE}


def retry_after_of(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


class FakeRecordsStream(Stream):
    source = "fake"
    entity = "records"
    model = Issue
    # The fake's updated_at has one-second resolution.
    overlap = dt.timedelta(seconds=1)

    def __init__(self) -> None:
        self.base_url: str | None = None
        self.token: str | None = None
        self.page_size = 100
        # Client behaviour, short so fault tests run fast; set per test.
        self.timeout = 2.0
        self.max_retries = 5
        self.backoff_seconds = 0.05
        # A Retry-After longer than this is not slept through here: the run ends with
        # TransientError(retry_after=...) and the job layer schedules the next attempt.
        self.max_wait_seconds = 2.0

    # --- fetch -----------------------------------------------------------------------
    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        cursor = (context.cursor or {}).get("cursor")
        with requests.Session() as session:
            token = self.token or os.environ.get("FAKE_RECORDS_TOKEN")
            if token:
                session.headers["Authorization"] = f"Bearer {token}"
            while True:
                params: dict[str, Any] = {"limit": self.page_size}
                if cursor:
                    params["cursor"] = cursor
                if context.since is not None and not context.full:
                    params["updated_since"] = context.since.isoformat()
                payload, attempts = self._get_records(session, params, context)
                cursor = payload.get("next_cursor")
                yield Page(
                    records=payload["records"],
                    next_cursor={"cursor": cursor} if cursor else None,
                    requests=attempts,
                )
                if not cursor:
                    return

    def _url(self) -> str:
        base_url = self.base_url or os.environ.get("FAKE_RECORDS_URL")
        if not base_url:
            raise PermanentError("Set FAKE_RECORDS_URL (or stream.base_url) to the records fake.")
        return f"{base_url.rstrip('/')}/records"

    def _get_records(
        self, session: requests.Session, params: dict[str, Any], context: FetchContext
    ) -> tuple[dict[str, Any], int]:
        """One page, retried on transient failures; returns (payload, attempts made)."""
        url = self._url()
        attempts = 0
        while True:
            attempts += 1
            try:
                # GET /records?cursor=&limit=&updated_since= (tests/fakes/records.py)
                response = session.get(url, params=params, timeout=self.timeout)
                failure = self._failure_of(response)
                if failure is None:
                    return response.json(), attempts
            except RETRYABLE_EXCEPTIONS as error:
                failure = TransientError(f"GET /records failed: {type(error).__name__}")
            except requests.JSONDecodeError:
                failure = TransientError("GET /records answered a body that is not JSON")
            wait = self._wait_before_retry(failure, attempts)
            if wait is None:
                raise failure
            context.retries += 1
            time.sleep(wait)

    def _failure_of(self, response: requests.Response) -> TransientError | None:
        status = response.status_code
        if status < 400:
            return None
        if status == 429 or status >= 500:
            return TransientError(
                f"GET /records answered {status}", retry_after=retry_after_of(response)
            )
        if status in (401, 403):
            raise PermanentError(
                f"The records fake refused the credentials ({status}): check FAKE_RECORDS_TOKEN."
            )
        raise PermanentError(f"GET /records answered {status}: {response.text[:200]}")

    def _wait_before_retry(self, failure: TransientError, attempts: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise."""
        if attempts > self.max_retries:
            return None
        if failure.retry_after is not None and failure.retry_after > self.max_wait_seconds:
            return None
        backoff = self.backoff_seconds * 2 ** (attempts - 1)
        return min(max(backoff, failure.retry_after or 0.0), self.max_wait_seconds)

    # --- normalize -----------------------------------------------------------------------
    def natural_key(self, record: dict[str, Any]) -> str:
        record_id = record.get("id")
        if not isinstance(record_id, int):
            raise RecordRejected(f"id must be an integer, not {record_id!r}")
        return str(record_id)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        name = record.get("name")
        if not isinstance(name, str) or not name:
            raise RecordRejected("name is missing")
        owner = record.get("owner")
        if not isinstance(owner, dict):
            raise RecordRejected(f"owner must be an object, not {owner!r}")
        status = str(record.get("status", ""))
        fields = {
            "key": f"REC-{record['id']}",
            "number": record["id"],
            "title": name,
            "upstream_project": "records",
            "status": STATUS_BY_UPSTREAM.get(status, WorkStatus.TODO),
            "original_status": status,
            "assignee": IdentityRef(
                source=self.source,
                external_id=str(owner["id"]),
                username=owner.get("login", ""),
                display_name=owner.get("name", ""),
                email=owner.get("email", ""),
            ),
            "created_at": parse_time(record.get("created_at"), "created_at"),
            "updated_at": parse_time(record.get("updated_at"), "updated_at"),
        }
        return [Row(Issue, fields)]

    def record_time(self, record: dict[str, Any]) -> dt.datetime | None:
        return parse_time(record.get("updated_at"), "updated_at")


def register_records_stream() -> FakeRecordsStream:
    """Register `fake/records` once and return the registered instance."""
    try:
        stream = get_stream(FakeRecordsStream.source, FakeRecordsStream.entity)
    except UnknownStream:
        register(FakeRecordsStream)
        stream = get_stream(FakeRecordsStream.source, FakeRecordsStream.entity)
    assert isinstance(stream, FakeRecordsStream)
    return stream
