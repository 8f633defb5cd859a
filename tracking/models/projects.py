"""Projects: what bugs, hours, repositories and issues belong to."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from tracking.choices import ProjectSource, ProjectStatus
from tracking.fields import TagsField
from tracking.github_urls import normalize_github_url, repository_full_name
from tracking.models.base import Provenance, natural_key_constraint
from tracking.models.people import Person


class Project(Provenance):
    source = models.CharField(
        max_length=20, choices=ProjectSource.choices, default=ProjectSource.MANUAL
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # A CharField, not a URLField: people paste "github.com/o/r" and SSH remotes,
    # which clean() turns into the canonical URL.
    github_url = models.CharField(
        "GitHub URL",
        max_length=300,
        blank=True,
        default="",
        help_text="Kept in one canonical form: https://github.com/owner/repo.",
    )
    github_repository = models.CharField(
        "GitHub repository",
        max_length=200,
        blank=True,
        default="",
        editable=False,
        help_text="owner/name, derived from the GitHub URL.",
    )
    jira_project_key = models.CharField(
        "Jira project key", max_length=50, blank=True, default="", db_index=True
    )
    owner = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_projects"
    )
    status = models.CharField(
        max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE, db_index=True
    )
    tags = TagsField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            natural_key_constraint("tracking_project", optional=True),
            models.UniqueConstraint(
                Lower("name"),
                name="tracking_project_unique_name",
                violation_error_message=(
                    "A project with this name already exists (names are compared "
                    "without regard to case)."
                ),
            ),
            models.UniqueConstraint(
                fields=["github_url"],
                condition=~models.Q(github_url=""),
                name="tracking_project_unique_github_url",
                violation_error_message="Another project already points at this GitHub URL.",
            ),
        ]
        indexes = [
            models.Index(fields=["updated_at", "id"], name="tracking_project_updated"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_project_seen"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = self.name.strip()
        try:
            self.github_url = normalize_github_url(self.github_url)
        except ValidationError as error:
            # On its field, so the admin shows it beside the URL the person typed.
            raise ValidationError({"github_url": error}) from error
        self.jira_project_key = self.jira_project_key.strip().upper()

    def save(self, *args, **kwargs) -> None:
        self.github_url = normalize_github_url(self.github_url)
        self.github_repository = repository_full_name(self.github_url)
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)
