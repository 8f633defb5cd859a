"""The Slack source against the fake Slack (tests/fakes/slack), over real HTTP.

`slack` points the hub at a running fake with SLACK_BOT_TOKEN set, pages of 15
messages (Slack's 2025 cap for apps outside the Marketplace) and a pace so fast
it never waits long, and offers `slack.sync(entity, scope)` through the real harness.
Beside it, what the test modules share: FULL_COUNT, `stored`, `a_minute_passes`, `fixture`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from ingestion.choices import JobStatus
from ingestion.harness import run_sync
from ingestion.models import IngestionJob, SyncRun
from ingestion.streams import get_stream
from sources.slack.models import MethodPace
from tests.fakes.server import FakeServer
from tests.fakes.slack import DEFAULT_TOKEN, FakeSlack
from tracking.models import ChatMessage

TOKEN = DEFAULT_TOKEN
GENERAL = "C00000001"
RANDOM = "C00000002"
# What a full sync of a channel of `slack_upstream` stores: 30 messages, one a join (left
# out), and 3 threads of 3 replies.
FULL_COUNT = 38
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "slack"


def fixture(name: str) -> Any:
    """A recorded Slack payload from fixtures/slack."""
    return json.loads((FIXTURES / name).read_text())


def stored(channel: str = GENERAL) -> int:
    """The messages of `channel` in the database."""
    return ChatMessage.objects.filter(channel_id=channel).count()


def a_minute_passes() -> None:
    """The pace's last requests and waiting jobs' retry times move a minute into the past
    (no sleeping in tests)."""
    earlier = timezone.now() - dt.timedelta(minutes=1)
    MethodPace.objects.update(last_request_at=earlier)
    IngestionJob.objects.filter(status=JobStatus.RETRYING).update(next_attempt_at=earlier)


@dataclass
class SlackUnderTest:
    upstream: FakeSlack
    server: FakeServer

    def sync(self, entity: str, scope: str = "", *, full: bool = False) -> SyncRun:
        return run_sync(get_stream("slack", entity), scope, full=full)

    def sync_all(self, *, full: bool = False) -> dict[str, Any]:
        """Channels and users, then each configured channel's messages: a source sync."""
        runs: dict[str, Any] = {
            "channels": self.sync("channels", full=full),
            "users": self.sync("users", full=full),
        }
        for channel in get_stream("slack", "messages").configured_scopes():
            runs[channel] = self.sync("messages", channel, full=full)
        return runs

    def requests_to(self, method: str) -> int:
        return self.server.request_count(f"/api/{method}")


@pytest.fixture
def slack_upstream() -> FakeSlack:
    return FakeSlack(channels=3, messages=30, thread_every=10, replies=3, users=5)


@pytest.fixture
def slack(settings, fake_server, slack_upstream) -> SlackUnderTest:
    server = fake_server(slack_upstream.app)
    settings.SLACK_API_URL = f"{server.url}/api/"
    settings.SLACK_BOT_TOKEN = TOKEN
    settings.SLACK_CHANNELS = []
    settings.SLACK_DEPLOY_BOTS = []
    settings.SLACK_DEPLOY_PATTERNS = [r"\bdeploy(ed|ing|ment)?\b"]
    settings.SLACK_KEEP_JOINS = False
    settings.SLACK_HISTORY_LIMIT = 15
    # Paced, but a millisecond apart: the pace is claimed on every request, never waited long.
    settings.SLACK_REQUESTS_PER_MINUTE = 60_000
    settings.SLACK_TIMEOUT = 2
    return SlackUnderTest(slack_upstream, server)


@pytest.fixture
def slack_channels(slack) -> SlackUnderTest:
    """The fake's channels already synced (what a source sync does first)."""
    slack.sync("channels")
    return slack
