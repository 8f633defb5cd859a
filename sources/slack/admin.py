"""Admin for what the hub knows about its Slack token: read-only, never the token."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from sources.slack.models import MethodPace, SlackWorkspace


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the Slack streams only: shown, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
