"""Ingested engineering activity: repositories, commits, pull requests, builds, issues,
sprints, chat messages. Editable for corrections; the next ingest that sees a
change upstream wins, and both show in the audit trail."""

from __future__ import annotations

from django.contrib import admin

from tracking.admin.base import AuditedAdmin
from tracking.models import (
    Build,
    BuildJob,
    ChatChannel,
    ChatMessage,
    Commit,
    Issue,
    PullRequest,
    Repository,
    Sprint,
)

PROVENANCE = ("source", "external_id", "first_seen_at", "last_seen_at")


@admin.register(Repository)
class RepositoryAdmin(AuditedAdmin):
    list_display = (
        "full_name",
        "project",
        "default_branch",
        "is_private",
        "is_fork",
        "is_archived",
        "pushed_at",
    )
    list_filter = ("source", "is_private", "is_fork", "is_archived")
    search_fields = ("full_name", "description", "external_id")
    autocomplete_fields = ("project",)
    date_hierarchy = "first_seen_at"
    readonly_fields = PROVENANCE


@admin.register(Commit)
class CommitAdmin(AuditedAdmin):
    list_display = ("short_sha", "repository", "summary", "author_name", "committed_at")
    list_filter = ("source", "repository")
    search_fields = ("sha", "message", "author_name", "author_email")
    autocomplete_fields = ("repository", "author", "committer")
    date_hierarchy = "committed_at"
    list_select_related = ("repository",)
    readonly_fields = PROVENANCE
    show_full_result_count = False  # no COUNT(*) over a table that grows without end

    @admin.display(description="SHA", ordering="sha")
    def short_sha(self, obj: Commit) -> str:
        return obj.sha[:10]

    @admin.display(description="Message")
    def summary(self, obj: Commit) -> str:
        return obj.message.split("\n", 1)[0][:80]


@admin.register(PullRequest)
class PullRequestAdmin(AuditedAdmin):
    list_display = ("__str__", "state", "author", "is_draft", "updated_at", "merged_at")
    list_filter = ("state", "is_draft", "source", "repository")
    search_fields = ("title", "body", "head_ref", "external_id")
    autocomplete_fields = ("repository", "author")
    date_hierarchy = "updated_at"
    list_select_related = ("repository", "author")
    readonly_fields = PROVENANCE
    show_full_result_count = False


@admin.register(Build)
class BuildAdmin(AuditedAdmin):
    list_display = (
        "__str__",
        "repository",
        "branch",
        "event",
        "status",
        "conclusion",
        "created_at",
        "duration_seconds",
    )
    list_filter = ("status", "conclusion", "event", "provider", "repository")
    search_fields = ("workflow_name", "head_sha", "branch", "external_id")
    autocomplete_fields = ("repository", "actor")
    date_hierarchy = "created_at"
    list_select_related = ("repository",)
    readonly_fields = PROVENANCE
    show_full_result_count = False


@admin.register(BuildJob)
class BuildJobAdmin(AuditedAdmin):
    list_display = ("__str__", "build", "status", "conclusion", "started_at", "duration_seconds")
    list_filter = ("status", "conclusion")
    search_fields = ("name", "runner_name", "external_id")
    autocomplete_fields = ("build",)
    list_select_related = ("build",)
    readonly_fields = PROVENANCE
    show_full_result_count = False


@admin.register(Sprint)
class SprintAdmin(AuditedAdmin):
    list_display = ("name", "board_id", "state", "start_at", "end_at", "complete_at")
    list_filter = ("state", "source")
    search_fields = ("name", "goal", "external_id")
    date_hierarchy = "start_at"
    readonly_fields = PROVENANCE


@admin.register(Issue)
class IssueAdmin(AuditedAdmin):
    list_display = (
        "key",
        "title",
        "issue_type",
        "status",
        "original_status",
        "story_points",
        "assignee",
        "updated_at",
    )
    list_filter = ("source", "issue_type", "status", "upstream_project")
    search_fields = ("key", "title", "description", "external_id")
    autocomplete_fields = ("repository", "project", "assignee", "reporter", "sprints")
    date_hierarchy = "updated_at"
    list_select_related = ("assignee",)
    readonly_fields = PROVENANCE
    show_full_result_count = False


@admin.register(ChatChannel)
class ChatChannelAdmin(AuditedAdmin):
    list_display = ("__str__", "external_id", "is_private", "is_archived", "is_member")
    list_filter = ("source", "is_private", "is_archived", "is_member")
    search_fields = ("name", "topic", "purpose", "external_id")
    readonly_fields = PROVENANCE


@admin.register(ChatMessage)
class ChatMessageAdmin(AuditedAdmin):
    list_display = ("channel_name", "ts", "user", "kind", "text_preview", "posted_at")
    list_filter = ("kind", "source", "channel_name")
    search_fields = ("text", "channel_name", "channel_id", "ts")
    autocomplete_fields = ("user",)
    date_hierarchy = "posted_at"
    list_select_related = ("user",)
    readonly_fields = PROVENANCE
    show_full_result_count = False

    @admin.display(description="Text")
    def text_preview(self, obj: ChatMessage) -> str:
        return obj.text[:80]
