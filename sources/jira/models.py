"""What the hub learned about the configured Jira site, kept between syncs."""

from __future__ import annotations

from django.db import models


class JiraSite(models.Model):
    """Facts about one Jira site as its credential sees them, and whether it refused them.

    Read once and kept (`sources.jira.site`) so that a sync does not spend three
    requests (serverInfo, myself, field) before its search: an unchanged
    incremental sync of a project is then one request. The facts depend on the
    credential (the time zone is its user's, the fields are those it may see),
    so a changed credential reads them again.
    """

    base_url = models.CharField("base URL", max_length=300, unique=True)
    credential_fingerprint = models.CharField(max_length=64, blank=True, default="")
    deployment_type = models.CharField(
        max_length=20, blank=True, default="", help_text='"Cloud", or "Server" for Data Center.'
    )
    version = models.CharField(max_length=50, blank=True, default="")
    account_id = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="The credential's user: accountId on Cloud, user key on Data Center.",
    )
    account_name = models.CharField(max_length=200, blank=True, default="")
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="The user's time zone, in which Jira reads the dates of a JQL query.",
    )
    # [{"id", "name", "custom", "clauseNames"}] of /field: enough to find the story points
    # and sprint fields by name, and the clause names the jira library translates.
    fields = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    refused_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name = "Jira site"

    def __str__(self) -> str:
        return self.base_url

    @property
    def is_refused(self) -> bool:
        return self.refused_at is not None
