"""Keyset paging for the fetch API: an opaque cursor over (time, id), ascending.

Why keyset and not OFFSET: a page costs one index range scan however deep it is,
and rows inserted while a client pages (an ingest running) never shift the rows
it has not read yet. No COUNT either: one row more than the page is read to know
whether another page follows.

The cursor is urlsafe base64 of `{"t": <last time>, "i": <last id>, "f": <filters
fingerprint>}`. The fingerprint ties it to the filters it was made with: the same
cursor under other filters would point into a different ordering, so it is refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models.expressions import Expression


class InvalidCursor(ValueError):
    """The cursor is not one this API made, or was made with other filters."""


@dataclass(frozen=True)
class Position:
    """Where a page ended: the (time, id) of its last row."""

    time: dt.datetime
    id: int


def filters_fingerprint(filters: Mapping[str, Any]) -> str:
    """A short, stable hash of the filters a listing was made with (values as strings)."""
    canonical = json.dumps({name: str(value) for name, value in filters.items()}, sort_keys=True)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=8).hexdigest()


def encode_cursor(position: Position, fingerprint: str) -> str:
    payload = {
        "t": position.time.astimezone(dt.UTC).isoformat(),
        "i": position.id,
        "f": fingerprint,
    }
    raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(token: str, fingerprint: str) -> Position:
    """The position in `token`; InvalidCursor when it is malformed or its filters differ."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        time = dt.datetime.fromisoformat(payload["t"])
        row_id = payload["i"]
        made_with = payload["f"]
    except (binascii.Error, ValueError, TypeError, KeyError) as error:
        raise InvalidCursor("Not a cursor from this API: pass next_cursor unchanged.") from error
    if time.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool):
        raise InvalidCursor("Not a cursor from this API: pass next_cursor unchanged.")
    if made_with != fingerprint:
        raise InvalidCursor(
            "This cursor was made with other filters: repeat the first request's "
            "parameters (only limit may change) or start again without a cursor."
        )
    return Position(time=time, id=row_id)


class RowAfter(Expression):
    """`(time, id) > (t, i)`: a row-value comparison, which PostgreSQL (and SQLite since
    3.15) answer with one range scan of an index on (time, id). The OR form
    `time > t OR (time = t AND id > i)` means the same but planners serve it less well.
    """

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, columns: Sequence[str], values: Sequence[Any], value_fields: Sequence):
        super().__init__()
        self.columns = [models.F(name) for name in columns]
        self.values = [
            models.Value(value, output_field=field)
            for value, field in zip(values, value_fields, strict=True)
        ]

    def get_source_expressions(self) -> list:
        return [*self.columns, *self.values]

    def set_source_expressions(self, expressions: list) -> None:
        half = len(expressions) // 2
        self.columns, self.values = list(expressions[:half]), list(expressions[half:])

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        params: list = []
        parts = []
        for side in (self.columns, self.values):
            sqls = []
            for expression in side:
                sql, expression_params = compiler.compile(expression)
                sqls.append(sql)
                params.extend(expression_params)
            parts.append(f"({', '.join(sqls)})")
        return f"{parts[0]} > {parts[1]}", params


@dataclass(frozen=True)
class Page:
    rows: list[models.Model]
    next_position: Position | None


def keyset_page(
    queryset: models.QuerySet, time_field: str, limit: int, after: Position | None
) -> Page:
    """Up to `limit` rows of `queryset` after `after`, in (time, id) order, and where the
    next page starts (None on the last page). Reads limit + 1 rows, never counts."""
    ordered = queryset.order_by(time_field, "id")
    if after is not None:
        value_fields = [models.DateTimeField(), models.BigIntegerField()]
        ordered = ordered.filter(RowAfter([time_field, "id"], [after.time, after.id], value_fields))
    rows = list(ordered[: limit + 1])
    if len(rows) <= limit:
        return Page(rows=rows, next_position=None)
    rows = rows[:limit]
    last = rows[-1]
    return Page(rows=rows, next_position=Position(time=getattr(last, time_field), id=last.pk))
