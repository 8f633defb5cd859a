from __future__ import annotations

from django.contrib import admin

from tracking.admin.base import AuditedAdmin
from tracking.admin.imports import ImportExportMixin
from tracking.models import Project


@admin.register(Project)
class ProjectAdmin(ImportExportMixin, AuditedAdmin):
    import_type = "projects"
    list_display = (
        "name",
        "status",
        "owner",
        "github_url",
        "jira_project_key",
        "source",
        "updated_at",
    )
    list_filter = ("status", "source")
    search_fields = ("name", "description", "github_url", "jira_project_key")
    autocomplete_fields = ("owner",)
    date_hierarchy = "created_at"
    readonly_fields = ("source", "external_id", "github_repository", "created_at", "updated_at")
    fields = (
        "name",
        "description",
        "status",
        "owner",
        "github_url",
        "github_repository",
        "jira_project_key",
        "tags",
        "source",
        "external_id",
        "created_at",
        "updated_at",
        "audit_trail",
    )
