"""Root URLs."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Engineering data hub"
admin.site.site_title = "Hub admin"
admin.site.index_title = "Engineering data"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("github/", include("sources.github.urls")),
    path("api/github/", include("sources.github.api_urls")),
    path("api/", include("tracking.api.urls")),
    path("", include("ingestion.urls")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
