"""Small builders of valid rows, so each test states only what it is about."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.utils import timezone

from tracking.models import (
    Bug,
    Build,
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


def person(**fields) -> Person:
    n = next(_counter)
    return Person.objects.create(**{"name": f"Person {n}", "email": f"p{n}@example.com", **fields})


def identity(**fields) -> Identity:
    n = next(_counter)
    return Identity.objects.create(
        **{"source": "github", "external_id": f"id-{n}", "username": f"user{n}", **fields}
    )


def project(**fields) -> Project:
    n = next(_counter)
    return Project.objects.create(**{"name": f"Project {n}", **fields})


def bug(**fields) -> Bug:
    return Bug.objects.create(**{"title": "Something is broken", **fields})


def hours(**fields) -> EngineeringHours:
    if "bug" not in fields and "project" not in fields:
        fields["project"] = project()
    return EngineeringHours.objects.create(
        **{"person": fields.pop("person", None) or person(), "hours": Decimal("2.5"), **fields}
    )


def repository(**fields) -> Repository:
    n = next(_counter)
    return Repository.objects.create(
        **{
            "external_id": f"repo-{n}",
            "full_name": f"org/repo{n}",
            "owner": "org",
            "name": f"repo{n}",
            **fields,
        }
    )


def commit(**fields) -> Commit:
    n = next(_counter)
    repo = fields.pop("repository", None) or repository()
    return Commit.objects.create(
        **{
            "repository": repo,
            "external_id": f"c-{n}",
            "sha": f"{n:040x}",
            "message": "Fix",
            **fields,
        }
    )


def pull_request(**fields) -> PullRequest:
    n = next(_counter)
    repo = fields.pop("repository", None) or repository()
    return PullRequest.objects.create(
        **{"repository": repo, "external_id": f"pr-{n}", "number": n, "title": "Change", **fields}
    )


def build(**fields) -> Build:
    n = next(_counter)
    return Build.objects.create(**{"external_id": f"{n}:1", "run_id": n, **fields})


def sprint(**fields) -> Sprint:
    n = next(_counter)
    return Sprint.objects.create(**{"external_id": f"s-{n}", "name": f"Sprint {n}", **fields})


def issue(**fields) -> Issue:
    n = next(_counter)
    return Issue.objects.create(
        **{
            "source": "jira",
            "external_id": f"i-{n}",
            "key": f"PROJ-{n}",
            "title": "Do it",
            **fields,
        }
    )


def chat_message(**fields) -> ChatMessage:
    n = next(_counter)
    ts = f"1700000000.{n:06d}"
    return ChatMessage.objects.create(
        **{
            "external_id": f"C1:{ts}",
            "channel_id": "C1",
            "ts": ts,
            "text": "hello",
            "posted_at": timezone.now(),
            **fields,
        }
    )
