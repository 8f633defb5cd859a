"""The verifiers agree with the example vectors of GitHub's and Slack's documentation
(fixtures/webhooks/signature_vectors.json) and with signatures made here."""

from __future__ import annotations

import json
import time

import pytest

from ingestion.webhooks import WebhookRefused, signature_matches
from sources.github.webhooks import GitHubWebhooks
from tests.webhooks.payloads import FIXTURES, github_signature, slack_signature

VECTORS = json.loads((FIXTURES / "signature_vectors.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("vector", VECTORS["github"])
def test_githubs_published_vector_verifies(vector, settings):
    settings.GITHUB_WEBHOOK_SECRET = [vector["secret"]]
    headers = {"X-Hub-Signature-256": vector["signature"]}

    GitHubWebhooks().verify(vector["body"].encode(), headers)  # raises if refused


@pytest.mark.parametrize("vector", VECTORS["github"])
def test_githubs_published_vector_fails_under_another_secret(vector, settings):
    settings.GITHUB_WEBHOOK_SECRET = [vector["secret"] + "x"]
    headers = {"X-Hub-Signature-256": vector["signature"]}

    with pytest.raises(WebhookRefused) as refused:
        GitHubWebhooks().verify(vector["body"].encode(), headers)
    assert refused.value.status == 401


@pytest.mark.parametrize("vector", VECTORS["github"])
def test_our_github_signature_helper_reproduces_the_published_one(vector):
    assert github_signature(vector["secret"], vector["body"].encode()) == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS["slack"])
def test_slacks_published_vector_verifies(vector):
    base = f"v0:{vector['timestamp']}:{vector['body']}".encode()

    assert signature_matches([vector["secret"]], base, vector["signature"], "v0=")


@pytest.mark.parametrize("vector", VECTORS["slack"])
def test_slacks_published_vector_fails_when_the_body_changes(vector):
    base = f"v0:{vector['timestamp']}:{vector['body']} ".encode()

    assert not signature_matches([vector["secret"]], base, vector["signature"], "v0=")


@pytest.mark.parametrize("vector", VECTORS["slack"])
def test_our_slack_signature_helper_reproduces_the_published_one(vector):
    signature = slack_signature(vector["secret"], str(vector["timestamp"]), vector["body"].encode())

    assert signature == vector["signature"]


def test_a_generated_github_signature_verifies_and_a_truncated_one_does_not(settings):
    settings.GITHUB_WEBHOOK_SECRET = ["generated"]
    body = b'{"zen": "Design for failure."}'
    signature = github_signature("generated", body)

    GitHubWebhooks().verify(body, {"X-Hub-Signature-256": signature})
    with pytest.raises(WebhookRefused):
        GitHubWebhooks().verify(body, {"X-Hub-Signature-256": signature[:-1]})


def test_a_signature_without_its_prefix_does_not_verify():
    body = b"{}"
    bare = github_signature("s", body).removeprefix("sha256=")

    assert not signature_matches(["s"], body, bare, "sha256=")


def test_slacks_published_vector_is_refused_today_as_a_replay(settings):
    from sources.slack.webhooks import SlackEvents

    (vector,) = VECTORS["slack"][:1]
    settings.SLACK_SIGNING_SECRET = [vector["secret"]]
    headers = {
        "X-Slack-Request-Timestamp": str(vector["timestamp"]),
        "X-Slack-Signature": vector["signature"],
    }
    assert time.time() - vector["timestamp"] > 300

    with pytest.raises(WebhookRefused) as refused:
        SlackEvents().verify(vector["body"].encode(), headers)
    assert refused.value.reason == "stale_timestamp"
