"""CSV / XLSX / JSON imports: the uploaded file, what the import made of it, and its report."""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.utils import timezone

from ingestion.choices import FINISHED_IMPORT_STATUSES, ImportStatus, ImportType
from ingestion.models.jobs import IngestionJob

__all__ = ["CsvImport"]

# Row errors kept on the import for the preview and the API; the error report holds all.
MAX_STORED_ROW_ERRORS = 200
# Updated rows shown in the preview with the fields they change.
MAX_STORED_UPDATES = 50


class CsvImport(models.Model):
    """One import of one file, a dry run (the preview) or the real thing.

    The history of imports that `/api/ingest/csv/history` and the admin list: who,
    when, which file (name and SHA-256), the counts, the outcome and the error report.
    """

    import_type = models.CharField("type", max_length=20, choices=ImportType.choices)
    # Empty for CLI imports: the file stays where it was read from.
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300, blank=True)
    file_name = models.CharField(max_length=255, help_text="The name the file was uploaded with.")
    file_sha256 = models.CharField("SHA-256", max_length=64, db_index=True)
    file_size = models.PositiveBigIntegerField(default=0)
    file_format = models.CharField(max_length=10, blank=True, default="")
    encoding = models.CharField(
        max_length=40, blank=True, default="", help_text="The declared fallback encoding, if any."
    )
    dry_run = models.BooleanField(default=False)
    atomic = models.BooleanField(default=False, help_text="All rows or none.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.CharField(max_length=200, blank=True, default="")
    job = models.ForeignKey(
        IngestionJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports"
    )
    preview_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="confirmations",
        help_text="For a confirmed import: the dry run that previewed it.",
    )
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.QUEUED, db_index=True
    )
    message = models.TextField(
        blank=True, default="", help_text="Why the whole file failed, when it did."
    )
    rows_total = models.PositiveIntegerField(
        null=True, blank=True, help_text="Known for XLSX and JSON; estimated from bytes for CSV."
    )
    rows_done = models.PositiveIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    columns = models.JSONField(
        default=dict, blank=True, help_text="{header in the file: field it was read into}."
    )
    unknown_columns = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    row_errors = models.JSONField(
        default=list,
        blank=True,
        help_text=f"The first {MAX_STORED_ROW_ERRORS}: row, column, value, reason.",
    )
    updates = models.JSONField(
        default=list,
        blank=True,
        help_text=f"The first {MAX_STORED_UPDATES} updated rows with their changed fields.",
    )
    error_report = models.FileField(upload_to="imports/reports/%Y/%m/", blank=True, max_length=300)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # What the import did to rows (or, for a preview, would do).
    COUNT_FIELDS = ("created", "updated", "unchanged", "rejected")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "CSV import"
        indexes = [models.Index(fields=["created_at", "id"], name="ingestion_import_created")]

    def __str__(self) -> str:
        kind = "preview" if self.dry_run else "import"
        return f"{self.get_import_type_display()} {kind} of {self.file_name} ({self.status})"

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNT_FIELDS}

    @property
    def error_report_name(self) -> str:
        """What the error report is called: "bugs.csv" → "bugs-errors.csv"."""
        return f"{PurePath(self.file_name).stem}-errors.csv"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_IMPORT_STATUSES

    @property
    def percent_done(self) -> int:
        """For the progress bar: by rows when the total is known, else by bytes read."""
        if self.is_finished:
            return 100
        if self.rows_total:
            return min(99, self.rows_done * 100 // self.rows_total)
        if self.file_size:
            return min(99, self.bytes_done * 100 // self.file_size)
        return 0
