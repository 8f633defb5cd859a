"""Routes of the pipeline API, mounted under /api/ (no trailing slashes, as documented)."""

from __future__ import annotations

from django.urls import path

from ingestion.api import imports, views, webhooks

app_name = "pipeline"

job_list = views.JobViewSet.as_view({"get": "list", "post": "create"})
job_detail = views.JobViewSet.as_view({"get": "retrieve"})
dead_job_list = views.DeadJobViewSet.as_view({"get": "list"})
dead_job_retry = views.DeadJobViewSet.as_view({"post": "retry"})

urlpatterns = [
    path("sync/<str:source>/<str:entity>", views.SyncView.as_view(), name="sync"),
    path("pipeline/jobs", job_list, name="job-list"),
    path("pipeline/jobs/<int:pk>", job_detail, name="job-detail"),
    path("pipeline/dlq", dead_job_list, name="dlq"),
    path("pipeline/dlq/retry", dead_job_retry, name="dlq-retry"),
    path("pipeline/pause", views.PauseView.as_view(), name="pause"),
    path("pipeline/resume", views.ResumeView.as_view(), name="resume"),
    path("pipeline/stats", views.StatsView.as_view(), name="stats"),
    path("metrics", views.StreamMetricsView.as_view(), name="metrics"),
    path("health", views.health, name="health"),
    path("webhooks/<str:source>", webhooks.receive_webhook, name="webhook"),
    path("ingest/csv", imports.ImportUploadView.as_view(), name="import-upload"),
    path(
        "ingest/csv/progress/<int:pk>",
        imports.ImportProgressView.as_view(),
        name="import-progress",
    ),
    path("ingest/csv/history", imports.ImportHistoryView.as_view(), name="import-history"),
    path(
        "ingest/csv/<int:pk>/report",
        imports.ImportErrorReportView.as_view(),
        name="import-report",
    ),
]
