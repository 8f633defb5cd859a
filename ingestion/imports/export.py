"""The export: stored projects, bugs, hours and people → a CSV or XLSX file the import reads back.

Headers are the schema's column names and every cell is written as the text the
import parses back to the stored value (choices by value, times in ISO 8601 UTC,
references by the name or email the import resolves), so an exported file,
imported again, leaves every row unchanged. Cells a spreadsheet would run as a
formula get a leading quote (OWASP's CSV-injection advice), which the import takes
off again.

The error report of an import (its rejected rows, to fix and upload again) is handed
out here too, so the admin and the API download it under one name.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import tablib
from django.db import models
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ingestion.imports.schemas import ACCOUNT_COLUMNS, Column, ImportSchema, get_schema
from ingestion.models import CsvImport
from tracking.choices import ProjectSource
from tracking.models import Bug, EngineeringHours, Identity, Person, Project

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXPORT_FORMATS = tuple(CONTENT_TYPES)
# Rows fetched per query while streaming: memory stays flat however many rows there are.
CHUNK_SIZE = 2000
# What a spreadsheet reads as the start of a formula (the import's FORMULA_STARTS).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel reads a UTF-8 CSV as the local code page unless it starts with a BOM.
BOM = "\ufeff"

CellWriter = Callable[[models.Model], str]


def escape_cell(text: str) -> str:
    """A cell a spreadsheet would run as a formula, made inert with a leading quote."""
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def value_text(value: Any) -> str:
    """A model field's value as the text the import's cell parsers read back to it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        # Naive times are UTC already (the import reads them as such).
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # str() would write 1E+1; "f" writes 10, which every spreadsheet reads.
        return format(value, "f")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


# --- References -------------------------------------------------------------------------


def person_text(person: Person | None) -> str:
    """Email, or the name for a person without one (the import finds people by either)."""
    if person is None:
        return ""
    return person.email or person.name


def project_text(project: Project | None) -> str:
    if project is None:
        return ""
    if "/" in project.name and project.github_url:
        # The import reads a cell with a slash as a GitHub URL, so such a name would
        # not be found; the URL names the same project.
        return project.github_url
    return project.name


def bug_text(bug: Bug | None) -> str:
    return bug.number if bug is not None else ""


REFERENCE_WRITERS: dict[str, Callable[[Any], str]] = {
    "project": project_text,
    "person": person_text,
    "bug": bug_text,
}


def account_text(person: Person, source: str) -> str:
    """The person's first account (by id) in the source, by the name the import looks up."""
    for identity in person.identities.all():  # prefetched, ordered by id
        if identity.source == source and (identity.username or identity.email):
            return identity.username or identity.email
    return ""


def hours_key_text(hours: EngineeringHours) -> str:
    """The import finds hours by external id only among the rows it created (source
    "csv"); any other row is found by its entry (person, date, bug, project, note), so
    its id is left out: written, it would make the import create the row again."""
    return hours.external_id if hours.source == ProjectSource.CSV else ""


# --- Rows -------------------------------------------------------------------------------


def _cell_writer(schema: ImportSchema, column: Column) -> CellWriter:
    if column.reference:
        write_reference = REFERENCE_WRITERS[column.reference]
        return lambda instance: write_reference(getattr(instance, column.field))
    if schema.model is Person and column.field in ACCOUNT_COLUMNS:
        return lambda instance: account_text(instance, column.field)
    if schema.model is EngineeringHours and column.field == "external_id":
        return hours_key_text
    attname = schema.model._meta.get_field(column.field).attname
    return lambda instance: value_text(getattr(instance, attname))


def _with_related(schema: ImportSchema, queryset: models.QuerySet) -> models.QuerySet:
    """The queryset with what the references need joined in: a fixed number of queries
    per chunk, whatever the number of rows."""
    references = [column.field for column in schema.columns if column.reference]
    if references:
        queryset = queryset.select_related(*references)
    if schema.model is Person:
        identities = Identity.objects.order_by("id")
        queryset = queryset.prefetch_related(models.Prefetch("identities", queryset=identities))
    return queryset


def export_headers(import_type: str) -> list[str]:
    """The schema's column names, in schema order: what the import expects."""
    return [column.name for column in get_schema(import_type).columns]


def export_rows(import_type: str, queryset: models.QuerySet) -> Iterator[list[str]]:
    """One list of (escaped) cell texts per object, read from the database chunk by chunk."""
    schema = get_schema(import_type)
    if queryset.model is not schema.model:
        raise ValueError(
            f"A {import_type} export needs {schema.model.__name__} rows, "
            f"not {queryset.model.__name__} rows."
        )
    writers = [_cell_writer(schema, column) for column in schema.columns]
    # Checked above, before the first row is asked for: a generator would only say so
    # halfway through a streamed response.
    return _rows(_with_related(schema, queryset), writers)


def _rows(queryset: models.QuerySet, writers: list[CellWriter]) -> Iterator[list[str]]:
    # chunk_size is required with prefetch_related (Django 5), and bounds memory.
    for instance in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield [escape_cell(write(instance)) for write in writers]


# --- Files ------------------------------------------------------------------------------


class _Echo:
    """A file whose write() hands the text back: csv.writer formats one row at a time."""

    def write(self, text: str) -> str:
        return text


def csv_lines(import_type: str, queryset: models.QuerySet) -> Iterator[str]:
    """The CSV file as text, line by line: a BOM and the header row, then each row."""
    headers = export_headers(import_type)
    rows = export_rows(import_type, queryset)
    return _csv_text(headers, rows)


def _csv_text(headers: list[str], rows: Iterator[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(headers)
    for row in rows:
        yield writer.writerow(row)


def xlsx_bytes(import_type: str, queryset: models.QuerySet) -> bytes:
    """The XLSX workbook: one sheet, the header row, each row's cells as text."""
    dataset = tablib.Dataset(headers=export_headers(import_type), title=import_type)
    for row in export_rows(import_type, queryset):
        dataset.append(_xlsx_safe(row))
    return dataset.export("xlsx")


def _xlsx_safe(cells: Iterable[str]) -> list[str]:
    # XML 1.0 cannot hold most control characters; openpyxl refuses the cell otherwise.
    return [ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in cells]


def _file_name_with_extension(file_name: str, file_format: str) -> str:
    if PurePath(file_name).suffix.lower() == f".{file_format}":
        return file_name
    # The import decides the format by the extension: keep the two in agreement.
    return f"{file_name}.{file_format}"


def export_response(
    import_type: str, queryset: models.QuerySet, file_format: str, file_name: str
) -> HttpResponse | StreamingHttpResponse:
    """The download: CSV streamed row by row, or an XLSX workbook built in memory."""
    if file_format not in EXPORT_FORMATS:
        raise ValueError(
            f"Unknown export format {file_format!r}; valid: {', '.join(EXPORT_FORMATS)}."
        )
    disposition = content_disposition_header(
        as_attachment=True, filename=_file_name_with_extension(file_name, file_format)
    )
    if file_format == "csv":
        response: HttpResponse | StreamingHttpResponse = StreamingHttpResponse(
            csv_lines(import_type, queryset), content_type=CONTENT_TYPES["csv"]
        )
    else:
        response = HttpResponse(
            xlsx_bytes(import_type, queryset), content_type=CONTENT_TYPES["xlsx"]
        )
    response["Content-Disposition"] = disposition
    return response


def error_report_response(csv_import: CsvImport) -> FileResponse:
    """The download of an import's error report, named after the uploaded file
    ("bugs.csv" → "bugs-errors.csv"). FileNotFoundError once the stored file is gone."""
    return FileResponse(
        csv_import.error_report.open("rb"),
        as_attachment=True,
        filename=csv_import.error_report_name,
        content_type=CONTENT_TYPES["csv"],
    )
