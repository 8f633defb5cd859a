"""Admin for what the hub knows about its Slack token: read-only, never the token."""

from __future__ import annotations

from django.contrib import admin

from ingestion.admin.sync import ReadOnlyAdmin
from sources.slack.models import MethodPace, SlackWorkspace


@admin.register(SlackWorkspace)
class SlackWorkspaceAdmin(ReadOnlyAdmin):
    list_display = ("team", "team_id", "url", "bot_user_id", "checked_at")
    fields = ("team", "team_id", "url", "bot_user_id", "bot_id", "checked_at")


@admin.register(MethodPace)
class MethodPaceAdmin(ReadOnlyAdmin):
    """Where each Web API method's pace stands: a 429's block shows until it ends."""

    list_display = (
        "method",
        "last_request_at",
        "blocked_until",
        "rate_limited",
        "last_retry_after",
    )
    fields = list_display
