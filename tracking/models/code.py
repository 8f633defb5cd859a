"""Code and CI: repositories, commits, pull requests, builds."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tracking.choices import BuildConclusion, BuildStatus, PullRequestState, Source
from tracking.models.base import Provenance, natural_key_constraint
from tracking.models.people import Identity
from tracking.models.projects import Project


class Repository(Provenance):
    """A source-code repository. external_id is the upstream's numeric id, stable across renames."""

    source = models.CharField(max_length=20, choices=Source.choices, default=Source.GITHUB)
    full_name = models.CharField(max_length=300, db_index=True, help_text="owner/name")
    owner = models.CharField(max_length=150)
    name = models.CharField(max_length=150)
    html_url = models.URLField("URL", max_length=500, blank=True, default="")
    description = models.TextField(blank=True, default="")
    default_branch = models.CharField(max_length=255, blank=True, default="")
    is_private = models.BooleanField(default=False)
    is_fork = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="repositories"
    )
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["full_name", "id"]
        verbose_name_plural = "repositories"
        constraints = [natural_key_constraint("tracking_repository")]
        indexes = [
            models.Index(fields=["last_seen_at", "id"], name="tracking_repo_seen"),
        ]

    def __str__(self) -> str:
        return self.full_name


class Commit(Provenance):
    """One commit in one repository; a commit on several branches is one row."""

    source = models.CharField(max_length=20, choices=Source.choices, default=Source.GITHUB)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="commits")
    sha = models.CharField("SHA", max_length=64, db_index=True)
    branches = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, default="")
    author = models.ForeignKey(
        Identity,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authored_commits",
    )
    author_name = models.CharField(max_length=200, blank=True, default="")
    author_email = models.CharField(max_length=254, blank=True, default="")
    committer = models.ForeignKey(
        Identity,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="committed_commits",
    )
    committer_name = models.CharField(max_length=200, blank=True, default="")
    committer_email = models.CharField(max_length=254, blank=True, default="")
    authored_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(default=timezone.now)
    additions = models.PositiveIntegerField(null=True, blank=True)
    deletions = models.PositiveIntegerField(null=True, blank=True)
    url = models.URLField("URL", max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-committed_at", "-id"]
        constraints = [natural_key_constraint("tracking_commit")]
        indexes = [
            # Keyset paging of the fetch API orders by (time, id).
            models.Index(fields=["committed_at", "id"], name="tracking_commit_time"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_commit_seen"),
        ]

    def __str__(self) -> str:
        first_line = self.message.split("\n", 1)[0][:80]
        return f"{self.sha[:10]} {first_line}"


class PullRequest(Provenance):
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.GITHUB)
    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="pull_requests"
    )
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=500)
    body = models.TextField(blank=True, default="")
    state = models.CharField(
        max_length=20, choices=PullRequestState.choices, default=PullRequestState.OPEN
    )
    original_state = models.CharField(max_length=50, blank=True, default="")
    is_draft = models.BooleanField(default=False)
    author = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="pull_requests"
    )
    head_ref = models.CharField(max_length=255, blank=True, default="")
    base_ref = models.CharField(max_length=255, blank=True, default="")
    head_sha = models.CharField(max_length=64, blank=True, default="")
    merge_commit_sha = models.CharField(max_length=64, blank=True, default="")
    requested_reviewers = models.JSONField(
        default=list, blank=True, help_text="Logins of the reviewers requested."
    )
    labels = models.JSONField(default=list, blank=True)
    url = models.URLField("URL", max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = "pull request"
        constraints = [natural_key_constraint("tracking_pullrequest")]
        indexes = [
            models.Index(fields=["updated_at", "id"], name="tracking_pr_updated"),
            models.Index(fields=["repository", "number"], name="tracking_pr_number"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_pr_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.repository.full_name}#{self.number} {self.title}"


class Build(Provenance):
    """One attempt of one CI workflow run: (repository, run id, attempt) is the key."""

    source = models.CharField(max_length=20, choices=Source.choices, default=Source.GITHUB_ACTIONS)
    repository = models.ForeignKey(
        Repository, null=True, blank=True, on_delete=models.CASCADE, related_name="builds"
    )
    provider = models.CharField(max_length=50, default="github_actions")
    workflow_id = models.BigIntegerField(null=True, blank=True)
    workflow_name = models.CharField(max_length=300, blank=True, default="")
    run_id = models.BigIntegerField(db_index=True)
    run_attempt = models.PositiveIntegerField(default=1)
    run_number = models.PositiveIntegerField(null=True, blank=True)
    head_sha = models.CharField(max_length=64, blank=True, default="", db_index=True)
    branch = models.CharField(max_length=255, blank=True, default="")
    event = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(
        max_length=20, choices=BuildStatus.choices, default=BuildStatus.QUEUED
    )
    original_status = models.CharField(max_length=50, blank=True, default="")
    conclusion = models.CharField(
        max_length=30, choices=BuildConclusion.choices, blank=True, default=""
    )
    actor = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="builds"
    )
    url = models.URLField("URL", max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [natural_key_constraint("tracking_build")]
        indexes = [
            models.Index(fields=["created_at", "id"], name="tracking_build_created"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_build_seen"),
        ]

    def __str__(self) -> str:
        name = self.workflow_name or "run"
        return f"{name} #{self.run_number or self.run_id} (attempt {self.run_attempt})"

    def refresh_derived_fields(self) -> None:
        if self.status == BuildStatus.COMPLETED and self.finished_at and self.started_at:
            self.duration_seconds = (self.finished_at - self.started_at).total_seconds()


class BuildJob(Provenance):
    """One job of one build attempt (a GitHub Actions `workflow_job`); the job id is the key."""

    source = models.CharField(max_length=20, choices=Source.choices, default=Source.GITHUB_ACTIONS)
    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="jobs")
    job_id = models.BigIntegerField(db_index=True)
    name = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(
        max_length=20, choices=BuildStatus.choices, default=BuildStatus.QUEUED
    )
    original_status = models.CharField(max_length=50, blank=True, default="")
    conclusion = models.CharField(
        max_length=30, choices=BuildConclusion.choices, blank=True, default=""
    )
    runner_name = models.CharField(max_length=300, blank=True, default="")
    labels = models.JSONField(default=list, blank=True)
    steps = models.JSONField(
        default=list,
        blank=True,
        help_text="Each step's name, number, status, conclusion, started and completed times.",
    )
    url = models.URLField("URL", max_length=500, blank=True, default="")
    created_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    version_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the job's state last changed (its latest time, ranked by status): "
        "an event older than the stored one changes nothing.",
    )

    class Meta:
        ordering = ["build", "started_at", "id"]
        verbose_name = "build job"
        constraints = [natural_key_constraint("tracking_buildjob")]
        indexes = [
            models.Index(fields=["last_seen_at", "id"], name="tracking_buildjob_seen"),
        ]

    def __str__(self) -> str:
        return self.name or f"job {self.job_id}"

    def refresh_derived_fields(self) -> None:
        if self.status == BuildStatus.COMPLETED and self.finished_at and self.started_at:
            self.duration_seconds = (self.finished_at - self.started_at).total_seconds()
