"""A generic paged-records upstream, for harness tests and benchmarks.

`GET /records?cursor=<opaque>&limit=100[&updated_since=<ISO 8601>]` answers
`{"records": [...], "next_cursor": "<opaque>" | null}`. Records are ordered by
id (keyset paging: a cursor is "after id N", stable while records change) and
are deterministic for a given (count, seed):

    {"id": 17, "name": "record-000017 amber falcon", "status": "open",
     "created_at": "2024-01-01T00:17:09Z", "updated_at": "2024-01-01T00:17:09Z",
     "owner": {"id": 1003, "login": "user-03", "email": "user-03@example.com",
               "name": "User 03"}}

Owners come from a small pool, so identities repeat across records as people do.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
from collections.abc import Iterable
from typing import Any

from tests.fakes.app import FakeApp, HTTPError, Request
from tests.fakes.pagination import decode_cursor, encode_cursor

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
OWNER_POOL = 25
WORDS = ("amber", "basalt", "cedar", "delta", "ember", "falcon", "garnet", "harbor", "iris")


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def owner(number: int) -> dict[str, Any]:
    return {
        "id": 1000 + number,
        "login": f"user-{number:02d}",
        "email": f"user-{number:02d}@example.com",
        "name": f"User {number:02d}",
    }


def synthetic_record(record_id: int, generator: random.Random) -> dict[str, Any]:
    # One minute per id plus a few seconds: updated_at grows with id.
    created = EPOCH + dt.timedelta(minutes=record_id, seconds=generator.randrange(60))
    return {
        "id": record_id,
        "name": f"record-{record_id:06d} {generator.choice(WORDS)} {generator.choice(WORDS)}",
        "status": generator.choice(("open", "open", "closed")),
        "created_at": format_time(created),
        "updated_at": format_time(created),
        "owner": owner(generator.randrange(OWNER_POOL)),
    }


def malformed_record(record_id: int) -> dict[str, Any]:
    """A record no normalizer should accept: no name, a time that is not one, no owner."""
    return {"id": record_id, "name": None, "updated_at": "yesterday-ish", "owner": "nobody"}


def synthetic_records(
    count: int, seed: int = 1, malformed_ids: Iterable[int] = ()
) -> list[dict[str, Any]]:
    generator = random.Random(seed)
    malformed = set(malformed_ids)
    records = []
    for record_id in range(1, count + 1):
        record = synthetic_record(record_id, generator)
        records.append(malformed_record(record_id) if record_id in malformed else record)
    return records


class RecordsUpstream:
    """The records fake: its data (changeable between syncs) and its FakeApp."""

    def __init__(
        self,
        count: int = 1000,
        *,
        seed: int = 1,
        token: str | None = None,
        malformed_ids: Iterable[int] = (),
        max_limit: int = 1000,
    ) -> None:
        self.records = synthetic_records(count, seed, malformed_ids)
        self.max_limit = max_limit
        self._lock = threading.Lock()
        self.app = FakeApp("records", tokens={token} if token else None)
        self.app.add_route("GET", "/records", self.list_records)

    def list_records(self, request: Request) -> dict[str, Any]:
        limit = min(max(request.int_param("limit", 100), 1), self.max_limit)
        after_id = decode_cursor(request.param("cursor"))
        since = _parse_since(request.param("updated_since"))
        page: list[dict[str, Any]] = []
        with self._lock:
            # Ids are 1..count and the list is in id order: record N is at index N - 1.
            position = after_id
            while position < len(self.records) and len(page) < limit:
                record = self.records[position]
                position += 1
                if since is None or str(record.get("updated_at")) >= since:
                    page.append(copy.deepcopy(record))
            more = position < len(self.records)
        return {"records": page, "next_cursor": encode_cursor(position) if more else None}

    def update_record(self, record_id: int, **changes: Any) -> dict[str, Any]:
        """Change a record as the upstream would: new values and a later updated_at."""
        with self._lock:
            record = self.records[record_id - 1]
            latest = max(str(r.get("updated_at", "")) for r in self.records)
            record.update(changes)
            bumped = dt.datetime.fromisoformat(latest) + dt.timedelta(minutes=1)
            record["updated_at"] = changes.get("updated_at", format_time(bumped))
            return copy.deepcopy(record)


def _parse_since(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise HTTPError(400, f"updated_since must be ISO 8601, not {value!r}") from None
    # A time without an offset is UTC, as every time in the hub is.
    return format_time(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))


def create_app(
    count: int = 1000,
    seed: int = 1,
    token: str | None = None,
    malformed_ids: Iterable[int] = (),
) -> FakeApp:
    """Factory for `python -m tests.fakes.serve tests.fakes.records:create_app`."""
    return RecordsUpstream(count, seed=seed, token=token, malformed_ids=malformed_ids).app
