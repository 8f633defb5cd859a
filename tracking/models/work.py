"""Planned work: sprints and issues from Jira and GitHub."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tracking.choices import IssueType, Source, SprintState, WorkStatus
from tracking.models.base import Provenance, natural_key_constraint
from tracking.models.code import Repository
from tracking.models.people import Identity
from tracking.models.projects import Project


class Sprint(Provenance):
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.JIRA)
    board_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    origin_board_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=300)
    state = models.CharField(max_length=20, choices=SprintState.choices, default=SprintState.FUTURE)
    original_state = models.CharField(max_length=50, blank=True, default="")
    goal = models.TextField(blank=True, default="")
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    complete_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start_at", "-id"]
        constraints = [natural_key_constraint("tracking_sprint")]
        indexes = [
            models.Index(fields=["start_at", "id"], name="tracking_sprint_start"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_sprint_seen"),
        ]

    def __str__(self) -> str:
        return self.name


class Issue(Provenance):
    """A tracker issue (Jira or GitHub), with its original status and type kept."""

    source = models.CharField(max_length=20, choices=Source.choices)
    key = models.CharField(
        max_length=300, db_index=True, help_text='"PROJ-12" in Jira, "owner/repo#12" in GitHub.'
    )
    number = models.PositiveIntegerField(null=True, blank=True)
    repository = models.ForeignKey(
        Repository, null=True, blank=True, on_delete=models.CASCADE, related_name="issues"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="issues"
    )
    upstream_project = models.CharField(
        max_length=300,
        blank=True,
        default="",
        db_index=True,
        help_text="The Jira project key or GitHub repository it lives in upstream.",
    )
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True, default="")
    issue_type = models.CharField(max_length=20, choices=IssueType.choices, default=IssueType.TASK)
    original_type = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(
        max_length=20, choices=WorkStatus.choices, default=WorkStatus.TODO, db_index=True
    )
    original_status = models.CharField(max_length=100, blank=True, default="")
    priority = models.CharField(max_length=100, blank=True, default="")
    story_points = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    assignee = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_issues"
    )
    reporter = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="reported_issues"
    )
    sprints = models.ManyToManyField(Sprint, blank=True, related_name="issues")
    labels = models.JSONField(default=list, blank=True)
    components = models.JSONField(default=list, blank=True)
    url = models.URLField("URL", max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Gone upstream (deleted or moved), found by reconciliation.",
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [natural_key_constraint("tracking_issue")]
        indexes = [
            models.Index(fields=["updated_at", "id"], name="tracking_issue_updated"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_issue_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"
