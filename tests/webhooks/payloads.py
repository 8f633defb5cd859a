"""Webhook payloads for tests: GitHub's and Slack's documented examples (fixtures/webhooks/),
changed only where a test needs other ids, states or times."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"


@cache
def _load(path: str) -> dict[str, Any]:
    return json.loads((FIXTURES / path).read_text(encoding="utf-8"))


def github_example(name: str) -> dict[str, Any]:
    """A fresh copy of fixtures/webhooks/github/<name>.json."""
    return copy.deepcopy(_load(f"github/{name}.json"))


def slack_example(name: str) -> dict[str, Any]:
    return copy.deepcopy(_load(f"slack/{name}.json"))


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slack_timestamp(offset_seconds: float = 0) -> str:
    return str(int(time.time() + offset_seconds))


def workflow_run(
    status: str,
    *,
    run_id: int = 289782451,
    attempt: int = 1,
    started_at: str = "2020-10-05T16:33:30Z",
    updated_at: str = "2020-10-05T16:33:49Z",
    conclusion: str | None = "success",
) -> dict[str, Any]:
    """A `workflow_run` delivery (GitHub's `completed` example) in the given state."""
    payload = github_example("workflow_run.completed")
    run = payload["workflow_run"]
    payload["action"] = {"queued": "requested", "in_progress": "in_progress"}.get(
        status, "completed"
    )
    run.update(
        id=run_id,
        run_attempt=attempt,
        status=status,
        conclusion=conclusion if status == "completed" else None,
        run_started_at=started_at,
        updated_at=updated_at,
    )
    return payload


def workflow_job(
    status: str, *, job_id: int = 399444496, run_id: int = 289782451, attempt: int = 1
) -> dict[str, Any]:
    """A `workflow_job` delivery (GitHub's `completed` example) of the given run, in the
    repository of the workflow_run example."""
    payload = github_example("workflow_job.completed")
    payload["repository"] = github_example("workflow_run.completed")["repository"]
    job = payload["workflow_job"]
    payload["action"] = status
    job.update(id=job_id, run_id=run_id, run_attempt=attempt, status=status)
    if status != "completed":
        job.update(conclusion=None, completed_at=None)
    return payload
