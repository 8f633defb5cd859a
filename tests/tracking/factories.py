"""Small builders for tracking rows: each saves a valid row with the fewest fields the
model needs, and lets a test override any field by keyword."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from tracking.models import (
    Bug,
    Build,
    BuildJob,
    ChatChannel,
    ChatMessage,
    Commit,
    EngineeringHours,
    Identity,
    Issue,
    Person,
    Project,
    PullRequest,
    Repository,
    Sprint,
)

_counter = itertools.count(1)


def unique_suffix() -> int:
    return next(_counter)


def make_person(**fields: Any) -> Person:
    fields.setdefault("name", f"Person {unique_suffix()}")
    return Person.objects.create(**fields)


def make_identity(**fields: Any) -> Identity:
    n = unique_suffix()
    fields.setdefault("source", "github")
    fields.setdefault("external_id", f"user-{n}")
    fields.setdefault("username", f"user{n}")
    return Identity.objects.create(**fields)


def make_project(**fields: Any) -> Project:
    fields.setdefault("name", f"Project {unique_suffix()}")
    return Project.objects.create(**fields)


def make_bug(**fields: Any) -> Bug:
    fields.setdefault("title", f"Bug {unique_suffix()}")
    return Bug.objects.create(**fields)


def make_hours(**fields: Any) -> EngineeringHours:
    if "person" not in fields:
        fields["person"] = make_person()
    if "bug" not in fields and "project" not in fields:
        fields["project"] = make_project()
    fields.setdefault("hours", Decimal("2.5"))
    return EngineeringHours.objects.create(**fields)


def make_repository(**fields: Any) -> Repository:
    n = unique_suffix()
    fields.setdefault("external_id", f"{1000 + n}")
    fields.setdefault("full_name", f"acme/repo{n}")
    fields.setdefault("owner", "acme")
    fields.setdefault("name", f"repo{n}")
    return Repository.objects.create(**fields)


def make_commit(**fields: Any) -> Commit:
    sha = f"{unique_suffix():040x}"
    if "repository" not in fields:
        fields["repository"] = make_repository()
    fields.setdefault("sha", sha)
    fields.setdefault("external_id", f"{fields['repository'].full_name}@{fields['sha']}")
    return Commit.objects.create(**fields)


def make_pull_request(**fields: Any) -> PullRequest:
    n = unique_suffix()
    if "repository" not in fields:
        fields["repository"] = make_repository()
    fields.setdefault("number", n)
    fields.setdefault("external_id", f"PR_{n}")
    fields.setdefault("title", f"Pull request {n}")
    return PullRequest.objects.create(**fields)


def make_build(**fields: Any) -> Build:
    n = unique_suffix()
    fields.setdefault("run_id", 9_000_000 + n)
    fields.setdefault("external_id", f"{fields['run_id']}:1")
    return Build.objects.create(**fields)


def make_build_job(**fields: Any) -> BuildJob:
    n = unique_suffix()
    fields.setdefault("build", make_build())
    fields.setdefault("job_id", 7_000_000 + n)
    fields.setdefault("external_id", str(fields["job_id"]))
    fields.setdefault("name", f"test ({n})")
    return BuildJob.objects.create(**fields)


def make_chat_channel(**fields: Any) -> ChatChannel:
    n = unique_suffix()
    fields.setdefault("external_id", f"C{n:08d}")
    fields.setdefault("name", f"channel-{n}")
    return ChatChannel.objects.create(**fields)


def make_issue(**fields: Any) -> Issue:
    n = unique_suffix()
    fields.setdefault("source", "jira")
    fields.setdefault("external_id", f"{10_000 + n}")
    fields.setdefault("key", f"PROJ-{n}")
    fields.setdefault("title", f"Issue {n}")
    return Issue.objects.create(**fields)


def make_sprint(**fields: Any) -> Sprint:
    n = unique_suffix()
    fields.setdefault("external_id", f"{n}")
    fields.setdefault("name", f"Sprint {n}")
    return Sprint.objects.create(**fields)


def make_chat_message(**fields: Any) -> ChatMessage:
    n = unique_suffix()
    ts = f"1700000000.{n:06d}"
    fields.setdefault("channel_id", "C0123")
    fields.setdefault("ts", ts)
    fields.setdefault("external_id", ChatMessage.natural_key_for(fields["channel_id"], ts))
    fields.setdefault("posted_at", dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC))
    return ChatMessage.objects.create(**fields)
