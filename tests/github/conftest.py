"""The GitHub source against the fake GitHub (tests/fakes/github), over real HTTP.

`github` points the hub at a running fake with GITHUB_TOKEN set and short
retry pauses, and offers `github.sync(entity, scope)` through the real harness;
`github_with_repositories` is the same with the repositories synced, as the
per-repository streams need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ingestion.harness import run_sync
from ingestion.models import SyncRun
from ingestion.streams import get_stream
from tests.fakes.github import FakeGitHub
from tests.fakes.server import FakeServer

TOKEN = "ghp_test"


@dataclass
class GitHubUnderTest:
    upstream: FakeGitHub
    server: FakeServer

    def sync(self, entity: str, scope: str = "", *, full: bool = False) -> SyncRun:
        return run_sync(get_stream("github", entity), scope, full=full)

    def sync_all(self, *, full: bool = False) -> dict[str, Any]:
        """Repositories, then each repository's three streams: what a source sync does."""
        from sources.github.streams import configured_repositories

        runs: dict[str, Any] = {"repositories": self.sync("repositories", full=full)}
        for name in configured_repositories():
            for entity in ("commits", "issues", "pull_requests"):
                runs[f"{name}/{entity}"] = self.sync(entity, name, full=full)
        return runs

    def counted(self, token: str = TOKEN) -> int:
        return self.upstream.counted_requests[token]


@pytest.fixture
def github(settings, fake_server) -> GitHubUnderTest:
    upstream = FakeGitHub(repositories=3, commits=30, issues=12, pulls=6, tokens=(TOKEN,))
    server = fake_server(upstream.app)
    settings.GITHUB_API_URL = server.url
    settings.GITHUB_TOKEN = TOKEN
    settings.GITHUB_ORGS = ["acme"]
    settings.GITHUB_REPOS = []
    settings.GITHUB_RETRY_BACKOFF = 0.01
    settings.GITHUB_MAX_INLINE_WAIT = 2.0
    return GitHubUnderTest(upstream, server)


@pytest.fixture
def github_with_repositories(github) -> GitHubUnderTest:
    github.sync("repositories")
    return github
