"""The history of imports: every upload, preview and CLI import, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from ingestion.admin.sync import ReadOnlyAdmin
from ingestion.models import CsvImport
from tracking.admin.imports import import_page_url


@admin.register(CsvImport)
class CsvImportAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "who",
        "import_type",
        "kind",
        "file_name",
        "short_sha256",
        "status",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "links",
    )
    list_filter = ("import_type", "status", "dry_run", "atomic", "file_format")
    search_fields = ("file_name", "file_sha256", "created_by", "user__username")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    # The stored files are reached through the import pages, never as MEDIA_URL links
    # (media is not served; the pages check permissions).
    fields = (
        "import_type",
        "kind",
        "file_name",
        "file_sha256",
        "file_size",
        "file_format",
        "encoding",
        "atomic",
        "who",
        "status",
        "message",
        "rows_done",
        "rows_total",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "unknown_columns",
        "warnings",
        "job",
        "preview_of",
        "created_at",
        "started_at",
        "finished_at",
        "links",
    )
    readonly_fields = fields

    # Written by the import service only (ReadOnlyAdmin): the admin looks, never edits,
    # and never deletes a row of the history.
    def has_delete_permission(self, request: HttpRequest, obj: CsvImport | None = None) -> bool:
        return False

    @admin.display(description="Who", ordering="created_by")
    def who(self, obj: CsvImport) -> str:
        if obj.user is not None:
            return obj.user.get_username()
        return obj.created_by or "—"

    @admin.display(description="Kind", ordering="dry_run")
    def kind(self, obj: CsvImport) -> str:
        return "Preview" if obj.dry_run else "Import"

    @admin.display(description="SHA-256", ordering="file_sha256")
    def short_sha256(self, obj: CsvImport) -> str:
        return format_html('<code title="{}">{}…</code>', obj.file_sha256, obj.file_sha256[:12])

    @admin.display(description="Links")
    def links(self, obj: CsvImport) -> str:
        targets = [("Import page", import_page_url(obj, "status"))]
        if obj.error_report:
            targets.append(("Error report", import_page_url(obj, "report")))
        return format_html_join(
            " · ", '<a href="{}">{}</a>', ((url, label) for label, url in targets if url)
        )
