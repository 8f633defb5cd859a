"""Closed sets of the pipeline."""

from __future__ import annotations

from django.db import models


class JobKind(models.TextChoices):
    SYNC = "sync", "Stream sync"
    SOURCE_SYNC = "source_sync", "Source sync (all its streams)"
    WEBHOOK = "webhook", "Webhook delivery"
    RECONCILE = "reconcile", "Reconciliation (rows deleted upstream)"
    CSV_IMPORT = "csv_import", "CSV import"
    CLEANUP = "cleanup", "Cleanup"


class JobPriority(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    DEAD = "dead", "Dead (attempts exhausted)"
    CANCELLED = "cancelled", "Cancelled"


# Statuses a job never leaves on its own.
FINISHED_JOB_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED}
)


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped at a checkpoint (paused or rate-limited)"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (event not used)"
    FAILED = "failed", "Failed"


class ImportType(models.TextChoices):
    """What a CSV (or XLSX, JSON) import fills. Names are the CLI's and the API's."""

    PROJECTS = "projects", "Projects"
    BUGS = "bugs", "Bugs"
    HOURS = "hours", "Engineering hours"
    PEOPLE = "people", "People"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    # Valid rows landed; the rejected ones are in the error report.
    REJECTED_ROWS = "rejected_rows", "Succeeded with rejected rows"
    # Nothing was written: the file could not be read, a required column is missing,
    # or an atomic import met a bad row.
    FAILED = "failed", "Failed"


FINISHED_IMPORT_STATUSES = frozenset(
    {ImportStatus.SUCCEEDED, ImportStatus.REJECTED_ROWS, ImportStatus.FAILED}
)
