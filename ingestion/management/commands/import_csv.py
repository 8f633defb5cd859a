"""`manage.py import_csv <type> <file> [--dry-run] [--atomic] [--encoding CODEC]
[--batch-size N] [--no-progress]`: import a CSV, XLSX or JSON file now, in this process.

Exit codes: 0 when every row was imported; 1 when rows were rejected (the summary
lists them and names the error report); 2 when the file as a whole could not be
imported (unreadable, a required column missing) or the command was given a type
or a path it cannot use.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from ingestion.choices import ImportStatus, ImportType
from ingestion.imports.engine import ImportOutcome, ImportRejected
from ingestion.imports.service import check_import_type, import_path
from ingestion.models import CsvImport

EXIT_ROWS_REJECTED = 1
EXIT_FILE_FAILED = 2
# Row errors shown in the terminal; all of them are in the error report.
SHOWN_ROW_ERRORS = 20
# A cell longer than this is cut in the summary: one error per line stays readable.
SHOWN_VALUE_LENGTH = 60


class Command(BaseCommand):
    help = (
        "Import projects, bugs, engineering hours or people from a CSV, XLSX or JSON file, "
        "with a progress bar and a summary. No size limit. Exit code 1 when rows were "
        "rejected, 2 when the file could not be imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("import_type", metavar="type", help=", ".join(ImportType.values))
        parser.add_argument("file", help="The file to import (.csv, .tsv, .txt, .xlsx, .json).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Write nothing; say what would be created, updated, unchanged or rejected.",
        )
        parser.add_argument(
            "--atomic",
            action="store_true",
            help="All or nothing: one rejected row and no row is written.",
        )
        parser.add_argument(
            "--encoding",
            default="",
            help="The file's encoding when it is not UTF-8 (for example cp1252, latin-1).",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_integer,
            default=None,
            help=f"Rows per batch and transaction (default IMPORT_BATCH_SIZE, "
            f"{settings.IMPORT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--no-progress",
            action="store_true",
            help="No progress bar (there is none anyway when stderr is not a terminal).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        import_type = options["import_type"]
        try:
            check_import_type(import_type)
        except ImportRejected as error:
            raise CommandError(str(error), returncode=EXIT_FILE_FAILED) from None
        path = Path(options["file"])
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise CommandError(f"{path} {what}.", returncode=EXIT_FILE_FAILED)

        # The stream under Django's OutputWrapper, which would end every write with a
        # newline and so break the bar's carriage returns.
        stream = getattr(self.stderr, "_out", self.stderr)
        bar = ImportProgressBar(stream, path.stat().st_size, enabled=not options["no_progress"])
        started = time.perf_counter()
        with bar:
            csv_import = import_path(
                path,
                import_type,
                dry_run=options["dry_run"],
                atomic=options["atomic"],
                encoding=options["encoding"],
                created_by="cli",
                on_progress=bar.update,
                batch_size=options["batch_size"],
            )
        seconds = time.perf_counter() - started

        if csv_import.status == ImportStatus.FAILED and not csv_import.rejected:
            # The file as a whole: nothing was read into rows, so there is nothing to sum up.
            raise CommandError(
                f"Nothing was imported from {path.name}: {csv_import.message}",
                returncode=EXIT_FILE_FAILED,
            )
        self.stdout.write("\n".join(summary_lines(csv_import, seconds)))
        if csv_import.rejected:
            raise CommandError(rejection_message(csv_import), returncode=EXIT_ROWS_REJECTED)


def positive_integer(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class ImportProgressBar:
    """A tqdm bar on stderr: by bytes read while the row count is unknown (a CSV file is
    streamed), by rows once the reader knows the total (XLSX and JSON are loaded whole).

    tqdm's `disable=None` leaves the bar out when the stream is not a terminal, so logs
    and pipes get the summary alone.
    """

    def __init__(self, stream: TextIO, file_size: int, *, enabled: bool) -> None:
        self.stream = stream
        self.file_size = file_size
        self.disable: bool | None = None if enabled else True
        self.bar: tqdm | None = None
        self.by_rows = False

    def __enter__(self) -> ImportProgressBar:
        self.bar = self._new_bar(total=self.file_size, unit="B", unit_scale=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def _new_bar(self, **options: Any) -> tqdm:
        return tqdm(
            file=self.stream,
            disable=self.disable,
            unit_divisor=1024,
            dynamic_ncols=True,
            **options,
        )

    def update(self, outcome: ImportOutcome) -> None:
        if self.bar is None:
            return
        if outcome.rows_total is not None and not self.by_rows:
            self.bar.leave = False  # the bytes bar gives way to the rows bar
            self.bar.close()
            self.bar = self._new_bar(total=outcome.rows_total, unit=" rows")
            self.by_rows = True
        done = outcome.rows if self.by_rows else min(outcome.bytes_read, self.file_size)
        self.bar.set_postfix(
            created=outcome.created,
            updated=outcome.updated,
            rejected=outcome.rejected,
            refresh=False,
        )
        self.bar.update(max(0, done - self.bar.n))


def summary_lines(csv_import: CsvImport, seconds: float) -> list[str]:
    """What the import did, as the terminal shows it afterwards."""
    rows = csv_import.rows_done
    rate = rows / seconds if seconds > 0 else 0.0
    counts = (
        f"{csv_import.created:,} created, {csv_import.updated:,} updated, "
        f"{csv_import.unchanged:,} unchanged, {csv_import.rejected:,} rejected"
    )
    if csv_import.dry_run:
        lines = [
            f"Dry run of {csv_import.get_import_type_display().lower()} from "
            f"{csv_import.file_name}: nothing was written.",
            f"{rows:,} rows would be: {counts} ({seconds:.1f} s, {rate:,.0f} rows/s).",
        ]
    else:
        done = "nothing was written" if csv_import.status == ImportStatus.FAILED else "done"
        lines = [
            f"Import {csv_import.pk} of {csv_import.get_import_type_display().lower()} from "
            f"{csv_import.file_name}: {done}.",
            f"{rows:,} rows: {counts} ({seconds:.1f} s, {rate:,.0f} rows/s).",
        ]
    if csv_import.status == ImportStatus.FAILED and csv_import.message:
        lines.append(csv_import.message)  # an atomic import that a bad row undid
    if csv_import.unknown_columns:
        lines.append(f"Unknown columns (ignored): {', '.join(csv_import.unknown_columns)}")
    for warning in csv_import.warnings:
        if not warning.startswith("Ignored unknown column"):  # said just above
            lines.append(f"Warning: {warning}")
    lines.extend(row_error_lines(csv_import))
    if csv_import.error_report:
        lines.append(
            f"Error report (the rejected rows, to fix and import again): "
            f"{csv_import.error_report.path}"
        )
    return lines


def row_error_lines(csv_import: CsvImport) -> list[str]:
    if not csv_import.row_errors:
        return []
    shown = csv_import.row_errors[:SHOWN_ROW_ERRORS]
    heading = "Row errors:"
    if len(csv_import.row_errors) > len(shown) or csv_import.rejected > len(shown):
        heading = f"Row errors (the first {len(shown)}; every rejected row is in the error report):"
    return [heading, *(f"  {row_error_text(error)}" for error in shown)]


def row_error_text(error: dict[str, Any]) -> str:
    """ "row 7, column severity ('urgent'): Not one of: …", the column part only when
    the error is about one cell."""
    if not error.get("column"):
        return f"row {error['row']}: {error['reason']}"
    value = str(error.get("value", ""))
    if len(value) > SHOWN_VALUE_LENGTH:
        value = value[: SHOWN_VALUE_LENGTH - 1] + "…"
    return f"row {error['row']}, column {error['column']} ({value!r}): {error['reason']}"


def rejection_message(csv_import: CsvImport) -> str:
    count = f"{csv_import.rejected:,} {'row' if csv_import.rejected == 1 else 'rows'}"
    if csv_import.dry_run:
        return f"{count} would be rejected (dry run: nothing was written)."
    verb = "was" if csv_import.rejected == 1 else "were"
    if csv_import.status == ImportStatus.FAILED:
        return f"{count} {verb} rejected, so nothing was written (--atomic)."
    return f"{count} {verb} rejected; the other rows were imported."
