"""The load stage: normalized rows → database rows, in bulk, by natural key.

The hot path of the pipeline. Per model and page it runs one SELECT of the
stored keys and signatures, then inserts the new rows in one statement (psycopg
COPY on PostgreSQL, executemany on SQLite), updates only the rows whose content
signature changed (executemany of UPDATE by primary key) and leaves unchanged
rows alone: an unchanged re-read writes nothing. The ORM's bulk_create would
cap the first ingest near 15,000 rows/s (see ARCHITECTURE.md), hence the
direct cursor; every value still goes through the field's own database
preparation, so what lands is what the ORM would have written.

Callers run it inside their page transaction and hold the stream's lock, so no
other writer inserts the same natural keys meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.expressions import Col

from tracking.audit import json_safe
from tracking.models import Bug, allocate_bug_numbers, content_signature
from tracking.models.base import PROVENANCE_FIELDS

# Field types whose Python value the database driver takes as is.
_PASS_THROUGH_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "EmailField",
        "FloatField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SlugField",
        "SmallIntegerField",
        "TextField",
        "URLField",
    }
)


@dataclass
class IncomingRow:
    """One normalized row of one model, references already resolved to ids.

    `values` holds column values by attname (`repository_id`); `signed` holds the
    same content as the stream produced it, references replaced by their natural
    keys, which is what the signature is computed from (so it does not depend on
    our primary keys). `many_to_many` maps a field name to the ids to link.
    """

    external_id: str
    values: dict[str, Any]
    signed: dict[str, Any]
    many_to_many: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class UpsertResult:
    created: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    unchanged: set[str] = field(default_factory=set)
    # (primary key, external id, {"field": [old, new]}) of each updated row.
    changes: list[tuple[int, str, dict[str, list[Any]]]] = field(default_factory=list)


def _sqlite_datetime(field_: models.Field) -> Callable[[Any], Any]:
    prepare = _prepared(field_)

    def convert(value: Any) -> Any:
        # What SQLite's adapt_datetimefield_value does, without its per-call checks.
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return str(value.astimezone(dt.UTC).replace(tzinfo=None))
        return prepare(value)

    return convert


def _prepared(field_: models.Field) -> Callable[[Any], Any]:
    database = connections[DEFAULT_DB_ALIAS]  # the object itself, not the per-access proxy

    def convert(value: Any) -> Any:
        return field_.get_db_prep_save(value, database)

    return convert


def _json(field_: models.JSONField) -> Callable[[Any], Any]:
    # What JSONField.get_db_prep_save ends in (json.dumps on SQLite, Jsonb on
    # PostgreSQL), without the lookups it repeats on every call.
    adapt = connections[DEFAULT_DB_ALIAS].ops.adapt_json_value
    encoder = field_.encoder

    def convert(value: Any) -> Any:
        return adapt(value, encoder)

    return convert


def column_converter(field_: models.Field) -> Callable[[Any], Any] | None:
    """How a Python value of this field becomes a driver parameter (None: as is)."""
    internal_type = field_.get_internal_type()
    if internal_type in _PASS_THROUGH_TYPES:
        return None
    if internal_type == "JSONField":
        return _json(field_)
    if internal_type == "DateTimeField":
        if connection.vendor == "postgresql":
            return None  # psycopg adapts aware datetimes itself
        return _sqlite_datetime(field_)
    return _prepared(field_)


def _database_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    converters = [column_converter(by_attname[column]) for column in columns]
    if not any(converters):
        return [tuple(row) for row in rows]
    converted = []
    for row in rows:
        converted.append(
            tuple(
                value if convert is None or value is None else convert(value)
                for convert, value in zip(converters, row, strict=True)
            )
        )
    return converted


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows known to be new: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column_list = ", ".join(quote(column) for column in columns)
    prepared = _database_rows(model, columns, rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is ~3x faster than a multi-row INSERT (ARCHITECTURE.md ceilings). It runs
            # on psycopg's own cursor, so its errors are turned into Django's here, as
            # Django's cursor does for every other statement (an IntegrityError is one).
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy,
            ):
                for row in prepared:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})",  # noqa: S608
            prepared,
        )


def update_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Update rows by primary key; each row is the column values followed by the id."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    pk_column = quote(model._meta.pk.column)
    prepared = _database_rows(model, [*columns, model._meta.pk.attname], rows)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {assignments} WHERE {pk_column} = %s",  # noqa: S608
            prepared,
        )


def _column_reader(model: type[models.Model], attname: str) -> Callable[[Any], Any]:
    """Database value → Python value, with the converters the ORM itself would apply."""
    field_ = next(f for f in model._meta.concrete_fields if f.attname == attname)
    expression = Col(model._meta.db_table, field_)
    converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(
        connection
    )

    def read(value: Any) -> Any:
        for converter in converters:
            value = converter(value, expression, connection)
        return value

    return read


def rows_by_keys(
    model: type[models.Model],
    filters: dict[str, Any],
    keys: Sequence[str],
    columns: Sequence[str],
    key_column: str = "external_id",
) -> list[tuple[Any, ...]]:
    """`columns` of the rows matching `filters` whose `key_column` is one of `keys`.

    One plain SELECT, served by the natural-key unique index. Written without the
    ORM: compiling a 1,000-value IN lookup costs more than running it. Values come
    back as the driver returns them.
    """
    if not keys:
        return []
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    conditions = [f"{quote(column)} = %s" for column in filters]
    if key_column == "external_id":
        # Spelled as the partial natural-key index of the models with hand-entered rows
        # (Bug, Project, hours) spells its condition: otherwise neither database uses
        # that index and every lookup scans the table. No key we look up is empty.
        conditions.append(f"NOT ({quote(key_column)} = '')")
    if connection.vendor == "postgresql":
        # One unique-index probe per key (LATERAL), whatever the statistics say: during
        # a first ingest the table grows faster than autovacuum analyzes it, and with
        # stale statistics PostgreSQL plans `key = ANY(...)` as a scan of every row of
        # the stream, which makes each page slower than the last.
        conditions.append(f"{quote(key_column)} = wanted.key")
        sql = (
            f"SELECT {', '.join('found.' + quote(c) for c in columns)} "  # noqa: S608
            "FROM unnest(%s::text[]) AS wanted(key) CROSS JOIN LATERAL "
            f"(SELECT {', '.join(quote(c) for c in columns)} FROM {table} "
            # LIMIT 1 (the key is unique) keeps PostgreSQL from flattening the
            # subquery back into the scan this form exists to avoid.
            f"WHERE {' AND '.join(conditions)} LIMIT 1) AS found"
        )
        parameters = [list(keys), *filters.values()]
    else:
        conditions.append(f"{quote(key_column)} IN ({', '.join(['%s'] * len(keys))})")
        sql = (
            f"SELECT {', '.join(quote(c) for c in columns)} "  # noqa: S608
            f"FROM {table} WHERE {' AND '.join(conditions)}"
        )
        parameters = [*filters.values(), *keys]
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return cursor.fetchall()


def stored_keys(
    model: type[models.Model], source: str, external_ids: Sequence[str], extra: Sequence[str]
) -> dict[str, tuple[int, str, list[Any]]]:
    """{external_id: (pk, raw_signature, [extra column values])} of the stored rows."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    columns = [model._meta.pk.column, "external_id", "raw_signature"]
    columns += [by_attname[name].column for name in extra]
    readers = [_column_reader(model, name) for name in extra]
    return {
        external_id: (
            pk,
            signature,
            [read(value) for read, value in zip(readers, rest, strict=True)],
        )
        for pk, external_id, signature, *rest in rows_by_keys(
            model, {"source": source}, external_ids, columns
        )
    }


def _content_attnames(model: type[models.Model]) -> list[str]:
    return [
        f.attname
        for f in model._meta.concrete_fields
        if f.attname not in PROVENANCE_FIELDS and not f.primary_key
    ]


def _merge_lists(stored: Any, incoming: Any) -> Any:
    """Stored items first, then the incoming ones not seen yet (order kept, no duplicates)."""
    if not isinstance(stored, list) or not isinstance(incoming, list):
        return incoming
    merged = list(stored)
    merged.extend(item for item in incoming if item not in stored)
    return merged


def _is_older(incoming: Any, stored: Any) -> bool:
    if incoming is None or stored is None:
        return False
    try:
        return incoming < stored
    except TypeError:
        return False


def upsert(
    model: type[models.Model],
    source: str,
    rows: Sequence[IncomingRow],
    *,
    now: dt.datetime,
    merge_fields: Iterable[str] = (),
    version_field: str | None = None,
) -> UpsertResult:
    """Insert the new rows, update the changed ones, leave the unchanged ones untouched.

    `rows` must have distinct external ids. Merge fields are joined with the
    stored list before signing; a row older than the stored one by
    `version_field` counts as unchanged and is not written.
    """
    result = UpsertResult()
    if not rows:
        return result
    merge_fields = list(merge_fields)
    version_attname = model._meta.get_field(version_field).attname if version_field else None
    extra = [*merge_fields, *([version_attname] if version_attname else [])]
    stored = stored_keys(model, source, [row.external_id for row in rows], extra)
    to_create: list[IncomingRow] = []
    to_update: list[tuple[int, IncomingRow]] = []
    for row in rows:
        existing = stored.get(row.external_id)
        if existing is not None:
            stored_extra = dict(zip(extra, existing[2], strict=True))
            if version_attname and _is_older(
                row.values.get(version_attname), stored_extra[version_attname]
            ):
                result.unchanged.add(row.external_id)
                continue
            for name in merge_fields:
                if name in row.values:
                    row.values[name] = _merge_lists(stored_extra[name], row.values[name])
                    row.signed[name] = row.values[name]
        signature = content_signature(row.signed)
        row.values["raw_signature"] = signature
        if existing is None:
            to_create.append(row)
        elif existing[1] == signature:
            result.unchanged.add(row.external_id)
        else:
            to_update.append((existing[0], row))
    _create(model, source, to_create, now, result)
    _update(model, to_update, now, result)
    _link_many_to_many(model, source, [*to_create, *(row for _, row in to_update)])
    return result


def _with_derived_fields(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """Run the model's own refresh_derived_fields (Bug due time, Build duration)."""
    if not hasattr(model, "refresh_derived_fields"):
        return values
    instance = model(**values)
    instance.refresh_derived_fields()
    return {f.attname: f.value_from_object(instance) for f in model._meta.concrete_fields}


def _create(
    model: type[models.Model],
    source: str,
    rows: list[IncomingRow],
    now: dt.datetime,
    result: UpsertResult,
) -> None:
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}
    records = []
    for row in rows:
        values = {
            **defaults,
            **row.values,
            "source": source,
            "external_id": row.external_id,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        records.append(_with_derived_fields(model, values))
    if model is Bug:
        number_new_bugs(records)
    columns = [f.attname for f in fields]
    insert_rows(model, columns, [[values[column] for column in columns] for values in records])
    result.created.update(row.external_id for row in rows)


def number_new_bugs(records: list[dict[str, Any]]) -> None:
    """Bug numbers come from a per-month counter, allocated in the page transaction."""
    by_month: dict[str, list[dict[str, Any]]] = {}
    for values in records:
        if not values.get("number"):
            month = values["created_at"].astimezone(dt.UTC).strftime("%Y%m")
            by_month.setdefault(month, []).append(values)
    for month_records in by_month.values():
        numbers = allocate_bug_numbers(month_records[0]["created_at"], len(month_records))
        for values, number in zip(month_records, numbers, strict=True):
            values["number"] = number


def _update(
    model: type[models.Model],
    rows: list[tuple[int, IncomingRow]],
    now: dt.datetime,
    result: UpsertResult,
) -> None:
    if not rows:
        return
    content = _content_attnames(model)
    # The full stored rows of the changed ones only: the audit diff needs the old
    # values, and derived fields need every field the stream did not send.
    old_rows = {
        values["pk"]: values
        for values in model._default_manager.filter(pk__in=[pk for pk, _ in rows]).values(
            "pk", *content
        )
    }
    provided = sorted({name for _, row in rows for name in row.values} - {"raw_signature"})
    derived = content if hasattr(model, "refresh_derived_fields") else []
    columns = [*sorted(set(provided) | set(derived)), "raw_signature", "last_seen_at"]
    updates = []
    for pk, row in rows:
        old = old_rows[pk]
        merged = _with_derived_fields(model, {**old, **row.values})
        merged.pop("pk", None)
        diff = {
            name: [json_safe(old[name]), json_safe(merged[name])]
            for name in content
            if name in merged and old.get(name) != merged[name]
        }
        if diff:
            result.changes.append((pk, row.external_id, diff))
        merged["last_seen_at"] = now
        updates.append([*(merged.get(column, old.get(column)) for column in columns), pk])
        result.updated.add(row.external_id)
    update_rows(model, columns, updates)


def _link_many_to_many(model: type[models.Model], source: str, rows: list[IncomingRow]) -> None:
    """Replace the links of the written rows that carry many-to-many values."""
    names = {name for row in rows for name in row.many_to_many}
    if not names:
        return
    ids = dict(
        model._default_manager.filter(
            source=source, external_id__in=[row.external_id for row in rows]
        ).values_list("external_id", "pk")
    )
    for name in sorted(names):
        relation = model._meta.get_field(name)
        through = relation.remote_field.through
        own = relation.m2m_field_name()
        other = relation.m2m_reverse_field_name()
        carrying = [row for row in rows if name in row.many_to_many]
        through._default_manager.filter(
            **{f"{own}__in": [ids[row.external_id] for row in carrying]}
        ).delete()
        through._default_manager.bulk_create(
            [
                through(**{f"{own}_id": ids[row.external_id], f"{other}_id": target})
                for row in carrying
                for target in dict.fromkeys(row.many_to_many[name])
            ]
        )
