"""URLs of the pipeline: the REST API under /api/ and Prometheus at /metrics."""

from __future__ import annotations

from django.urls import include, path

from ingestion.api import views

urlpatterns = [
    path("api/", include("ingestion.api.urls")),
    path("metrics", views.prometheus_metrics, name="prometheus-metrics"),
]
