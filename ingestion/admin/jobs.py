"""Admin for jobs and the dead-letter queue (filter status = dead), and the pause switch."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ingestion.choices import JobStatus
from ingestion.jobs import cancel_jobs, pause_pipeline, resume_pipeline, retry_dead_jobs
from ingestion.models.jobs import IngestionJob, PipelineControl


class DeadLetterFilter(admin.SimpleListFilter):
    """A one-click view of the DLQ: jobs that used up their attempts."""

    title = "dead-letter queue"
    parameter_name = "dlq"

    def lookups(self, request, model_admin):
        return [("yes", "Dead jobs (DLQ)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=JobStatus.DEAD)
        return queryset


@admin.register(IngestionJob)
class IngestionJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "source",
        "entity",
        "scope",
        "priority",
        "status",
        "attempts",
        "next_attempt_at",
        "progress_done",
        "fetched",
        "created_at",
        "duration_seconds",
    )
    list_filter = (DeadLetterFilter, "status", "kind", "source", "priority", "waiting_for")
    search_fields = ("source", "entity", "scope", "last_error", "created_by")
    date_hierarchy = "created_at"
    actions = ("retry_selected", "cancel_selected")
    # Jobs are written by the pipeline only: the admin looks and acts, never edits.
    readonly_fields = [field.name for field in IngestionJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Retry selected dead or failed jobs")
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[IngestionJob]) -> None:
        count = retry_dead_jobs(ids=queryset.values_list("pk", flat=True))
        skipped = queryset.count() - count
        self.message_user(request, f"{count} job(s) queued again.", messages.SUCCESS)
        if skipped > 0:
            self.message_user(
                request,
                f"{skipped} job(s) skipped: only dead or failed jobs can be retried.",
                messages.WARNING,
            )

    @admin.action(description="Cancel selected unfinished jobs")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[IngestionJob]) -> None:
        count = cancel_jobs(queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} job(s) cancelled.", messages.SUCCESS)


@admin.register(PipelineControl)
class PipelineControlAdmin(admin.ModelAdmin):
    list_display = ("__str__", "paused", "changed_at", "changed_by")
    readonly_fields = ("changed_at", "changed_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not PipelineControl.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        # Through the services, so resuming also sends the jobs the pause held back.
        if obj.paused:
            pause_pipeline(by=request.user.get_username())
        else:
            resume_pipeline(by=request.user.get_username())
