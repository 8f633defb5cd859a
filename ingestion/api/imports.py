"""The import API: upload a CSV/XLSX/JSON file, follow its progress, list the history,
download the error report.

    POST /api/ingest/csv                     upload (or confirm a preview) → 202, a job
    GET  /api/ingest/csv/progress/<id>       rows done, counts, state, row errors
    GET  /api/ingest/csv/history             every import, newest first (keyset pages)
    GET  /api/ingest/csv/<id>/report         the rejected rows as CSV, with an `error` column

The views stay thin: `ingestion.imports.service` stores the file and queues the job,
the engine decides what each row becomes. Starting an import needs staff, or the
model's add permission for the type (tracking.add_bug for bugs…); reading needs a
signed-in user.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import FileResponse
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from ingestion.api.views import JobCursorPagination, ReadAuthenticatedWriteStaff
from ingestion.choices import ImportStatus, ImportType
from ingestion.imports.engine import ImportRejected
from ingestion.imports.export import error_report_response
from ingestion.imports.reading import ImportFileError, text_codec_name
from ingestion.imports.schemas import get_schema
from ingestion.imports.service import UploadTooLarge, confirm_preview, start_import
from ingestion.models import CsvImport
from ingestion.redaction import redact
from tracking.api.serializers import UtcDateTimeField

# Room for the multipart envelope (boundaries, part headers, the small form fields)
# around a file of exactly IMPORT_MAX_BYTES; the file itself is measured again,
# exactly, once parsed.
MULTIPART_ENVELOPE_BYTES = 64 * 1024


def import_permission(import_type: str) -> str:
    """The permission that lets a non-staff user import this type: the model's add
    permission ("tracking.add_bug"), as in the admin."""
    options = get_schema(import_type).model._meta
    return f"{options.app_label}.add_{options.model_name}"


def may_import(user: AbstractBaseUser | AnonymousUser, import_type: str) -> bool:
    return bool(user.is_staff) or user.has_perm(import_permission(import_type))


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "upload_too_large"


def refuse_oversized_body(request: Request) -> None:
    """413 from the declared Content-Length alone, so a 2 GB upload is refused before
    a byte of it is read (a chunked request without one has an empty body in WSGI)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return  # Django reads such a body as empty; the missing file is then a 400.
    if declared > settings.IMPORT_MAX_BYTES + MULTIPART_ENVELOPE_BYTES:
        raise PayloadTooLarge(str(UploadTooLarge(declared)))


class CanStartImports(BasePermission):
    """Reading: any signed-in user. Uploading: staff, or a user holding the add
    permission of at least one import type (the type itself is checked once known)."""

    @property
    def message(self) -> str:
        permissions = ", ".join(import_permission(import_type) for import_type in ImportType)
        return (
            "Starting an import needs staff, or the add permission of the type imported "
            f"({permissions})."
        )

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        return any(may_import(user, import_type) for import_type in ImportType.values)


# --- Serializers ---------------------------------------------------------------------


class ImportRequestSerializer(serializers.Serializer):
    """Body of `POST /api/ingest/csv`: a `file` and its `type`, or the `preview_id` of a
    finished dry run to import for real."""

    file = serializers.FileField(required=False)
    type = serializers.ChoiceField(
        choices=ImportType.choices,
        required=False,
        error_messages={
            "invalid_choice": (
                f'"{{input}}" is not an import type; valid: {", ".join(ImportType.values)}.'
            )
        },
    )
    preview_id = serializers.IntegerField(required=False, min_value=1)
    dry_run = serializers.BooleanField(required=False, default=False)
    # None when not given: a confirmation then keeps the preview's choice.
    atomic = serializers.BooleanField(required=False, allow_null=True, default=None)
    encoding = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)

    def validate_encoding(self, encoding: str) -> str:
        # The reading stage owns the rule for which codec names it accepts; asking it
        # here turns a misspelt encoding into a 400 now, not a failed import later.
        encoding = encoding.strip()
        if encoding:
            try:
                text_codec_name(encoding)
            except ImportFileError as error:
                raise serializers.ValidationError(str(error), code="unknown_encoding") from None
        return encoding

    def validate_preview_id(self, pk: int) -> CsvImport:
        preview = CsvImport.objects.filter(pk=pk).first()
        if preview is None:
            raise serializers.ValidationError(f"No import {pk}.", code="not_found")
        # Whether it can be confirmed is the service's rule (confirm_preview says why not),
        # which needs the `atomic` this request may set too.
        return preview

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        preview = attrs.get("preview_id")
        if preview is None:
            return self._validate_upload(attrs)
        return self._validate_confirmation(attrs, preview)

    def _validate_upload(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = {}
        if "file" not in attrs:
            errors["file"] = [
                "No file was submitted: give a file, or the preview_id of a finished "
                "dry run to confirm."
            ]
        if "type" not in attrs:
            errors["type"] = [f"This field is required: one of {', '.join(ImportType.values)}."]
        if errors:
            raise serializers.ValidationError(errors, code="required")
        return attrs

    def _validate_confirmation(self, attrs: dict[str, Any], preview: CsvImport) -> dict[str, Any]:
        errors = {}
        if "file" in attrs:
            errors["preview_id"] = ["Give a file or a preview_id, not both."]
        if attrs["dry_run"]:
            errors["dry_run"] = ["Confirming a preview is the real import: leave dry_run out."]
        if attrs.get("type", preview.import_type) != preview.import_type:
            errors["type"] = [f"The preview {preview.pk} is of {preview.import_type}."]
        if attrs["encoding"] and attrs["encoding"] != preview.encoding:
            errors["encoding"] = ["A confirmation reads the file as its preview did."]
        if errors:
            raise serializers.ValidationError(errors, code="invalid_confirmation")
        return attrs


class ImportSummarySerializer(serializers.ModelSerializer):
    """One import as the history lists it."""

    type = serializers.CharField(source="import_type", read_only=True)
    counts = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    progress_url = serializers.SerializerMethodField()
    error_report_url = serializers.SerializerMethodField()
    # ISO 8601 in UTC ("…Z"), as the fetch API writes times.
    created_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = CsvImport
        fields = [
            "id",
            "created_by",
            "created_at",
            "type",
            "file_name",
            "file_sha256",
            "file_size",
            "dry_run",
            "atomic",
            "status",
            "counts",
            "message",
            "preview_of",
            "progress_url",
            "error_report_url",
        ]
        read_only_fields = fields

    def get_counts(self, csv_import: CsvImport) -> dict[str, int]:
        return csv_import.counts

    # The message of a failed file may quote its content; a response is the last
    # place a pasted token could still leak.
    def get_message(self, csv_import: CsvImport) -> str:
        return redact(csv_import.message)

    def get_progress_url(self, csv_import: CsvImport) -> str:
        return self._url("pipeline:import-progress", csv_import)

    def get_error_report_url(self, csv_import: CsvImport) -> str | None:
        if not csv_import.error_report:
            return None
        return self._url("pipeline:import-report", csv_import)

    def _url(self, name: str, csv_import: CsvImport) -> str:
        return reverse(name, kwargs={"pk": csv_import.pk}, request=self.context.get("request"))


class ImportProgressSerializer(ImportSummarySerializer):
    """One import as its progress bar and summary page need it."""

    percent = serializers.IntegerField(source="percent_done", read_only=True)
    job = serializers.SerializerMethodField()
    started_at = UtcDateTimeField(read_only=True)
    finished_at = UtcDateTimeField(read_only=True)

    class Meta(ImportSummarySerializer.Meta):
        fields = [
            "id",
            "status",
            "dry_run",
            "atomic",
            "type",
            "file_name",
            "file_size",
            "created_by",
            "preview_of",
            "rows_done",
            "rows_total",
            "percent",
            "counts",
            "message",
            "warnings",
            "unknown_columns",
            "row_errors",
            "updates",
            "error_report_url",
            "job",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_job(self, csv_import: CsvImport) -> dict[str, Any] | None:
        job = csv_import.job
        if job is None:
            return None  # CLI imports have none; old jobs are deleted by retention
        return {
            "id": job.pk,
            "status": job.status,
            "attempts": job.attempts,
            "last_error": redact(job.last_error),
        }


def accepted_import(csv_import: CsvImport, request: Request) -> Response:
    """202 for a queued import: where to follow it and what to do next."""
    progress_url = reverse(
        "pipeline:import-progress", kwargs={"pk": csv_import.pk}, request=request
    )
    links = {
        "progress": progress_url,
        "job": reverse("pipeline:job-detail", kwargs={"pk": csv_import.job_id}, request=request),
        "history": reverse("pipeline:import-history", request=request),
    }
    if csv_import.dry_run:
        # POST here with {"preview_id": <id>} once the preview has finished.
        links["confirm"] = reverse("pipeline:import-upload", request=request)
    body = {
        "id": csv_import.pk,
        "job_id": csv_import.job_id,
        "status": csv_import.status,
        "type": csv_import.import_type,
        "dry_run": csv_import.dry_run,
        "atomic": csv_import.atomic,
        "progress_url": progress_url,
        "links": links,
    }
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": progress_url})


# --- Views ---------------------------------------------------------------------------


class ImportUploadView(APIView):
    """POST /api/ingest/csv (multipart: file, type, dry_run, atomic, encoding; or
    preview_id to confirm a finished dry run) → 202 with the import and its job."""

    permission_classes = [CanStartImports]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication: the session's CSRF check reads request.POST, which
        # would parse, and spool to disk, the whole multipart body.
        refuse_oversized_body(request)
        super().initial(request, *args, **kwargs)

    def post(self, request: Request) -> Response:
        body = ImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        preview = data.get("preview_id")
        import_type = preview.import_type if preview is not None else data["type"]
        if not may_import(request.user, import_type):
            raise PermissionDenied(
                f"Importing {import_type} needs staff or the {import_permission(import_type)} "
                "permission."
            )
        if preview is not None:
            return accepted_import(self._confirm(preview, request, data["atomic"]), request)
        return accepted_import(self._start(data, import_type, request), request)

    def _start(self, data: dict[str, Any], import_type: str, request: Request) -> CsvImport:
        upload = data["file"]
        try:
            return start_import(
                upload,
                file_name=upload.name,
                import_type=import_type,
                user=request.user,
                dry_run=data["dry_run"],
                atomic=bool(data["atomic"]),
                encoding=data["encoding"],
            )
        except UploadTooLarge as error:
            raise PayloadTooLarge(str(error)) from error
        except ImportRejected as error:
            raise serializers.ValidationError({"file": [str(error)]}) from error

    def _confirm(self, preview: CsvImport, request: Request, atomic: bool | None) -> CsvImport:
        try:
            return confirm_preview(preview, user=request.user, atomic=atomic)
        except ImportRejected as error:
            raise serializers.ValidationError({"preview_id": [str(error)]}) from error


class ImportProgressView(generics.RetrieveAPIView):
    """GET /api/ingest/csv/progress/<id>: what the progress bar polls."""

    queryset = CsvImport.objects.select_related("job")
    serializer_class = ImportProgressSerializer
    permission_classes = [ReadAuthenticatedWriteStaff]


class ImportHistoryFilter(django_filters.FilterSet):
    """`?type=bugs&status=failed&dry_run=false`; an unknown choice is a 400 naming the field."""

    type = django_filters.ChoiceFilter(field_name="import_type", choices=ImportType.choices)
    status = django_filters.MultipleChoiceFilter(choices=ImportStatus.choices)
    dry_run = django_filters.BooleanFilter()

    class Meta:
        model = CsvImport
        fields = ["type", "status", "dry_run"]


class ImportHistoryView(generics.ListAPIView):
    """GET /api/ingest/csv/history: every import, newest first, a cursor page at a time."""

    queryset = CsvImport.objects.all()
    serializer_class = ImportSummarySerializer
    filterset_class = ImportHistoryFilter
    # Newest first by (created_at, id): the order of the ingestion_import_created index.
    pagination_class = JobCursorPagination
    permission_classes = [ReadAuthenticatedWriteStaff]


class IgnoreAcceptHeader(BaseContentNegotiation):
    """The report is CSV and its errors JSON whatever the client asks for: a download
    link followed with `Accept: text/csv` must not be a 406."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0]

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class ImportErrorReportView(APIView):
    """GET /api/ingest/csv/<id>/report: the rejected rows as they were in the file, with
    an `error` column, ready to fix and upload again."""

    permission_classes = [ReadAuthenticatedWriteStaff]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAcceptHeader

    def get(self, request: Request, pk: int) -> FileResponse:
        csv_import = CsvImport.objects.filter(pk=pk).first()
        if csv_import is None:
            raise NotFound(f"No import {pk}.")
        if not csv_import.error_report:
            why = "no row was rejected" if csv_import.is_finished else "it has not finished"
            raise NotFound(f"Import {pk} has no error report: {why}.")
        try:
            return error_report_response(csv_import)
        except FileNotFoundError:
            raise NotFound(
                f"The error report of import {pk} is no longer kept "
                f"(IMPORT_FILE_RETENTION_DAYS = {settings.IMPORT_FILE_RETENTION_DAYS})."
            ) from None
