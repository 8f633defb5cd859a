"""What the hub keeps about its Slack bot token: the workspace it reaches, and the pace
of each Web API method, shared by every worker process.

The token itself is never stored, only its fingerprint (the same one GitHub
credentials use), so a rotated token starts a fresh pace and workspace row.
"""

from __future__ import annotations

from django.db import models


class SlackWorkspace(models.Model):
    """The workspace a bot token belongs to, as `auth.test` reported it.

    Its URL makes message permalinks without a `chat.getPermalink` call per message.
    """

    fingerprint = models.CharField(max_length=64, unique=True, editable=False)
    team_id = models.CharField(max_length=50, blank=True, default="")
    team = models.CharField(max_length=200, blank=True, default="")
    url = models.URLField(max_length=300, blank=True, default="")
    bot_user_id = models.CharField(max_length=50, blank=True, default="")
    bot_id = models.CharField(max_length=50, blank=True, default="")
    checked_at = models.DateTimeField()

    class Meta:
        verbose_name = "Slack workspace"

    def __str__(self) -> str:
        return self.team or self.team_id or self.url or "Slack workspace"


class MethodPace(models.Model):
    """One Web API method for one token: when it was last called and until when Slack
    asked us to keep off it (a 429's Retry-After).

    Slack limits each method per workspace and app, whatever process calls it, so
    the pace lives here: a request is sent only after one conditional UPDATE
    claimed it (`sources.slack.pace`), on SQLite and PostgreSQL alike.
    """

    fingerprint = models.CharField(max_length=64, editable=False)
    method = models.CharField(max_length=60)
    last_request_at = models.DateTimeField(null=True, blank=True)
    blocked_until = models.DateTimeField(
        null=True, blank=True, help_text="Slack answered 429: no request before this time."
    )
    last_retry_after = models.PositiveIntegerField(null=True, blank=True)
    rate_limited = models.PositiveIntegerField(default=0, help_text="429 answers received.")

    class Meta:
        verbose_name = "Slack method pace"
        ordering = ["method", "id"]
        constraints = [
            models.UniqueConstraint(fields=["fingerprint", "method"], name="slack_pace_unique"),
        ]

    def __str__(self) -> str:
        return self.method
