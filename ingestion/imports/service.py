"""Starting, running and recording imports: what the admin, the API and the CLI call.

An upload becomes a `CsvImport` (the file kept in MEDIA_ROOT) and a pipeline job
of kind `csv_import`, which runs the engine and writes the outcome, counts and
error report onto the import as it goes. The CLI runs the engine in its own
process and records the same history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone

from ingestion.choices import ImportStatus, ImportType, JobKind, JobPriority
from ingestion.imports.engine import ImportOutcome, ImportRejected, import_file
from ingestion.imports.reading import ImportFileError, detect_format
from ingestion.jobs import enqueue_job, job_progress, register_job_handler
from ingestion.models import CsvImport, IngestionJob
from tracking import audit
from tracking.choices import AuditAction

# An import job that failed on the database (not on the file) is tried again from the
# start: rows that landed the first time are then unchanged, so nothing is doubled.
IMPORT_MAX_ATTEMPTS = 3
_HASH_CHUNK = 1024 * 1024


class UploadTooLarge(ValueError):
    def __init__(self, size: int | None = None) -> None:
        limit = settings.IMPORT_MAX_BYTES
        shown = f" ({size:,} bytes)" if size else ""
        super().__init__(
            f"The file{shown} is larger than the upload limit of {limit:,} bytes "
            f"(IMPORT_MAX_BYTES, {limit / 1024 / 1024:g} MiB). Split it, or import it with "
            "`python manage.py import_csv`, which has no limit."
        )


def check_import_type(import_type: str) -> str:
    if import_type not in ImportType.values:
        raise ImportRejected(
            f"Unknown import type {import_type!r}; valid: {', '.join(ImportType.values)}."
        )
    return import_type


def file_digest(file: BinaryIO) -> tuple[str, int]:
    """SHA-256 and size, read in chunks; leaves the file at its start."""
    file.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := file.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return digest.hexdigest(), size


def check_upload(file: File, file_name: str) -> str:
    """The upload's size and format, checked before anything is stored: the file's
    format ("csv", "xlsx", "json")."""
    if file.size is not None and file.size > settings.IMPORT_MAX_BYTES:
        raise UploadTooLarge(file.size)
    file.seek(0)
    head = file.read(8192)
    file.seek(0)
    try:
        return detect_format(file_name, head)
    except ImportFileError as error:
        raise ImportRejected(str(error)) from error


def _actor(user: AbstractBaseUser | None) -> str:
    return user.get_username() if user is not None and user.is_authenticated else ""


def _started_by(user: AbstractBaseUser | None) -> dict[str, Any]:
    """Who an import is recorded as started by: the user (when signed in) and their name."""
    signed_in = user is not None and user.is_authenticated
    return {"user": user if signed_in else None, "created_by": _actor(user)}


def start_import(
    file: File,
    *,
    file_name: str,
    import_type: str,
    user: AbstractBaseUser | None = None,
    dry_run: bool = False,
    atomic: bool = False,
    encoding: str = "",
) -> CsvImport:
    """Keep the uploaded file and queue its import (or its preview, with `dry_run`)."""
    check_import_type(import_type)
    file_format = check_upload(file, file_name)
    sha256, size = file_digest(file)
    csv_import = CsvImport(
        import_type=import_type,
        file_name=Path(file_name).name[:255],
        file_sha256=sha256,
        file_size=size,
        file_format=file_format,
        encoding=encoding,
        dry_run=dry_run,
        atomic=atomic,
        **_started_by(user),
    )
    csv_import.file.save(Path(file_name).name, file, save=False)
    return _queue(csv_import, user)


def confirm_preview(
    preview: CsvImport, *, user: AbstractBaseUser | None = None, atomic: bool | None = None
) -> CsvImport:
    """Import the file a dry run previewed: the same stored file, now for real.
    Raises ImportRejected saying why when it cannot be (see `confirmation_refusal`)."""
    reason = confirmation_refusal(preview)
    if reason:
        raise ImportRejected(reason)
    csv_import = CsvImport(
        import_type=preview.import_type,
        file=preview.file.name,
        file_name=preview.file_name,
        file_sha256=preview.file_sha256,
        file_size=preview.file_size,
        file_format=preview.file_format,
        encoding=preview.encoding,
        dry_run=False,
        atomic=preview.atomic if atomic is None else atomic,
        **_started_by(user),
        preview_of=preview,
    )
    return _queue(csv_import, user)


def confirmation_refusal(preview: CsvImport) -> str:
    """Why a preview cannot be imported for real ("" when it can): the one rule the admin's
    Confirm button and the API's `preview_id` both follow."""
    if not preview.dry_run:
        return f"Import {preview.pk} is not a preview (dry run): it has been imported already."
    if not preview.is_finished:
        return (
            f"The preview {preview.pk} is {preview.status}: confirm it once its progress "
            "shows it finished."
        )
    if preview.status == ImportStatus.FAILED:
        return (
            f"The preview {preview.pk} failed ({preview.message}): fix the file and upload "
            "it again."
        )
    # A command-line preview never keeps its file, and the cleanup job empties `file`
    # on old uploads: an empty field alone does not say which of the two it was.
    if not preview.file or not preview.file.storage.exists(preview.file.name):
        return (
            "The file of this preview is not kept (a command-line preview keeps none; old "
            "uploads are cleaned up): upload it again, or import it with "
            "`python manage.py import_csv`."
        )
    return ""


def pointless_confirmation(preview: CsvImport) -> str:
    """Why importing a preview for real would write nothing ("" when it would write):
    the admin offers no Confirm button then; the API still lets a caller confirm."""
    if preview.atomic and preview.rejected:
        return (
            f"All or nothing is on and {preview.rejected} rows are rejected, so the import "
            "would write nothing: fix them (see the error report) and upload the file again."
        )
    if not (preview.created or preview.updated):
        return "Nothing to import: every row is unchanged or rejected."
    return ""


def _queue(csv_import: CsvImport, user: AbstractBaseUser | None) -> CsvImport:
    with transaction.atomic():
        csv_import.save()
        # High priority: it runs on the critical cluster, ahead of scheduled syncs,
        # because a person is watching its progress bar.
        csv_import.job = enqueue_job(
            JobKind.CSV_IMPORT,
            {"import_id": csv_import.pk, "entity": csv_import.import_type, "source": "csv"},
            JobPriority.HIGH,
            created_by=_actor(user) or "import",
            max_attempts=IMPORT_MAX_ATTEMPTS,
        )
        csv_import.save(update_fields=["job"])
    return csv_import


@register_job_handler(JobKind.CSV_IMPORT)
def run_import_job(job: IngestionJob) -> None:
    csv_import = CsvImport.objects.get(pk=job.params["import_id"])
    if csv_import.is_finished:
        return  # a retry of an attempt that finished before its worker went away
    with csv_import.file.open("rb") as file:
        run_import(csv_import, file, job=job)


def run_import(
    csv_import: CsvImport,
    file: BinaryIO,
    *,
    job: IngestionJob | None = None,
    on_progress: Callable[[ImportOutcome], None] | None = None,
    batch_size: int | None = None,
) -> CsvImport:
    """Run the engine on `file` and record everything on `csv_import`."""
    now = timezone.now()
    CsvImport.objects.filter(pk=csv_import.pk).update(
        status=ImportStatus.RUNNING, started_at=now, finished_at=None, message=""
    )
    csv_import.refresh_from_db()
    job_id = job.pk if job is not None else None

    def progress(outcome: ImportOutcome) -> None:
        _store_counts(csv_import, outcome, status=ImportStatus.RUNNING)
        if job is not None:
            job_progress(
                job, outcome.rows, outcome.rows_total or _estimated_rows(outcome, csv_import)
            )
        if on_progress is not None:
            on_progress(outcome)

    try:
        outcome, report = import_file(
            file,
            csv_import.file_name,
            csv_import.import_type,
            encoding=csv_import.encoding or None,
            dry_run=csv_import.dry_run,
            atomic=csv_import.atomic,
            actor=csv_import.created_by or (f"job {job_id}" if job_id else "import"),
            user=csv_import.user,
            job_id=job_id,
            progress=progress,
            batch_size=batch_size,
        )
    except ImportRejected as error:
        CsvImport.objects.filter(pk=csv_import.pk).update(
            status=ImportStatus.FAILED, message=str(error), finished_at=timezone.now()
        )
        csv_import.refresh_from_db()
        return csv_import
    try:
        if report.rows:
            csv_import.error_report.save(
                csv_import.error_report_name,
                ContentFile(report.read_bytes()),
                save=False,
            )
    finally:
        report.close()
    status, message = _final_status(outcome)
    csv_import.status = status
    csv_import.message = message
    _apply_outcome(csv_import, outcome)
    csv_import.finished_at = timezone.now()
    csv_import.save()
    if not csv_import.dry_run and not outcome.rolled_back and (outcome.created or outcome.updated):
        audit.record(
            csv_import,
            AuditAction.IMPORT,
            user=csv_import.user,
            job_id=job_id,
            changes=outcome.counts(),
        )
    return csv_import


def _final_status(outcome: ImportOutcome) -> tuple[str, str]:
    if outcome.rolled_back:
        return (
            ImportStatus.FAILED,
            f"{outcome.rejected} of {outcome.rows} rows were rejected, so this all-or-nothing "
            "import wrote nothing. Fix them (see the error report) and import again.",
        )
    if outcome.rejected:
        return ImportStatus.REJECTED_ROWS, ""
    return ImportStatus.SUCCEEDED, ""


def _apply_outcome(csv_import: CsvImport, outcome: ImportOutcome) -> None:
    for name, count in outcome.counts().items():
        setattr(csv_import, name, count)
    csv_import.rows_done = outcome.rows
    csv_import.rows_total = outcome.rows_total if outcome.rows_total is not None else outcome.rows
    csv_import.bytes_done = outcome.bytes_read
    csv_import.file_format = outcome.file_format or csv_import.file_format
    csv_import.columns = outcome.columns
    csv_import.unknown_columns = outcome.unknown_columns
    csv_import.warnings = outcome.warnings
    csv_import.row_errors = outcome.row_errors
    csv_import.updates = outcome.updates


def _store_counts(csv_import: CsvImport, outcome: ImportOutcome, *, status: str) -> None:
    CsvImport.objects.filter(pk=csv_import.pk).update(
        status=status,
        rows_done=outcome.rows,
        rows_total=outcome.rows_total,
        bytes_done=outcome.bytes_read,
        **outcome.counts(),
    )


def _estimated_rows(outcome: ImportOutcome, csv_import: CsvImport) -> int | None:
    """A streamed CSV's row count, estimated from the bytes read so far."""
    if not outcome.bytes_read or not csv_import.file_size:
        return None
    return max(outcome.rows, round(outcome.rows * csv_import.file_size / outcome.bytes_read))


def import_path(
    path: Path,
    import_type: str,
    *,
    dry_run: bool = False,
    atomic: bool = False,
    encoding: str = "",
    created_by: str = "",
    on_progress: Callable[[ImportOutcome], None] | None = None,
    batch_size: int | None = None,
) -> CsvImport:
    """The CLI's import: no upload limit, run here, recorded in the history like any other
    (the file stays where it is; only its name, hash and size are kept)."""
    check_import_type(import_type)
    with path.open("rb") as file:
        sha256, size = file_digest(file)
        csv_import = CsvImport.objects.create(
            import_type=import_type,
            file_name=path.name[:255],
            file_sha256=sha256,
            file_size=size,
            encoding=encoding,
            dry_run=dry_run,
            atomic=atomic,
            created_by=created_by,
        )
        return run_import(csv_import, file, on_progress=on_progress, batch_size=batch_size)


def delete_expired_import_files(now: dt.datetime | None = None) -> int:
    """Delete uploads and error reports of imports finished more than
    IMPORT_FILE_RETENTION_DAYS ago; the history rows stay, with their hashes and counts.
    A file a newer import still uses (a preview's upload, confirmed later) is kept."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.IMPORT_FILE_RETENTION_DAYS)
    expired = CsvImport.objects.filter(finished_at__lt=cutoff).exclude(file="", error_report="")
    still_used = set(
        CsvImport.objects.exclude(finished_at__lt=cutoff)
        .exclude(file="")
        .values_list("file", flat=True)
    )
    deleted = 0
    emptied = []
    for csv_import in expired.iterator():
        for file_field in (csv_import.file, csv_import.error_report):
            if file_field and file_field.name not in still_used:
                file_field.storage.delete(file_field.name)
                deleted += 1
        emptied.append(csv_import.pk)
    CsvImport.objects.filter(pk__in=emptied).update(file="", error_report="")
    return deleted
