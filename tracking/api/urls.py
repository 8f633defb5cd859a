"""Routes of the fetch API, mounted under /api/ (no trailing slash, as documented)."""

from __future__ import annotations

from django.urls import path

from tracking.api.views import FetchView

app_name = "fetch"

urlpatterns = [
    path("fetch/<str:source>/<str:entity>", FetchView.as_view(), name="fetch"),
]
