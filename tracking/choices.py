"""Closed sets of values used by the normalized models."""

from __future__ import annotations

from django.db import models


class Source(models.TextChoices):
    """Where a row came from. Names are the ones the API, CLI and metrics use."""

    GITHUB = "github", "GitHub"
    GITHUB_ACTIONS = "github_actions", "GitHub Actions"
    JIRA = "jira", "Jira"
    SLACK = "slack", "Slack"
    MANUAL = "manual", "Manual entry"
    CSV = "csv", "CSV import"


class IdentitySource(models.TextChoices):
    GITHUB = "github", "GitHub"
    JIRA = "jira", "Jira"
    SLACK = "slack", "Slack"
    MANUAL = "manual", "Manual entry"


class BugSource(models.TextChoices):
    MANUAL = "manual", "Manual entry"
    CSV = "csv", "CSV import"
    GITHUB = "github", "GitHub"
    JIRA = "jira", "Jira"


class ProjectSource(models.TextChoices):
    MANUAL = "manual", "Manual entry"
    CSV = "csv", "CSV import"


class ProjectStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Priority(models.TextChoices):
    # Jira's default scheme, which most trackers map onto.
    HIGHEST = "highest", "Highest"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    LOWEST = "lowest", "Lowest"


class BugStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    WONT_FIX = "wont_fix", "Won't fix"


# A bug in one of these states no longer runs against its SLA.
BUG_DONE_STATUSES = frozenset({BugStatus.RESOLVED, BugStatus.CLOSED, BugStatus.WONT_FIX})


class WorkStatus(models.TextChoices):
    """The status of an issue or pull request, normalized across trackers."""

    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class IssueType(models.TextChoices):
    BUG = "bug", "Bug"
    STORY = "story", "Story"
    TASK = "task", "Task"
    EPIC = "epic", "Epic"
    SUBTASK = "subtask", "Sub-task"
    OTHER = "other", "Other"


class PullRequestState(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    MERGED = "merged", "Merged"


class SprintState(models.TextChoices):
    FUTURE = "future", "Future"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class BuildStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class BuildConclusion(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"
    TIMED_OUT = "timed_out", "Timed out"
    NEUTRAL = "neutral", "Neutral"
    ACTION_REQUIRED = "action_required", "Action required"
    STALE = "stale", "Stale"
    STARTUP_FAILURE = "startup_failure", "Startup failure"


class MessageKind(models.TextChoices):
    MESSAGE = "message", "Message"
    BOT_MESSAGE = "bot_message", "Bot message"
    DEPLOY_NOTIFICATION = "deploy_notification", "Deploy notification"
    SYSTEM = "system", "System (join, leave, topic …)"


class AuditAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    RESTORE = "restore", "Restore"
    INGEST = "ingest", "Ingest"
    IMPORT = "import", "Import"
