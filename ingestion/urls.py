"""URLs of the pipeline: the REST API under /api/ and Prometheus at /metrics."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
