"""Fixtures for the webhook tests: a configured secret, signed posts, processing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ingestion.webhooks import process_pending
from tests.webhooks.payloads import github_signature, slack_signature, slack_timestamp

GITHUB_SECRET = "github-webhook-test-secret"
SLACK_SECRET = "slack-signing-test-secret"
GITHUB_URL = "/api/webhooks/github"
SLACK_URL = "/api/webhooks/slack"


@pytest.fixture(autouse=True)
def webhook_secrets(settings):
    settings.GITHUB_WEBHOOK_SECRET = [GITHUB_SECRET]
    settings.SLACK_SIGNING_SECRET = [SLACK_SECRET]
    return settings


@pytest.fixture(autouse=True)
def fresh_cache(request):
    """The "a job is queued" flag lives in the cache, which no test transaction rolls back
    on Redis. (Tests on a shared database clear it themselves.)"""
    from django.core.cache import cache

    if request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        cache.clear()


class Sender:
    """Posts as the upstream does. The request's on-commit work (queueing the job)
    runs as it would in production, where the test's transaction is not there."""

    def __init__(self, client, capture_on_commit) -> None:
        self.client = client
        self.capture_on_commit = capture_on_commit

    def _post(self, url: str, body: bytes, content_type: str, headers: dict[str, str]):
        with self.capture_on_commit(execute=True):
            return self.client.post(url, body, content_type=content_type, headers=headers)


class GitHubSender(Sender):
    """Signed body, event and delivery headers, like GitHub's deliveries."""

    def post(
        self,
        event: str,
        payload: Any,
        *,
        delivery_id: str | None = None,
        secret: str = GITHUB_SECRET,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ):
        body = json.dumps(payload).encode() if body is None else body
        all_headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(secret, body),
            "User-Agent": "GitHub-Hookshot/test",
            **(headers or {}),
        }
        all_headers = {name: value for name, value in all_headers.items() if value is not None}
        return self._post(GITHUB_URL, body, content_type, all_headers)


class SlackSender(Sender):
    """Signed with a fresh timestamp, like Slack's Events API."""

    def post(
        self,
        payload: Any,
        *,
        secret: str = SLACK_SECRET,
        timestamp: str | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ):
        body = json.dumps(payload).encode() if body is None else body
        timestamp = timestamp or slack_timestamp()
        all_headers = {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(secret, timestamp, body),
            **(headers or {}),
        }
        all_headers = {name: value for name, value in all_headers.items() if value is not None}
        return self._post(SLACK_URL, body, "application/json", all_headers)


@pytest.fixture
def github_hook(client, django_capture_on_commit_callbacks) -> GitHubSender:
    return GitHubSender(client, django_capture_on_commit_callbacks)


@pytest.fixture
def slack_hook(client, django_capture_on_commit_callbacks) -> SlackSender:
    return SlackSender(client, django_capture_on_commit_callbacks)


@pytest.fixture
def process():
    """Process every pending delivery now, as the webhook job does."""
    return process_pending
