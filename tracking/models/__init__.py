"""The normalized domain every source maps into."""

from tracking.models.audit import AuditLog, AuditLogError
from tracking.models.base import Provenance, content_signature
from tracking.models.bugs import (
    DEFAULT_SLA_HOURS,
    Bug,
    BugNumberSequence,
    EngineeringHours,
    allocate_bug_numbers,
)
from tracking.models.chat import ChatChannel, ChatMessage, slack_ts_to_datetime
from tracking.models.code import Build, BuildJob, Commit, PullRequest, Repository
from tracking.models.people import Identity, Person
from tracking.models.projects import Project
from tracking.models.work import Issue, Sprint

__all__ = [
    "DEFAULT_SLA_HOURS",
    "AuditLog",
    "AuditLogError",
    "Bug",
    "BugNumberSequence",
    "Build",
    "BuildJob",
    "ChatChannel",
    "ChatMessage",
    "Commit",
    "EngineeringHours",
    "Identity",
    "Issue",
    "Person",
    "Project",
    "Provenance",
    "PullRequest",
    "Repository",
    "Sprint",
    "allocate_bug_numbers",
    "content_signature",
    "slack_ts_to_datetime",
]
