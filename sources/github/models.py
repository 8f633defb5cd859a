"""GitHub credentials: the token (encrypted when we keep it), its health and its rate budget."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class CredentialKind(models.TextChoices):
    OAUTH = "oauth", "Connected account (OAuth)"
    TOKEN = "token", "GITHUB_TOKEN setting"


class GitHubCredential(models.Model):
    """One GitHub token the hub uses, and what GitHub told us about it.

    A connected account (OAuth) keeps its token here, encrypted; the
    `GITHUB_TOKEN` setting is never stored, only its fingerprint, so its budget
    and health can be tracked too. The rate budget is shared by every worker
    process through this row, and so is the lease that keeps requests for one
    credential from ever running concurrently (GitHub's guidance against
    secondary limits).
    """

    kind = models.CharField(max_length=10, choices=CredentialKind.choices)
    fingerprint = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=200, help_text="How people recognise it.")
    login = models.CharField(max_length=100, blank=True, default="")
    scopes = models.CharField(max_length=300, blank=True, default="")
    token_ciphertext = models.TextField(blank=True, default="", editable=False)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="github_credentials",
    )
    connected_at = models.DateTimeField(default=timezone.now, editable=False)
    disconnected_at = models.DateTimeField(null=True, blank=True, editable=False)
    broken_at = models.DateTimeField(
        null=True, blank=True, help_text="When GitHub refused the token (401)."
    )
    broken_reason = models.CharField(max_length=300, blank=True, default="")
    # The primary budget, from the X-RateLimit-* headers of the last counted answer.
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    rate_remaining = models.PositiveIntegerField(null=True, blank=True)
    rate_used = models.PositiveIntegerField(null=True, blank=True)
    rate_reset_at = models.DateTimeField(null=True, blank=True)
    rate_seen_at = models.DateTimeField(null=True, blank=True)
    # A secondary rate limit asked us to keep off until then.
    blocked_until = models.DateTimeField(null=True, blank=True)
    requests_made = models.PositiveBigIntegerField(default=0)
    not_modified = models.PositiveBigIntegerField(
        default=0, help_text="Answers 304: conditional requests that cost no budget."
    )
    # Lease: the one process allowed to send a request with this token right now.
    lease_holder = models.CharField(max_length=200, blank=True, default="", editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-connected_at", "-id"]
        verbose_name = "GitHub credential"

    def __str__(self) -> str:
        return self.label

    @property
    def is_active(self) -> bool:
        return self.disconnected_at is None

    @property
    def is_broken(self) -> bool:
        return self.broken_at is not None

    @property
    def rate_summary(self) -> str:
        """The budget as "remaining / limit", as the last counted answer reported it; "—" before."""
        if self.rate_limit is None:
            return "—"
        remaining = "?" if self.rate_remaining is None else self.rate_remaining
        return f"{remaining} / {self.rate_limit}"

    def status(self) -> str:
        if not self.is_active:
            return "disconnected"
        return "broken" if self.is_broken else "ok"
