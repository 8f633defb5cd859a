"""Jobs: every unit of background work, with its attempts, timings and counts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from ingestion.choices import JobKind, JobPriority, JobStatus

__all__ = ["IngestionJob", "PipelineControl"]


class IngestionJob(models.Model):
    """One unit of background work run by a django-q2 worker.

    Workers claim a job with compare-and-set on `status`, so two workers never
    run the same job; `heartbeat_at` lets a sweeper find a job whose worker died
    (the Redis broker does not acknowledge tasks) and queue it again.
    """

    kind = models.CharField(max_length=20, choices=JobKind.choices)
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text='For a sync: {"source", "entity", "scope", "full"}.',
    )
    # Denormalized from params so lists filter by them with an index.
    source = models.CharField(max_length=50, blank=True, default="", db_index=True)
    entity = models.CharField(max_length=50, blank=True, default="")
    scope = models.CharField(max_length=300, blank=True, default="")
    priority = models.CharField(
        max_length=10, choices=JobPriority.choices, default=JobPriority.NORMAL
    )
    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Why a retrying job waits: "backoff" (a transient error), "breaker" (its source's
    # circuit breaker is open) or "pause" (the pipeline is paused; resume sends it).
    waiting_for = models.CharField(max_length=20, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    # The counts of the job's last sync run (see SyncRun), copied for lists.
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=200, blank=True, default="")
    task_id = models.CharField(
        max_length=64, blank=True, default="", help_text="The django-q2 task of the last attempt."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When a django-q2 task for this job was last put on the broker: the sweeper
    # re-enqueues a queued job whose task was lost (the Redis broker has no ack).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="ingestion_job_due"),
            models.Index(fields=["kind", "status"], name="ingestion_job_kind"),
            models.Index(fields=["finished_at"], name="ingestion_job_finished"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.target} ({self.status})"

    @property
    def queue_name(self) -> str:
        """The django-q2 cluster (queue) that runs this job; see `ingestion.jobs.cluster_for`."""
        from ingestion.jobs import cluster_for

        return cluster_for(self.priority)

    @property
    def target(self) -> str:
        return "/".join(part for part in (self.source, self.entity, self.scope) if part)


class PipelineControl(models.Model):
    """The pipeline's switches, one row (pk=1) shared by every process.

    While `paused`, no job starts and running syncs stop at their next checkpoint.
    """

    SINGLETON_PK = 1

    paused = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        verbose_name = "pipeline control"
        verbose_name_plural = "pipeline control"

    def __str__(self) -> str:
        return "pipeline paused" if self.paused else "pipeline running"
