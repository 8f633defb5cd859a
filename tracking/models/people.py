"""People and their accounts in each source."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from tracking.choices import IdentitySource
from tracking.models.base import Provenance, natural_key_constraint


class Person(models.Model):
    """One human, whatever accounts they have across GitHub, Jira and Slack."""

    name = models.CharField(max_length=200)
    email = models.EmailField(
        blank=True,
        default="",
        help_text="Accounts with this email in any source are linked to this person.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "people"
        indexes = [models.Index(fields=["updated_at", "id"], name="tracking_person_updated")]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="tracking_person_unique_email",
                violation_error_message="Another person already has this email address.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.email else self.name

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.strip().lower()
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)


class Identity(Provenance):
    """One account in one source: a GitHub login, a Jira account, a Slack user."""

    source = models.CharField(max_length=20, choices=IdentitySource.choices)
    username = models.CharField(
        max_length=200, blank=True, default="", help_text="Login or user name in the source."
    )
    display_name = models.CharField(max_length=200, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    person = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="identities",
        help_text="The human behind this account, when known.",
    )
    is_bot = models.BooleanField(default=False)
    is_deactivated = models.BooleanField(
        default=False, help_text="Deleted or deactivated in the source."
    )

    class Meta:
        ordering = ["source", "username", "id"]
        verbose_name_plural = "identities"
        constraints = [natural_key_constraint("tracking_identity")]
        indexes = [
            models.Index(fields=["source", "username"], name="tracking_identity_username"),
            models.Index(Lower("email"), name="tracking_identity_email"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_identity_seen"),
        ]

    def __str__(self) -> str:
        label = self.username or self.display_name or self.external_id
        return f"{label} ({self.get_source_display()})"
