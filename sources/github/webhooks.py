"""GitHub webhooks: POST /api/webhooks/github.

Verified with X-Hub-Signature-256 against GITHUB_WEBHOOK_SECRET (several while
rotating). A delivery's objects go to the same streams the polling sync uses, in
the shapes those streams read, so both paths write the same rows:

- `workflow_run` → github_actions/builds, `workflow_job` → github_actions/build_jobs;
- `push` → github/commits, one record per commit, with the branch of `ref`;
- `issues` → github/issues, `pull_request` → github/pull_requests;
- every event's `repository` → github/repositories when the hub does not know it yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from ingestion.errors import RecordRejected
from ingestion.webhooks import (
    IgnoredEvent,
    Receipt,
    StreamRecords,
    WebhookReceiver,
    WebhookRefused,
    form_payload,
    json_object,
    register_receiver,
    signature_matches,
)
from sources.github.normalize import hub_context, with_context
from tracking.choices import Source

SIGNATURE_PREFIX = "sha256="
BRANCH_PREFIX = "refs/heads/"
# Push payloads give these repository times as Unix seconds; the API as ISO 8601.
_EPOCH_TIME_FIELDS = ("created_at", "pushed_at", "updated_at")


def api_repository(repository: dict[str, Any]) -> dict[str, Any]:
    """A payload's repository in the API's shape (ISO times, not Unix seconds)."""
    converted = dict(repository)
    for name in _EPOCH_TIME_FIELDS:
        value = converted.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            converted[name] = dt.datetime.fromtimestamp(value, tz=dt.UTC).isoformat()
    return converted


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise RecordRejected(f"the payload has no {name} object")
    return value


def workflow_run_records(
    payload: dict[str, Any], repository: dict[str, Any], full_name: str
) -> list[StreamRecords]:
    run = _object(payload, "workflow_run")
    workflow = payload.get("workflow") if isinstance(payload.get("workflow"), dict) else {}
    # The run names its repository itself; the workflow's name comes beside it (a run's
    # own `name` may be empty), and the normalizer falls back to it.
    context = hub_context(repository["id"], full_name, workflow_name=workflow.get("name") or "")
    return [StreamRecords(Source.GITHUB_ACTIONS, "builds", full_name, [with_context(run, context)])]


def workflow_job_records(
    payload: dict[str, Any], repository: dict[str, Any], full_name: str
) -> list[StreamRecords]:
    job = _object(payload, "workflow_job")
    context = hub_context(repository["id"], full_name)
    return [
        StreamRecords(Source.GITHUB_ACTIONS, "build_jobs", full_name, [with_context(job, context)])
    ]


def push_records(
    payload: dict[str, Any], repository: dict[str, Any], full_name: str
) -> list[StreamRecords]:
    ref = payload.get("ref")
    if not isinstance(ref, str):
        raise RecordRejected("ref is missing")
    if not ref.startswith(BRANCH_PREFIX):
        raise IgnoredEvent(f"a push to {ref}, not to a branch")
    if payload.get("deleted"):
        raise IgnoredEvent(f"{ref} was deleted")
    commits = payload.get("commits")
    if not isinstance(commits, list):
        raise RecordRejected("commits must be a list")
    if not commits:
        raise IgnoredEvent(f"a push to {ref} without commits")
    context = hub_context(repository["id"], full_name, branch=ref[len(BRANCH_PREFIX) :])
    sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else None
    records = [with_context(api_commit(commit, sender), context) for commit in commits]
    return [StreamRecords(Source.GITHUB, "commits", full_name, records)]


def api_commit(commit: Any, sender: dict[str, Any] | None) -> dict[str, Any]:
    """A push payload's commit in the shape of GET /repos/{owner}/{repo}/commits items.

    A push names the accounts only by login; the sender's is known with its id, so
    a commit whose author or committer is the sender links to that account, as the
    API would. Other logins stay unlinked (the commit's name and email identify the
    person) until a poll reads the commit through the API.
    """
    if not isinstance(commit, dict):
        raise RecordRejected(f"a commit must be an object, not {commit!r}")
    author = commit.get("author") if isinstance(commit.get("author"), dict) else {}
    committer = commit.get("committer") if isinstance(commit.get("committer"), dict) else {}
    timestamp = commit.get("timestamp")

    def git_person(person: dict[str, Any]) -> dict[str, Any]:
        return {"name": person.get("name"), "email": person.get("email"), "date": timestamp}

    def account(person: dict[str, Any]) -> dict[str, Any] | None:
        login = person.get("username")
        if sender and login and sender.get("login") == login:
            return sender
        return None

    return {
        "sha": commit.get("id"),
        "commit": {
            "message": commit.get("message"),
            "author": git_person(author),
            "committer": git_person(committer),
        },
        "author": account(author),
        "committer": account(committer),
        "html_url": commit.get("url"),
    }


def issue_records(
    payload: dict[str, Any], repository: dict[str, Any], full_name: str
) -> list[StreamRecords]:
    issue = _object(payload, "issue")
    extra = {}
    if payload.get("action") in ("deleted", "transferred"):
        # Gone from this repository: the row stays, marked, as reconciliation would.
        extra["deleted_at"] = issue.get("updated_at") or dt.datetime.now(dt.UTC).isoformat()
    context = hub_context(repository["id"], full_name, **extra)
    return [StreamRecords(Source.GITHUB, "issues", full_name, [with_context(issue, context)])]


def pull_request_records(
    payload: dict[str, Any], repository: dict[str, Any], full_name: str
) -> list[StreamRecords]:
    pull = _object(payload, "pull_request")
    context = hub_context(repository["id"], full_name)
    return [StreamRecords(Source.GITHUB, "pull_requests", full_name, [with_context(pull, context)])]


_EVENTS = {
    "workflow_run": workflow_run_records,
    "workflow_job": workflow_job_records,
    "push": push_records,
    "issues": issue_records,
    "pull_request": pull_request_records,
}


@register_receiver
class GitHubWebhooks(WebhookReceiver):
    source = Source.GITHUB
    handled_events = frozenset(_EVENTS)
    load_order = (
        "github/repositories",
        "github_actions/builds",
        "github_actions/build_jobs",
        "github/commits",
        "github/issues",
        "github/pull_requests",
    )

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        secrets = settings.GITHUB_WEBHOOK_SECRET
        if not secrets:
            raise WebhookRefused(
                401,
                "not_configured",
                "GITHUB_WEBHOOK_SECRET is not set: the hub accepts only signed deliveries.",
            )
        signature = headers.get("X-Hub-Signature-256", "")
        if not signature:
            raise WebhookRefused(401, "no_signature", "X-Hub-Signature-256 is missing.")
        if not signature_matches(secrets, body, signature, SIGNATURE_PREFIX):
            raise WebhookRefused(
                401,
                "bad_signature",
                "X-Hub-Signature-256 does not match the body under GITHUB_WEBHOOK_SECRET.",
            )

    def receipt(self, body: bytes, headers: Mapping[str, str]) -> Receipt:
        event = headers.get("X-GitHub-Event", "")
        delivery_id = headers.get("X-GitHub-Delivery", "")
        if not event:
            raise WebhookRefused(400, "no_event", "X-GitHub-Event is missing.")
        if event == "ping":
            return Receipt(immediate={"status": "pong"})
        if not delivery_id:
            raise WebhookRefused(400, "no_delivery_id", "X-GitHub-Delivery is missing.")
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        # GitHub's default content type for a new webhook is the form encoding.
        text = form_payload(body) if content_type == "application/x-www-form-urlencoded" else body
        payload = json_object(text)
        stored = text if isinstance(text, str) else body.decode("utf-8")
        action = payload.get("action")
        return Receipt(
            delivery_id=delivery_id,
            event=event,
            action=action if isinstance(action, str) else "",
            body=stored,
        )

    def records(self, event: str, payload: dict[str, Any]) -> list[StreamRecords]:
        repository = payload.get("repository")
        if not isinstance(repository, dict) or not isinstance(repository.get("id"), int):
            raise RecordRejected("the payload has no repository with a numeric id")
        full_name = repository.get("full_name")
        if not isinstance(full_name, str) or "/" not in full_name:
            raise RecordRejected("repository.full_name must be owner/name")
        parts = [
            StreamRecords(
                Source.GITHUB,
                "repositories",
                "",
                [api_repository(repository)],
                only_new=True,
            )
        ]
        handler = _EVENTS.get(event)
        if handler is None:
            raise IgnoredEvent(f"GitHub event {event!r} is not used by the hub")
        parts.extend(handler(payload, repository, full_name))
        return parts
