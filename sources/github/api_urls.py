from django.urls import path

from sources.github.api import GitHubRateLimitView, GitHubSyncRepositoryView, GitHubSyncView

app_name = "github-api"

urlpatterns = [
    path("sync", GitHubSyncView.as_view(), name="sync"),
    path("sync-repo", GitHubSyncRepositoryView.as_view(), name="sync-repo"),
    path("rate-limit", GitHubRateLimitView.as_view(), name="rate-limit"),
]
