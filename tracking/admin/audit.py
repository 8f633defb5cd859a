"""The audit log: readable by staff, changed by nobody."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from tracking.admin.base import describe_changes
from tracking.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor",
        "action",
        "content_type",
        "object_repr",
        "change_summary",
    )
    list_filter = ("action", "content_type")
    search_fields = ("object_repr", "actor", "=object_id")
    date_hierarchy = "created_at"
    list_select_related = ("content_type",)
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    @admin.display(description="Changes")
    def change_summary(self, obj: AuditLog) -> str:
        return describe_changes(obj.changes)[:200]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False
