"""The GitHub API: sync everything or one repository now, and the rate budget per credential.

POST /api/github/sync       {"incremental": true}  → 202, one source-sync job
POST /api/github/sync-repo  {"repo": "owner/name"} → 202, that repository's streams
GET  /api/github/rate-limit                         → each credential's budget (no token)
"""

from __future__ import annotations

import re

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ingestion import jobs as job_service
from ingestion.api.views import ReadAuthenticatedWriteStaff, job_accepted
from ingestion.choices import JobPriority
from ingestion.errors import IngestionError
from ingestion.redaction import redact
from sources.github.client import GitHubClient
from sources.github.health import credentials_in_use, describe
from tracking.choices import Source

# GitHub's own rules: owner up to 39 characters of letters, digits and hyphens;
# repository names also allow "." and "_".
REPOSITORY_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


class GitHubSyncRequestSerializer(serializers.Serializer):
    incremental = serializers.BooleanField(required=False, default=True)


class GitHubRepositorySyncRequestSerializer(GitHubSyncRequestSerializer):
    repo = serializers.CharField(max_length=140)

    def validate_repo(self, repo: str) -> str:
        repo = repo.strip().strip("/")
        if not REPOSITORY_NAME.match(repo):
            raise serializers.ValidationError(
                f"{repo!r} is not a repository name: use owner/name, e.g. octocat/hello-world."
            )
        return repo


class GitHubSyncView(APIView):
    """A source sync of everything, or (GitHubSyncRepositoryView) of one repository."""

    permission_classes = [ReadAuthenticatedWriteStaff]
    request_serializer: type[GitHubSyncRequestSerializer] = GitHubSyncRequestSerializer

    def post(self, request: Request) -> Response:
        body = self.request_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = job_service.enqueue_source_sync(
            Source.GITHUB,
            scope=body.validated_data.get("repo", ""),
            full=not body.validated_data["incremental"],
            priority=JobPriority.HIGH,
            created_by=request.user.get_username(),
        )
        return job_accepted(job, request)


class GitHubSyncRepositoryView(GitHubSyncView):
    request_serializer = GitHubRepositorySyncRequestSerializer


class GitHubRateLimitView(APIView):
    """The budget each credential in use has left, as its last answer reported it.

    `?refresh=true` asks GitHub first (`GET /rate_limit`, which costs nothing).
    """

    permission_classes = [ReadAuthenticatedWriteStaff]

    def get(self, request: Request) -> Response:
        error = ""
        if request.query_params.get("refresh", "").lower() in ("1", "true", "yes"):
            try:
                GitHubClient().refresh_rate_limit()
            except IngestionError as failure:
                error = redact(str(failure))
        credentials = [describe(credential) for credential in credentials_in_use()]
        body: dict = {"credentials": credentials}
        if error:
            body["refresh_error"] = error
        return Response(body)
