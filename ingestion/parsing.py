"""Reading upstream values inside a stream's `normalize`.

Each helper raises RecordRejected naming the field, so a malformed record is
rejected with a reason a person can act on, and the run goes on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestion.errors import RecordRejected


def parse_time(value: Any, name: str = "time", *, required: bool = True) -> dt.datetime | None:
    """An ISO 8601 time with an offset ("2024-01-01T00:17:09Z") → an aware UTC datetime.

    Empty or missing: None when not `required`, else rejected.
    """
    if value in (None, ""):
        if required:
            raise RecordRejected(f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise RecordRejected(f"{name} must be an ISO 8601 string, not {value!r}")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RecordRejected(f"{name} {value!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise RecordRejected(f"{name} {value!r} has no UTC offset")
    return moment.astimezone(dt.UTC)
