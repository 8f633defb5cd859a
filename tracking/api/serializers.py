"""Read-only serializers of the fetch API: one per entity, explicit fields.

Items carry the normalized fields, the source and natural key, and related rows as
ids (`project_id`, `author_id` …), never nested objects: a warehouse joins them
itself, and a page costs one query whatever it links to. Times are ISO 8601 in
UTC ending in "Z", whatever the server's time zone.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from rest_framework import serializers

from tracking.models import (
    AuditLog,
    Bug,
    Build,
    ChatMessage,
    Commit,
    EngineeringHours,
    Identity,
    Issue,
    Person,
    Project,
    PullRequest,
    Repository,
    Sprint,
)

PROVENANCE = ("source", "external_id", "first_seen_at", "last_seen_at")


class UtcDateTimeField(serializers.DateTimeField):
    """DRF writes "+00:00" as "Z" only for times in UTC; this converts them first."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("default_timezone", dt.UTC)
        super().__init__(**kwargs)


class FetchSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UtcDateTimeField,
    }


class IdentitySerializer(FetchSerializer):
    class Meta:
        model = Identity
        fields = (
            "id",
            *PROVENANCE,
            "username",
            "display_name",
            "email",
            "person_id",
            "is_bot",
            "is_deactivated",
        )


class PersonSerializer(FetchSerializer):
    class Meta:
        model = Person
        fields = ("id", "name", "email", "created_at", "updated_at")


class ProjectSerializer(FetchSerializer):
    class Meta:
        model = Project
        fields = (
            "id",
            *PROVENANCE,
            "name",
            "description",
            "github_url",
            "github_repository",
            "jira_project_key",
            "owner_id",
            "status",
            "tags",
            "created_at",
            "updated_at",
        )


class RepositorySerializer(FetchSerializer):
    class Meta:
        model = Repository
        fields = (
            "id",
            *PROVENANCE,
            "full_name",
            "owner",
            "name",
            "html_url",
            "description",
            "default_branch",
            "is_private",
            "is_fork",
            "is_archived",
            "project_id",
            "created_at",
            "updated_at",
            "pushed_at",
        )


class CommitSerializer(FetchSerializer):
    class Meta:
        model = Commit
        fields = (
            "id",
            *PROVENANCE,
            "repository_id",
            "sha",
            "branches",
            "message",
            "author_id",
            "author_name",
            "author_email",
            "committer_id",
            "committer_name",
            "committer_email",
            "authored_at",
            "committed_at",
            "additions",
            "deletions",
            "url",
        )


class PullRequestSerializer(FetchSerializer):
    class Meta:
        model = PullRequest
        fields = (
            "id",
            *PROVENANCE,
            "repository_id",
            "number",
            "title",
            "body",
            "state",
            "original_state",
            "is_draft",
            "author_id",
            "head_ref",
            "base_ref",
            "head_sha",
            "merge_commit_sha",
            "requested_reviewers",
            "labels",
            "url",
            "created_at",
            "updated_at",
            "closed_at",
            "merged_at",
        )


class IssueSerializer(FetchSerializer):
    # From the prefetch the registry declares: one query per page, not one per issue.
    sprint_ids = serializers.SerializerMethodField()

    class Meta:
        model = Issue
        fields = (
            "id",
            *PROVENANCE,
            "key",
            "number",
            "repository_id",
            "project_id",
            "upstream_project",
            "title",
            "description",
            "issue_type",
            "original_type",
            "status",
            "original_status",
            "priority",
            "story_points",
            "assignee_id",
            "reporter_id",
            "sprint_ids",
            "labels",
            "components",
            "url",
            "created_at",
            "updated_at",
            "resolved_at",
            "deleted_at",
        )

    def get_sprint_ids(self, issue: Issue) -> list[int]:
        return sorted(sprint.pk for sprint in issue.sprints.all())


class BugSerializer(FetchSerializer):
    class Meta:
        model = Bug
        fields = (
            "id",
            "number",
            *PROVENANCE,
            "title",
            "description",
            "severity",
            "priority",
            "status",
            "original_status",
            "sla_hours",
            "due_at",
            "project_id",
            "assignee_id",
            "assignee_identity_id",
            "reporter_id",
            "reporter_identity_id",
            "url",
            "created_at",
            "updated_at",
            "resolved_at",
            "deleted_at",
        )


class SprintSerializer(FetchSerializer):
    class Meta:
        model = Sprint
        fields = (
            "id",
            *PROVENANCE,
            "board_id",
            "origin_board_id",
            "name",
            "state",
            "original_state",
            "goal",
            "start_at",
            "end_at",
            "complete_at",
        )


class BuildSerializer(FetchSerializer):
    class Meta:
        model = Build
        fields = (
            "id",
            *PROVENANCE,
            "repository_id",
            "provider",
            "workflow_id",
            "workflow_name",
            "run_id",
            "run_attempt",
            "run_number",
            "head_sha",
            "branch",
            "event",
            "status",
            "original_status",
            "conclusion",
            "actor_id",
            "url",
            "created_at",
            "started_at",
            "updated_at",
            "finished_at",
            "duration_seconds",
        )


class ChatMessageSerializer(FetchSerializer):
    class Meta:
        model = ChatMessage
        fields = (
            "id",
            *PROVENANCE,
            "channel_id",
            "channel_name",
            "ts",
            "thread_ts",
            "reply_count",
            "user_id",
            "kind",
            "subtype",
            "text",
            "permalink",
            "posted_at",
            "edited_at",
            "deleted_at",
        )


class EngineeringHoursSerializer(FetchSerializer):
    class Meta:
        model = EngineeringHours
        fields = (
            "id",
            *PROVENANCE,
            "person_id",
            "bug_id",
            "project_id",
            "date",
            "hours",
            "note",
            "created_at",
            "updated_at",
        )


class AuditLogSerializer(FetchSerializer):
    # "tracking.bug": which model object_id belongs to (content type ids differ per database).
    model = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = (
            "id",
            "created_at",
            "user_id",
            "actor",
            "job_id",
            "model",
            "object_id",
            "object_repr",
            "action",
            "changes",
        )

    def get_model(self, entry: AuditLog) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"


LIMIT_MESSAGE = "Expected a whole number from 1 to 1000."
TIME_MESSAGE = "Expected an ISO 8601 time, such as 2024-05-01T12:00:00Z (no zone means UTC)."


class FetchParametersSerializer(serializers.Serializer):
    """The paging parameters of GET /api/fetch/<source>/<entity>, validated.

    `since` is inclusive and `until` exclusive (since <= time < until), so
    consecutive windows neither overlap nor leave a gap.
    """

    since = UtcDateTimeField(required=False, error_messages={"invalid": TIME_MESSAGE})
    until = UtcDateTimeField(required=False, error_messages={"invalid": TIME_MESSAGE})
    changed_since = UtcDateTimeField(required=False, error_messages={"invalid": TIME_MESSAGE})
    limit = serializers.IntegerField(
        required=False,
        default=100,
        min_value=1,
        max_value=1000,
        error_messages={
            "invalid": LIMIT_MESSAGE,
            "min_value": LIMIT_MESSAGE,
            "max_value": LIMIT_MESSAGE,
            "max_string_length": LIMIT_MESSAGE,
        },
    )
    cursor = serializers.CharField(required=False, max_length=1000)

    def validate(self, attrs: dict) -> dict:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError({"until": "Expected a time later than since."})
        return attrs
