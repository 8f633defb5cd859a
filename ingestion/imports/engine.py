"""The import engine: a table of rows → validated, deduplicated model rows, batch by batch.

Stages, per batch of `IMPORT_BATCH_SIZE` rows:
  parse      each cell by its column (dates, numbers, choices), then the model field's
             own validation (length, choices, validators): the admin form's rules;
  resolve    the references (project, person, bug) with one query per kind;
  match      each row to its stored twin by the schema's keys, one query per key kind;
  validate   the row as a whole with the model's own clean() (cross-field rules);
  compare    with the stored row: unchanged rows are not written, changed rows write
             only their changed fields, with an audit entry listing them;
  write      new rows in bulk through the load stage (COPY on PostgreSQL), in the
             batch's transaction; rejected rows go to the error report.

Default mode commits each batch; `atomic` commits all or nothing; `dry_run` writes
nothing and tells what would happen (the preview).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any, BinaryIO

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.base import ModelState
from django.utils import timezone

from ingestion import load
from ingestion.harness import write_audit_entries
from ingestion.imports.reading import ImportFileError, Table, open_table
from ingestion.imports.rules import field_rules
from ingestion.imports.schemas import (
    REFERENCE_RESOLVERS,
    Column,
    ImportSchema,
    ParsedRow,
    get_schema,
    header_key,
)
from ingestion.models.imports import MAX_STORED_ROW_ERRORS, MAX_STORED_UPDATES, CsvImport
from tracking.audit import json_safe
from tracking.choices import AuditAction
from tracking.models import AuditLog, Bug, content_signature
from tracking.models.base import Provenance

# Columns a file may carry that the import reads past without calling them unknown:
# the error column of a fixed-up error report.
IGNORED_HEADERS = frozenset({"error", "errors"})
# What a spreadsheet reads as the start of a formula; the export writes such a cell with
# a leading quote (OWASP's CSV-injection advice) and the import takes the quote off.
FORMULA_STARTS = frozenset({"=", "+", "-", "@", "\t", "\r"})
# Bookkeeping that changes with every write; never compared, never listed as a change.
_BOOKKEEPING = frozenset({"id", "raw_signature", "first_seen_at", "last_seen_at", "updated_at"})


class ImportRejected(Exception):
    """The file as a whole cannot be imported (unreadable, a required column missing);
    nothing was written. The message says what to fix."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


@dataclass
class ImportOutcome:
    """What an import did (or, for a dry run, would do)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    bytes_read: int = 0
    rows_total: int | None = None
    file_format: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    unknown_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    row_errors: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    rolled_back: bool = False
    keyless_rows: int = 0

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in CsvImport.COUNT_FIELDS}


Progress = Callable[[ImportOutcome], None]


@dataclass
class ColumnMap:
    """Which file column feeds which schema column."""

    headers: list[str]
    index: dict[str, int]
    unknown: list[str]

    def header_of(self, column_name: str) -> str:
        position = self.index.get(column_name)
        return self.headers[position] if position is not None else column_name


def map_columns(schema: ImportSchema, headers: Sequence[str]) -> ColumnMap:
    """Match headers case- and space-insensitively, with each column's aliases.

    A missing required column, or two headers naming one column, stops the
    import before any row is read.
    """
    by_key: dict[str, Column] = {}
    for column in schema.columns:
        for key in column.header_keys:
            by_key.setdefault(key, column)
    index: dict[str, int] = {}
    unknown: list[str] = []
    for position, header in enumerate(headers):
        key = header_key(header)
        column = by_key.get(key)
        if column is None:
            if key and key not in IGNORED_HEADERS:
                unknown.append(header)
            continue
        if column.name in index:
            earlier = headers[index[column.name]]
            raise ImportRejected(
                f"Columns {earlier!r} and {header!r} both give the {column.name} "
                "of a row; keep one of them."
            )
        index[column.name] = position
    missing = [
        column.name for column in schema.columns if column.required and column.name not in index
    ]
    if missing:
        found = ", ".join(repr(header) for header in headers if header) or "none"
        raise ImportRejected(
            f"Missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}. "
            f"The file's columns are: {found}. Accepted names are listed in the README "
            "(Importing CSV)."
        )
    return ColumnMap(list(headers), index, unknown)


class ErrorReport:
    """The rejected rows as they were in the file, with an `error` column: fix and re-upload."""

    def __init__(self, headers: Sequence[str]) -> None:
        self.file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.file)
        self.writer.writerow([*headers, "error"])
        self.width = len(headers)
        self.rows = 0

    def add(self, cells: list[str], errors: list[RowError]) -> None:
        padded = (list(cells) + [""] * self.width)[: self.width]
        message = "; ".join(
            f"{error.column}: {error.reason}" if error.column else error.reason for error in errors
        )
        self.writer.writerow([*padded, message])
        self.rows += 1

    def read_bytes(self) -> bytes:
        self.file.seek(0)
        # A BOM, so that spreadsheet programs open the report's accented names right.
        return ("\ufeff" + self.file.read()).encode("utf-8")

    def close(self) -> None:
        self.file.close()


class Importer:
    """One import of one table. `run()` returns the outcome; the caller stores it."""

    def __init__(
        self,
        schema: ImportSchema,
        table: Table,
        *,
        dry_run: bool = False,
        atomic: bool = False,
        batch_size: int | None = None,
        actor: str = "import",
        user: Any = None,
        job_id: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.schema = schema
        self.model = schema.model
        self.table = table
        self.dry_run = dry_run
        self.atomic = atomic
        self.batch_size = batch_size or settings.IMPORT_BATCH_SIZE
        self.actor = actor
        self.user = user if user is not None and getattr(user, "is_authenticated", False) else None
        self.job_id = job_id
        self.progress = progress
        self.columns = map_columns(schema, table.headers)
        self.outcome = ImportOutcome(
            rows_total=table.total_rows,
            file_format=table.format,
            columns={
                table.headers[position]: name for name, position in self.columns.index.items()
            },
            unknown_columns=self.columns.unknown,
        )
        if self.columns.unknown:
            self.outcome.warnings.append(
                "Ignored unknown column"
                f"{'s' if len(self.columns.unknown) > 1 else ''}: "
                f"{', '.join(self.columns.unknown)}."
            )
        self.report = ErrorReport(table.headers)
        self.seen_keys: dict[int, int] = {}
        self.is_provenance = issubclass(self.model, Provenance)
        self.content_type = ContentType.objects.get_for_model(self.model)
        self._plan = self._cell_plan()
        self._fields = [f for f in self.model._meta.concrete_fields if not f.primary_key]
        self._compared = [f.attname for f in self._fields if f.attname not in _BOOKKEEPING]
        self._attnames = {f.attname for f in self._fields} | {f.name for f in self._fields}
        self._cleared = self._cleared_values()
        self._key_only = {column.field for column in self.schema.columns if column.key_only}
        self._column_of_field = {column.field: column for column in self.schema.columns}
        self._defaults = self._field_defaults()
        self._attname_of = {f.name: f.attname for f in self._fields}
        self._column_attnames = [f.attname for f in self._fields]

    # --- Parsing ------------------------------------------------------------------------

    def _cell_plan(self) -> list[tuple[Column, int, Any, Any, str]]:
        parsers = self.schema.parsers()
        plan = []
        for column in self.schema.columns:
            position = self.columns.index.get(column.name)
            if position is None:
                continue
            model_field = None if column.reference else self.schema.model_field(column)
            plan.append(
                (
                    column,
                    position,
                    parsers.get(column.field),
                    # A parsed choice is one of the field's own values, which its
                    # validators (the column length) always accept.
                    field_rules(model_field)
                    if model_field is not None and not model_field.choices
                    else None,
                    self.columns.headers[position],
                )
            )
        return plan

    def parse(self, number: int, cells: list[str]) -> ParsedRow:
        row = ParsedRow(number, cells)
        width = len(cells)
        for column, position, parse, rules, header in self._plan:
            text = cells[position].strip() if position < width else ""
            if text[:1] == "'" and text[1:2] in FORMULA_STARTS:
                # The quote the export puts before a cell a spreadsheet would run as a formula.
                text = text[1:]
            if not text:
                if column.required:
                    row.errors.append((header, "", "Required: this cell is empty."))
                row.empty.add(column.field)
                continue
            if column.reference:
                row.values[column.field] = text
                continue
            try:
                value = parse(text)
                if rules is not None:
                    # The field's own validators (length, range, URL form), as a form applies.
                    rules(value)
            except ValidationError as error:
                row.errors.append((header, text, " ".join(error.messages)))
            else:
                row.values[column.field] = value
        return row

    # --- The batch stages ---------------------------------------------------------------

    def _resolve_references(self, rows: list[ParsedRow]) -> None:
        by_kind: dict[str, set[str]] = {}
        referencing = [column for column in self.schema.columns if column.reference]
        for row in rows:
            for column in referencing:
                text = row.values.get(column.field)
                if text:
                    by_kind.setdefault(column.reference, set()).add(text)
        found = {kind: REFERENCE_RESOLVERS[kind](texts) for kind, texts in by_kind.items()}
        for row in rows:
            for column in referencing:
                attname = f"{column.field}_id"
                text = row.values.pop(column.field, None)
                if text is None:
                    continue
                target = found[column.reference].get(text)
                if isinstance(target, int):
                    row.values[attname] = target
                else:
                    row.errors.append((self.columns.header_of(column.name), text, str(target)))

    def _reject_repeated_keys(self, rows: list[ParsedRow]) -> None:
        """A second row with the key of an earlier one is rejected, naming the earlier row.

        Keys are remembered by hash for the whole file: a million keys fit in tens of
        megabytes, where the key strings would not.
        """
        for row in rows:
            keys = self.schema.row_keys(row)
            if not keys:
                self.outcome.keyless_rows += 1
                continue
            for key in keys:
                earlier = self.seen_keys.get(hash(key))
                if earlier is not None:
                    label = self.schema.key_label(key)
                    row.errors.append(("", "", f"Row {earlier} already has this {label}."))
                    break
            else:
                for key in keys:
                    self.seen_keys[hash(key)] = row.number

    def process(self, raw_rows: list[tuple[int, list[str]]]) -> None:
        rows = [self.parse(number, cells) for number, cells in raw_rows]
        valid = [row for row in rows if not row.errors]
        # Each stage sees only the rows no earlier stage rejected.
        for stage in (
            self._resolve_references,
            self.schema.check_batch,
            self._reject_repeated_keys,
            self.schema.find_existing,
        ):
            stage(valid)
            valid = [row for row in valid if not row.errors]
        stored = self._stored_rows([row.existing_pk for row in valid if row.existing_pk])
        creates: list[tuple[ParsedRow, models.Model]] = []
        updates: list[tuple[ParsedRow, models.Model, dict[str, list[Any]]]] = []
        for row in valid:
            if row.existing_pk is None:
                instance = self._validated(row, self._new_values(row))
                if instance is not None:
                    creates.append((row, instance))
                continue
            before = stored[row.existing_pk]
            instance = self._validated(row, self._merged_values(row, before))
            if instance is None:
                continue
            changes = self._changes(before, instance)
            if changes:
                updates.append((row, instance, changes))
            else:
                self.outcome.unchanged += 1
        if not self.dry_run and (creates or updates):
            try:
                self._write(creates, updates)
            except IntegrityError:
                creates, updates = self._write_one_by_one(creates, updates)
        self.outcome.created += len(creates)
        self.outcome.updated += len(updates)
        for row, _instance, changes in updates:
            if len(self.outcome.updates) < MAX_STORED_UPDATES:
                self.outcome.updates.append(
                    {"row": row.number, "id": row.existing_pk, "changes": changes}
                )
        self._report_rejections(rows)

    def _write_one_by_one(
        self,
        creates: list[tuple[ParsedRow, models.Model]],
        updates: list[tuple[ParsedRow, models.Model, dict[str, list[Any]]]],
    ) -> tuple[list, list]:
        """After the database refused a batch (a unique value another row holds: a
        rename onto a taken name, or a row written meanwhile by someone else), write
        its rows one by one, so only the rows it refuses are rejected."""
        written_creates, written_updates = [], []
        for create in creates:
            if self._write_or_reject(create[0], [create], []):
                written_creates.append(create)
        for update in updates:
            if self._write_or_reject(update[0], [], [update]):
                written_updates.append(update)
        return written_creates, written_updates

    def _write_or_reject(self, row: ParsedRow, creates: list, updates: list) -> bool:
        try:
            self._write(creates, updates)
        except IntegrityError as error:
            row.errors.append(("", "", f"The database refused the row: {error}".strip()))
            return False
        return True

    def _report_rejections(self, rows: list[ParsedRow]) -> None:
        for row in rows:
            if not row.errors:
                continue
            errors = [
                RowError(row.number, column, value, reason) for column, value, reason in row.errors
            ]
            self.outcome.rejected += 1
            for error in errors:
                if len(self.outcome.row_errors) < MAX_STORED_ROW_ERRORS:
                    self.outcome.row_errors.append(error.as_dict())
            self.report.add(row.cells, errors)

    def _stored_rows(self, pks: list[int]) -> dict[int, dict[str, Any]]:
        if not pks:
            return {}
        stored = self.model._default_manager.filter(pk__in=pks).values("pk", *self._column_attnames)
        return {values["pk"]: values for values in stored}

    def _field_values(self, row: ParsedRow) -> dict[str, Any]:
        """The row's values that are model fields (by attname), empty cells as emptiness."""
        values: dict[str, Any] = {}
        for name in row.empty:
            cleared = self._cleared.get(name)
            if cleared is not None:
                values[cleared[0]] = cleared[1]() if callable(cleared[1]) else cleared[1]
        for name, value in row.values.items():
            if name in self._attnames:
                values[name] = value
        return values

    def _cleared_values(self) -> dict[str, tuple[str, Any]]:
        """What an empty cell sets, by column field: (attname, empty value). Columns whose
        empty cell changes nothing (defaults, derived fields, keys) are absent."""
        cleared: dict[str, tuple[str, Any]] = {}
        for column in self.schema.columns:
            model_field = self.schema.model_field(column)
            if model_field is None or column.keeps_when_empty or column.key_only:
                continue
            if column.reference or model_field.null:
                empty: Any = None
            elif model_field.get_internal_type() == "JSONField":
                empty = list
            else:
                empty = ""
            cleared[column.field] = (model_field.attname, empty)
        return cleared

    def _new_values(self, row: ParsedRow) -> dict[str, Any]:
        values = self._field_values(row)
        if self.is_provenance and not values.get("source"):
            values["source"] = "csv"
        return values

    def _merged_values(self, row: ParsedRow, before: dict[str, Any]) -> dict[str, Any]:
        merged = {name: value for name, value in before.items() if name != "pk"}
        for name, value in self._field_values(row).items():
            if name in self._key_only:
                continue
            merged[name] = value
        merged["id"] = before["pk"]
        return merged

    def _validated(self, row: ParsedRow, values: dict[str, Any]) -> models.Model | None:
        """The row as a model instance, checked by the model's own clean(); None if rejected."""
        instance = self._instance(values)
        self.schema.attach(instance, row)
        try:
            instance.clean()
            self.schema.prepare(instance)
        except ValidationError as error:
            self._reject_invalid(row, error)
            return None
        return instance

    def _reject_invalid(self, row: ParsedRow, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            row.errors.append(("", "", " ".join(error.messages)))
            return
        for name, messages in error.message_dict.items():
            if name == NON_FIELD_ERRORS:
                row.errors.append(("", "", " ".join(messages)))
                continue
            row.errors.append(
                (self.columns.header_of(name), self._text(row, name), " ".join(messages))
            )

    def _text(self, row: ParsedRow, field_name: str) -> str:
        """The cell the row gave for a field, as typed ('' when it gave none)."""
        column = self._column_of_field.get(field_name)
        position = self.columns.index.get(column.name) if column is not None else None
        if position is None or position >= len(row.cells):
            return ""
        return row.cells[position].strip()

    def _changes(self, before: dict[str, Any], instance: models.Model) -> dict[str, list[Any]]:
        changes = {}
        for attname in self._compared:
            new = getattr(instance, attname)
            old = before[attname]
            if old != new:
                changes[attname] = [json_safe(old), json_safe(new)]
        return changes

    def _field_defaults(self) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
        """Field defaults by attname: the plain ones, and the callables to run per row."""
        plain: dict[str, Any] = {}
        per_row: list[tuple[str, Any]] = []
        for model_field in self._fields:
            if not model_field.has_default():
                plain[model_field.attname] = None if model_field.null else ""
            elif callable(model_field.default):
                per_row.append((model_field.attname, model_field.default))
            else:
                plain[model_field.attname] = model_field.default
        return plain, per_row

    def _instance(self, values: dict[str, Any]) -> models.Model:
        """A model instance holding `values` over the field defaults.

        Built the way the ORM builds rows it reads (Model.from_db skips __init__ too):
        Model.__init__ costs more than the rest of a row's import put together.
        """
        plain, per_row = self._defaults
        instance = self.model.__new__(self.model)
        instance._state = ModelState()
        state = instance.__dict__
        state.update(plain)
        for attname, default in per_row:
            if attname not in values:
                state[attname] = default()
        for name, value in values.items():
            state[self._attname_of.get(name, name)] = value
        return instance

    # --- Writing ------------------------------------------------------------------------

    def _write(
        self,
        creates: list[tuple[ParsedRow, models.Model]],
        updates: list[tuple[ParsedRow, models.Model, dict[str, list[Any]]]],
    ) -> None:
        now = timezone.now()
        with transaction.atomic():
            if creates:
                self._insert([instance for _row, instance in creates], now)
            if updates:
                self._update(updates, now)
            written = [row for row, *_rest in creates] + [row for row, *_rest in updates]
            self.schema.after_write(written)

    def _insert(self, instances: list[models.Model], now: dt.datetime) -> None:
        self.schema.before_insert(instances)
        records = []
        for instance in instances:
            values = self._row_values(instance)
            if "updated_at" in values:
                values["updated_at"] = now
            if self.is_provenance:
                values["first_seen_at"] = values["last_seen_at"] = now
                values["raw_signature"] = content_signature(values)
            records.append(values)
        if self.model is Bug:
            load.number_new_bugs(records)
        columns = self._column_attnames
        load.insert_rows(self.model, columns, [[values[c] for c in columns] for values in records])

    def _row_values(self, instance: models.Model) -> dict[str, Any]:
        """Every column of the instance but its id, by attname (its state, as _instance set it)."""
        return {attname: instance.__dict__[attname] for attname in self._column_attnames}

    def _update(
        self,
        updates: list[tuple[ParsedRow, models.Model, dict[str, list[Any]]]],
        now: dt.datetime,
    ) -> None:
        by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
        audit = []
        for row, instance, changes in updates:
            columns = sorted(changes)
            extra = {}
            if hasattr(instance, "updated_at"):
                extra["updated_at"] = now
            if self.is_provenance:
                extra["last_seen_at"] = now
                extra["raw_signature"] = content_signature(self._row_values(instance))
            key = (*columns, *extra)
            values = [instance.__dict__[column] for column in columns] + list(extra.values())
            by_columns.setdefault(key, []).append([*values, row.existing_pk])
            audit.append(
                AuditLog(
                    created_at=now,
                    user=self.user,
                    actor=self.actor,
                    job_id=self.job_id,
                    content_type=self.content_type,
                    object_id=str(row.existing_pk),
                    object_repr=str(instance)[:300],
                    action=AuditAction.UPDATE,
                    changes=changes,
                )
            )
        for columns, rows in by_columns.items():
            load.update_rows(self.model, list(columns), rows)
        write_audit_entries(audit)

    # --- The run ------------------------------------------------------------------------

    def run(self) -> ImportOutcome:
        rows = iter(self.table.rows)
        with self._transaction() as atomic_scope:
            for batch in _batches(rows, self.batch_size):
                self.process(batch)
                self.outcome.rows += len(batch)
                self.outcome.bytes_read = self.table.bytes_read()
                if self.progress is not None:
                    self.progress(self.outcome)
            if atomic_scope and self.outcome.rejected:
                # All or nothing: one bad row undoes every batch.
                transaction.set_rollback(True)
                self.outcome.rolled_back = True
        keyless = self.outcome.keyless_rows
        if keyless and self.outcome.created:
            # Said in the preview too: that is where a person can still add a key column.
            subject, them = (
                ("1 row has", "it") if keyless == 1 else (f"{keyless} rows have", "them")
            )
            self.outcome.warnings.append(
                f"{subject} no key (matched {self.schema.matching}): "
                f"importing this file again creates {them} again."
            )
        self.outcome.bytes_read = self.table.bytes_read()
        return self.outcome

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[bool]:
        if self.atomic and not self.dry_run:
            with transaction.atomic():
                yield True
        else:
            yield False


def _batches(
    rows: Iterator[tuple[int, list[str]]], size: int
) -> Iterator[list[tuple[int, list[str]]]]:
    while True:
        batch = list(islice(rows, size))
        if not batch:
            return
        yield batch


def import_file(
    file: BinaryIO,
    file_name: str,
    import_type: str,
    *,
    encoding: str | None = None,
    **options: Any,
) -> tuple[ImportOutcome, ErrorReport]:
    """Read `file` and import it; raises ImportRejected when the file as a whole cannot be.

    The caller keeps (and closes) the error report.
    """
    schema = get_schema(import_type)
    try:
        table = open_table(file, file_name, encoding=encoding)
    except ImportFileError as error:
        raise ImportRejected(str(error)) from error
    importer = Importer(schema, table, **options)
    try:
        outcome = importer.run()
    except ImportFileError as error:
        importer.report.close()
        raise ImportRejected(str(error)) from error
    return outcome, importer.report
