"""Sync checkpoints, runs, raw and rejected records."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from ingestion.choices import RunStatus

__all__ = ["RawRecord", "RejectedRecord", "SyncRun", "SyncState"]


class SyncRun(models.Model):
    """One execution of the harness for one stream and scope, with its counts.

    Counts are saved after every page, so a run in progress shows how far it got.
    A run whose process died stays "running" until the sweeper fails it
    (`ingestion.jobs.fail_orphaned_runs`).
    `job_id` is a plain number, not a foreign key: runs outlive cleaned-up jobs.
    """

    # The counts a run keeps, copied onto its job and shown by the API and metrics.
    COUNT_FIELDS = (
        "fetched",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "pages",
        "requests",
        "retries",
    )

    source = models.CharField(max_length=50)
    entity = models.CharField(max_length=50)
    scope = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(
        max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True
    )
    full = models.BooleanField(default=False, help_text="Re-read everything, ignoring the mark.")
    from_raw = models.BooleanField(
        default=False, help_text="Rebuilt from kept raw payloads, without calling the upstream."
    )
    job_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # The stream lock token (SyncState.locked_by) this run holds: while the lock still
    # names it, is fresh and its process lives, the run is alive; otherwise the
    # sweeper closes a run left "running" by a killed process.
    holder = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    fetched = models.PositiveIntegerField(
        default=0, help_text="Records read: from the upstream, plus rejected records re-tried."
    )
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    counts_mismatch = models.BooleanField(
        default=False,
        help_text="fetched ≠ created + updated + unchanged + rejected: some record is unaccounted.",
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["source", "entity", "started_at"], name="ingestion_run_stream"),
        ]

    def __str__(self) -> str:
        target = "/".join(part for part in (self.source, self.entity, self.scope) if part)
        return f"run {self.pk} {target} ({self.status})"

    @property
    def accounted(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected


class SyncState(models.Model):
    """Where one stream (and scope) stands: its checkpoint, its mark and its lock.

    `cursor` is set while a run is unfinished: the next run resumes from it and
    reads the same window (`run_since`). The lock is a compare-and-set claim on
    `locked_by`, refreshed in every page transaction; an expired claim, or one
    whose process died on this host, can be taken over.
    """

    source = models.CharField(max_length=50)
    entity = models.CharField(max_length=50)
    scope = models.CharField(max_length=300, blank=True, default="")
    cursor = models.JSONField(null=True, blank=True, help_text="Resume point of an unfinished run.")
    run_since = models.DateTimeField(
        null=True, blank=True, help_text="Lower bound of the unfinished run (empty: full read)."
    )
    run_full = models.BooleanField(default=False)
    pending_high_water_mark = models.DateTimeField(null=True, blank=True)
    high_water_mark = models.DateTimeField(
        null=True, blank=True, help_text="Latest change time read by a successful run (UTC)."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    etags = models.JSONField(
        default=dict,
        blank=True,
        help_text="Conditional-request validators (URL → ETag) of the last successful run.",
    )
    version = models.PositiveIntegerField(default=0, help_text="Bumped at every checkpoint.")
    locked_by = models.CharField(max_length=200, blank=True, default="")
    lock_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["source", "entity", "scope"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "entity", "scope"], name="ingestion_syncstate_stream"
            ),
        ]

    def __str__(self) -> str:
        return "/".join(part for part in (self.source, self.entity, self.scope) if part)


class RawRecord(models.Model):
    """The latest raw payload of one record, so rows can be rebuilt without the upstream.

    Rewritten only when the payload changes (`payload_signature`), so an unchanged
    re-read writes nothing; `fetched_at` is therefore when this payload was first read.
    """

    source = models.CharField(max_length=50)
    entity = models.CharField(max_length=50)
    scope = models.CharField(max_length=300, blank=True, default="")
    external_id = models.CharField(max_length=255)
    payload = models.JSONField()
    payload_signature = models.CharField(max_length=32)
    fetched_at = models.DateTimeField(default=timezone.now, db_index=True)
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["source", "entity", "external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "entity", "external_id"], name="ingestion_rawrecord_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.entity} {self.external_id}"


class RejectedRecord(models.Model):
    """A record that could not be normalized or loaded: kept, counted, and re-tried."""

    source = models.CharField(max_length=50)
    entity = models.CharField(max_length=50)
    scope = models.CharField(max_length=300, blank=True, default="")
    external_id = models.CharField(
        max_length=255, blank=True, default="", help_text="Empty when the key itself was bad."
    )
    payload = models.JSONField()
    error = models.TextField()
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="rejected_records"
    )
    attempts = models.PositiveIntegerField(default=1)
    resolved = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["source", "entity", "scope", "resolved"], name="ingestion_rejected_open"
            ),
        ]

    def __str__(self) -> str:
        key = self.external_id or "(no key)"
        return f"{self.source}/{self.entity} {key}: {self.error[:80]}"
