"""The pipeline API: sync now, jobs, dead-letter queue, pause/resume, stats, health, metrics.

Reading needs an authenticated user, anything that starts or changes work needs
staff. `/api/health` and `/metrics` are open (load balancers and Prometheus have
no session) and show no secret: states, counts and redacted error summaries.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework import mixins, status, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView, exception_handler

from ingestion import jobs as job_service
from ingestion.api.serializers import (
    DeadJobRetrySerializer,
    IngestionJobSerializer,
    JobRequestSerializer,
    SyncRequestSerializer,
)
from ingestion.choices import JobKind, JobStatus
from ingestion.filters import IngestionJobFilter
from ingestion.health import run_checks
from ingestion.metrics import pipeline_stats, prometheus_registry, stream_metrics
from ingestion.models import IngestionJob
from ingestion.redaction import redact, redact_value
from ingestion.streams import UnknownStream, all_streams, get_stream


def redacting_exception_handler(error: Exception, context: dict) -> Response | None:
    """DRF's handler, with secrets removed from the error body: validation messages
    echo the input, and a caller may have pasted a token into a field. Installed for
    every API view by REST_FRAMEWORK["EXCEPTION_HANDLER"]."""
    response = exception_handler(error, context)
    if response is not None:
        response.data = redact_value(response.data)
    return response


class ReadAuthenticatedWriteStaff(BasePermission):
    """Any signed-in user may read; only staff may start, retry, pause or resume."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or bool(user.is_staff)


class JobCursorPagination(CursorPagination):
    """Keyset pagination: no OFFSET and no COUNT, so page 1,000 costs what page 1 does.
    Uses the created_at index; id breaks ties between jobs created in the same instant."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


def job_accepted(job: IngestionJob, request: Request) -> Response:
    url = reverse("pipeline:job-detail", kwargs={"pk": job.pk}, request=request)
    body = {"job_id": job.pk, "url": url, "status": job.status}
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


class SyncView(APIView):
    """POST /api/sync/<source>/<entity>: queue a sync of one stream now (202)."""

    permission_classes = [ReadAuthenticatedWriteStaff]

    def post(self, request: Request, source: str, entity: str) -> Response:
        try:
            get_stream(source, entity)
        except UnknownStream as error:
            return Response(
                {
                    "detail": redact(str(error)),
                    "streams": [stream.name for stream in all_streams()],
                },
                status=status.HTTP_404_NOT_FOUND,
            )
        body = SyncRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = job_service.enqueue_sync(
            source,
            entity,
            scope=body.validated_data["scope"],
            full=body.validated_data["full"],
            priority=body.validated_data["priority"],
            created_by=request.user.get_username(),
        )
        return job_accepted(job, request)


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """GET /api/pipeline/jobs (filters: status, kind, priority, source, entity, scope),
    GET /api/pipeline/jobs/<id>, POST /api/pipeline/jobs."""

    queryset = IngestionJob.objects.all()
    serializer_class = IngestionJobSerializer
    filterset_class = IngestionJobFilter
    pagination_class = JobCursorPagination
    permission_classes = [ReadAuthenticatedWriteStaff]

    def create(self, request: Request) -> Response:
        body = JobRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        created_by = request.user.get_username()
        if data["kind"] == JobKind.SYNC:
            params = data["params"]
            job = job_service.enqueue_sync(
                params["source"],
                params["entity"],
                scope=params["scope"],
                full=params["full"],
                priority=data["priority"],
                created_by=created_by,
            )
        else:
            job = job_service.enqueue_job(
                data["kind"], data["params"], priority=data["priority"], created_by=created_by
            )
        return job_accepted(job, request)


class DeadJobViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """GET /api/pipeline/dlq: jobs that exhausted their attempts;
    POST /api/pipeline/dlq/retry: queue them again."""

    queryset = IngestionJob.objects.filter(status=JobStatus.DEAD)
    serializer_class = IngestionJobSerializer
    filterset_class = IngestionJobFilter
    pagination_class = JobCursorPagination
    permission_classes = [ReadAuthenticatedWriteStaff]

    def retry(self, request: Request) -> Response:
        body = DeadJobRetrySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = None if body.validated_data["all"] else body.validated_data["ids"]
        retried = job_service.retry_dead_jobs(ids)
        return Response({"retried": retried}, status=status.HTTP_202_ACCEPTED)


class PauseView(APIView):
    """POST /api/pipeline/pause: no job starts; running syncs stop at their next checkpoint."""

    permission_classes = [ReadAuthenticatedWriteStaff]

    def post(self, request: Request) -> Response:
        job_service.pause_pipeline(by=request.user.get_username())
        return Response({"paused": job_service.is_paused()})


class ResumeView(APIView):
    """POST /api/pipeline/resume."""

    permission_classes = [ReadAuthenticatedWriteStaff]

    def post(self, request: Request) -> Response:
        requeued = job_service.resume_pipeline(by=request.user.get_username())
        return Response({"paused": job_service.is_paused(), "requeued": requeued})


class StatsView(APIView):
    """GET /api/pipeline/stats: jobs by status, success rate, durations, records (24 h)."""

    permission_classes = [ReadAuthenticatedWriteStaff]

    def get(self, request: Request) -> Response:
        return Response({"paused": job_service.is_paused(), **pipeline_stats()})


class StreamMetricsView(APIView):
    """GET /api/metrics: per stream, the last run (outcome, counts, latency) and 24 h totals."""

    permission_classes = [ReadAuthenticatedWriteStaff]

    def get(self, request: Request) -> Response:
        return Response({"streams": stream_metrics()})


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """GET /api/health, without authentication: 200 when the database and broker are up,
    503 when either is down. A plain Django view: no session or CSRF machinery to fail."""
    healthy, report = run_checks()
    return JsonResponse(report, status=200 if healthy else 503)


@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """GET /metrics in the Prometheus text format, open like /api/health (scrapers have
    no session). It exposes states and counts only, never an error text or a secret."""
    return HttpResponse(generate_latest(prometheus_registry()), content_type=CONTENT_TYPE_LATEST)
