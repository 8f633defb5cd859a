"""A fake Slack Web API: `auth.test`, `users.list`, `conversations.list`,
`conversations.history` and `conversations.replies`, with Slack's shapes, token
checks, `ok: false` errors, 429s with Retry-After per method and the 2025 page cap.

    slack = FakeSlack(channels=3, messages=30)
    server = fake_server(slack.app)
    WebClient(token="xoxb-test-token", base_url=f"{server.url}/api/").auth_test()

or in its own process (benchmarks):
`python -m tests.fakes.serve tests.fakes.slack:create_app --options '{"channels": 20}'`.

Modules: `data` (generated users, channels and messages in Slack's shapes), `fake`
(FakeSlack: data, mutators, tokens, errors, limits, and the methods).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.app import FakeApp
from tests.fakes.slack.fake import DEFAULT_TOKEN, FakeSlack


def create_app(**options: Any) -> FakeApp:
    """Factory for `python -m tests.fakes.serve tests.fakes.slack:create_app`."""
    if "tokens" in options:
        options["tokens"] = tuple(options["tokens"])
    return FakeSlack(**options).app


__all__ = ["DEFAULT_TOKEN", "FakeSlack", "create_app"]
