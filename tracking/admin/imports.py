"""Import and export on the change lists of projects, bugs, hours and people.

Importing is upload → preview (a dry run, as a pipeline job) → confirm → the real
import (another job) → summary, each step one page of this mixin. The work is done by
`ingestion.imports.service`; these views only start it and show the CsvImport it
writes. Export writes the change list as filtered, or the selected rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from ingestion.choices import ImportStatus
from ingestion.imports.engine import ImportRejected
from ingestion.imports.export import (
    EXPORT_FORMATS,
    error_report_response,
    export_headers,
    export_response,
)
from ingestion.imports.reading import ImportFileError, text_codec_name
from ingestion.imports.schemas import ImportSchema, get_schema
from ingestion.imports.service import (
    UploadTooLarge,
    confirm_preview,
    confirmation_refusal,
    pointless_confirmation,
    start_import,
)
from ingestion.models import CsvImport
from ingestion.models.imports import MAX_STORED_ROW_ERRORS


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV, XLSX or JSON; the extension must match the content.",
        error_messages={"required": "Choose a file to import."},
    )
    atomic = forms.BooleanField(
        label="All or nothing",
        required=False,
        help_text="Write no row at all when any row is rejected.",
    )
    encoding = forms.CharField(
        required=False,
        max_length=40,
        help_text="Only for text files that are not UTF-8: the encoding they were saved in "
        "(for example cp1252). UTF-8 and UTF-16 with a byte order mark are recognised.",
    )

    def clean_encoding(self) -> str:
        # The reading stage owns the rule for which codec names it accepts.
        name = self.cleaned_data["encoding"].strip()
        if name:
            try:
                text_codec_name(name)
            except ImportFileError as error:
                raise ValidationError(str(error)) from None
        return name


class ImportExportMixin:
    """Adds Import and Export to a ModelAdmin whose rows an import type fills.

    Put it before the ModelAdmin base class and set `import_type` ("projects",
    "bugs", "hours", "people").
    """

    import_type: ClassVar[str] = ""
    change_list_template = "admin/imports/change_list.html"

    # --- URLs ---------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        # Before the ModelAdmin's own: its "<path:object_id>/" would take these paths.
        return [
            path("import/", wrap(self.import_upload_view), name=f"{info}_import"),
            path(
                "import/template/",
                wrap(self.import_template_view),
                name=f"{info}_import_template",
            ),
            path(
                "import/<int:import_id>/",
                wrap(self.import_status_view),
                name=f"{info}_import_status",
            ),
            path(
                "import/<int:import_id>/progress",
                wrap(self.import_progress_view),
                name=f"{info}_import_progress",
            ),
            path(
                "import/<int:import_id>/confirm",
                wrap(self.import_confirm_view),
                name=f"{info}_import_confirm",
            ),
            path(
                "import/<int:import_id>/report",
                wrap(self.import_report_view),
                name=f"{info}_import_report",
            ),
            path(
                "export/<slug:file_format>/",
                wrap(self.export_changelist_view),
                name=f"{info}_export",
            ),
            *super().get_urls(),
        ]

    def _url(self, name: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    # --- Importing ----------------------------------------------------------------------

    @property
    def import_schema(self) -> ImportSchema:
        return get_schema(self.import_type)

    def _check_import_permission(self, request: HttpRequest) -> None:
        if not self.has_add_permission(request):
            raise PermissionDenied

    def _page_context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "import_type": self.import_type,
            "changelist_url": self._url("changelist"),
            "upload_url": self._url("import"),
            **extra,
        }

    def import_upload_view(self, request: HttpRequest) -> HttpResponse:
        self._check_import_permission(request)
        posted = request.method == "POST"
        form = ImportUploadForm(request.POST, request.FILES) if posted else ImportUploadForm()
        if posted and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                preview = start_import(
                    upload,
                    file_name=upload.name,
                    import_type=self.import_type,
                    user=request.user,
                    dry_run=True,
                    atomic=form.cleaned_data["atomic"],
                    encoding=form.cleaned_data["encoding"],
                )
            except (ImportRejected, UploadTooLarge) as error:
                form.add_error("file", str(error))
            else:
                return redirect(self._url("import_status", preview.pk))
        schema = self.import_schema
        context = self._page_context(
            request,
            f"Import {self.opts.verbose_name_plural}",
            form=form,
            columns=describe_columns(schema),
            matching=schema.matching,
            template_url=self._url("import_template"),
            template_name=self._template_name(),
            max_bytes=settings.IMPORT_MAX_BYTES,
        )
        return TemplateResponse(request, "admin/imports/upload.html", context)

    def _template_name(self) -> str:
        return f"{self.import_type}-template.csv"

    def import_template_view(self, request: HttpRequest) -> HttpResponse:
        """The example file kept in the repository's fixtures/, else the header row."""
        self._check_import_permission(request)
        name = self._template_name()
        stored = Path(settings.BASE_DIR) / "fixtures" / name
        if stored.is_file():
            return FileResponse(
                stored.open("rb"), as_attachment=True, filename=name, content_type="text/csv"
            )
        header = io.StringIO()
        csv.writer(header).writerow(export_headers(self.import_type))
        return HttpResponse(
            header.getvalue(),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": content_disposition_header(True, name)},
        )

    def _get_import(self, request: HttpRequest, import_id: int) -> CsvImport:
        self._check_import_permission(request)
        return get_object_or_404(
            CsvImport.objects.select_related("user", "preview_of"),
            pk=import_id,
            import_type=self.import_type,
        )

    def import_status_view(self, request: HttpRequest, import_id: int) -> HttpResponse:
        csv_import = self._get_import(request, import_id)
        kind = "preview" if csv_import.dry_run else "import"
        confirmation = _latest_confirmation(csv_import)
        context = self._page_context(
            request,
            f"{csv_import.get_import_type_display()} {kind} of {csv_import.file_name}",
            csv_import=csv_import,
            failed=csv_import.status == ImportStatus.FAILED,
            progress_url=self._url("import_progress", csv_import.pk),
            confirm_url=self._url("import_confirm", csv_import.pk),
            report_url=(
                self._url("import_report", csv_import.pk) if csv_import.error_report else ""
            ),
            updates=describe_updates(csv_import, self._change_url),
            columns_read=sorted(csv_import.columns.items()),
            row_errors_cut=len(csv_import.row_errors) >= MAX_STORED_ROW_ERRORS,
            preview_url=(
                self._url("import_status", csv_import.preview_of_id)
                if csv_import.preview_of_id
                else ""
            ),
            confirmation=confirmation,
            confirmation_url=self._url("import_status", confirmation.pk) if confirmation else "",
            cannot_confirm_because=(
                confirmation_refusal(csv_import) or pointless_confirmation(csv_import)
            ),
        )
        return TemplateResponse(request, "admin/imports/status.html", context)

    def _change_url(self, pk: int) -> str:
        try:
            return self._url("change", pk)
        except NoReverseMatch:
            return ""

    def import_progress_view(self, request: HttpRequest, import_id: int) -> JsonResponse:
        return JsonResponse(progress_payload(self._get_import(request, import_id)))

    def import_confirm_view(self, request: HttpRequest, import_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._check_import_permission(request)
        with transaction.atomic():
            # Locked so that a double click imports the file once, not twice.
            preview = get_object_or_404(
                CsvImport.objects.select_for_update(),
                pk=import_id,
                import_type=self.import_type,
            )
            earlier = _latest_confirmation(preview)
            if earlier is not None:
                return redirect(self._url("import_status", earlier.pk))
            try:
                pointless = pointless_confirmation(preview)
                if pointless:
                    raise ImportRejected(pointless)
                csv_import = confirm_preview(preview, user=request.user)
            except ImportRejected as refusal:
                messages.error(request, str(refusal))
                return redirect(self._url("import_status", preview.pk))
        return redirect(self._url("import_status", csv_import.pk))

    def import_report_view(self, request: HttpRequest, import_id: int) -> FileResponse:
        csv_import = self._get_import(request, import_id)
        if not csv_import.error_report:
            raise Http404("This import has no error report.")
        try:
            return error_report_response(csv_import)
        except FileNotFoundError:
            raise Http404("This import's error report is no longer kept.") from None

    # --- Exporting ----------------------------------------------------------------------

    def export_file_name(self) -> str:
        return f"{self.import_type}-{timezone.now():%Y%m%d-%H%M%S}"

    def export_changelist_view(
        self, request: HttpRequest, file_format: str
    ) -> HttpResponse | StreamingHttpResponse:
        """The change list as filtered, searched and ordered by the query string."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if file_format not in EXPORT_FORMATS:
            raise Http404(f"Export as {', '.join(EXPORT_FORMATS)}.")
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            # What the change list itself does with a filter it does not know.
            return HttpResponseRedirect(f"{self._url('changelist')}?{ERROR_FLAG}=1")
        return self._export(changelist.queryset, file_format)

    def _export(self, queryset: QuerySet, file_format: str) -> HttpResponse | StreamingHttpResponse:
        return export_response(self.import_type, queryset, file_format, self.export_file_name())

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # Like the ModelAdmin's own: none in popups, none when actions are switched off.
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        if not self.has_view_permission(request):
            return actions
        for name in ("export_selected_csv", "export_selected_xlsx"):
            actions[name] = self.get_action(name)
        return actions

    @admin.action(description="Export selected as CSV")
    def export_selected_csv(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | StreamingHttpResponse:
        return self._export(queryset, "csv")

    @admin.action(description="Export selected as XLSX")
    def export_selected_xlsx(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | StreamingHttpResponse:
        return self._export(queryset, "xlsx")


# --- What the pages show -------------------------------------------------------------------

# How the import finds the row a reference cell names (ingestion.imports.schemas).
REFERENCE_DESCRIPTIONS = {
    "project": "A project, by its name (any case) or its GitHub URL.",
    "person": "A person, by email, or by name when only one person has it.",
    "bug": "A bug, by its number.",
}


def describe_columns(schema: ImportSchema) -> list[dict[str, Any]]:
    """The accepted columns for the upload page: name, aliases, required, what they hold."""
    described = []
    for column in schema.columns:
        field = schema.model_field(column)
        description = column.description or (str(field.help_text) if field else "")
        if field is not None and field.choices and not column.reference:
            values = ", ".join(str(value) for value, _label in field.flatchoices)
            description = f"{description} One of: {values}.".strip()
        if column.reference:
            description = description or REFERENCE_DESCRIPTIONS.get(column.reference, "")
        described.append(
            {
                "name": column.name,
                "aliases": column.aliases,
                "required": column.required,
                "key_only": column.key_only,
                "keeps_when_empty": column.keeps_when_empty,
                "description": description,
            }
        )
    return described


def describe_updates(
    csv_import: CsvImport, change_url: Callable[[int], str]
) -> list[dict[str, Any]]:
    """The updated rows with each changed field as (field, old, new); the engine stores
    each as {"row", "id", "changes": {field: [old, new]}}."""
    return [
        {
            "row": update["row"],
            "id": update["id"],
            "url": change_url(update["id"]),
            "changes": [(name, old, new) for name, (old, new) in sorted(update["changes"].items())],
        }
        for update in csv_import.updates
    ]


def progress_payload(csv_import: CsvImport) -> dict[str, Any]:
    """What the progress bar polls: state and counts, flat, and whether to stop."""
    return {
        "id": csv_import.pk,
        "status": csv_import.status,
        "status_label": csv_import.get_status_display(),
        "finished": csv_import.is_finished,
        "dry_run": csv_import.dry_run,
        "rows_done": csv_import.rows_done,
        "rows_total": csv_import.rows_total,
        "percent": csv_import.percent_done,
        **csv_import.counts,
        "message": csv_import.message,
    }


def _latest_confirmation(preview: CsvImport) -> CsvImport | None:
    if not preview.dry_run:
        return None
    return preview.confirmations.order_by("-created_at", "-id").first()


def import_page_url(csv_import: CsvImport, page: str = "status") -> str:
    """The admin page of an import ("status") or its error report ("report"), by its type."""
    opts = get_schema(csv_import.import_type).model._meta
    try:
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_import_{page}", args=[csv_import.pk]
        )
    except NoReverseMatch:
        return ""
