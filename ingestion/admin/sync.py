"""Admin for sync state, runs, raw and rejected records."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from ingestion.errors import IngestionError
from ingestion.harness import retry_rejected
from ingestion.models import RawRecord, RejectedRecord, SyncRun, SyncState


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the pipeline only: viewing, never editing."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def pretty_json(value: object) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "high_water_mark",
        "last_success_at",
        "cursor",
        "locked_by",
        "lock_expires_at",
    ]
    list_filter = ["source", "entity"]
    search_fields = ["source", "entity", "scope"]
    readonly_fields = ["source", "entity", "scope", "last_run", "version", "updated_at"]
    # The mark and the cursor stay editable: clearing them forces a full re-read.


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source",
        "entity",
        "scope",
        "status",
        "started_at",
        "duration_seconds",
        "fetched",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "counts_mismatch",
    ]
    list_filter = ["status", "source", "entity", "counts_mismatch", "from_raw"]
    search_fields = ["source", "entity", "scope", "error"]
    date_hierarchy = "started_at"


@admin.register(RawRecord)
class RawRecordAdmin(ReadOnlyAdmin):
    list_display = ["source", "entity", "scope", "external_id", "fetched_at", "run"]
    list_filter = ["source", "entity"]
    search_fields = ["external_id"]
    readonly_fields = ["payload_pretty"]
    exclude = ["payload"]
    show_full_result_count = False  # no full-table COUNT on a table this large

    @admin.display(description="payload")
    def payload_pretty(self, obj: RawRecord) -> str:
        return pretty_json(obj.payload)


@admin.register(RejectedRecord)
class RejectedRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "source",
        "entity",
        "scope",
        "external_id",
        "short_error",
        "attempts",
        "resolved",
        "updated_at",
    ]
    list_filter = ["resolved", "source", "entity"]
    search_fields = ["external_id", "error"]
    readonly_fields = ["payload_pretty"]
    exclude = ["payload"]
    actions = ["retry_normalization"]

    @admin.display(description="error")
    def short_error(self, obj: RejectedRecord) -> str:
        return obj.error[:120]

    @admin.display(description="payload")
    def payload_pretty(self, obj: RejectedRecord) -> str:
        return pretty_json(obj.payload)

    @admin.action(description="Retry normalization of the selected records")
    def retry_normalization(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            runs = retry_rejected(queryset)
        except IngestionError as error:
            self.message_user(request, str(error), messages.WARNING)
            return
        loaded = sum(run.created + run.updated + run.unchanged for run in runs)
        still = sum(run.rejected for run in runs)
        level = messages.SUCCESS if not still else messages.WARNING
        self.message_user(request, f"{loaded} loaded, {still} still rejected.", level)
