"""The GitHub Actions source against the fake GitHub (tests/fakes/github), over real HTTP.

Reuses tests/github's `github` fixture (the fake, GITHUB_TOKEN, short retry pauses);
`actions` adds the repositories synced first, as a source sync does, and
`actions.sync(entity)` runs a github_actions stream through the real harness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingestion.harness import run_sync
from ingestion.models import SyncRun
from ingestion.streams import get_stream
from tests.fakes.github import FakeGitHub
from tests.github.conftest import GitHubUnderTest, github  # noqa: F401 (a fixture, reused)

REPO = "acme/repo-000"
WEBHOOK_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks" / "github"


@dataclass
class ActionsUnderTest:
    github: GitHubUnderTest

    @property
    def upstream(self) -> FakeGitHub:
        return self.github.upstream

    def sync(self, entity: str, scope: str = REPO, *, full: bool = False) -> SyncRun:
        return run_sync(get_stream("github_actions", entity), scope, full=full)

    def requests_to(self, suffix: str) -> list[Any]:
        return [r for r in self.github.server.requests if r.path.endswith(suffix)]


@pytest.fixture
def actions(github) -> ActionsUnderTest:  # noqa: F811 (the fixture imported above)
    github.sync("repositories")
    return ActionsUnderTest(github)


def delivery(name: str) -> dict[str, Any]:
    """A documented example delivery from fixtures/webhooks/github (see its README)."""
    return json.loads((WEBHOOK_FIXTURES / f"{name}.json").read_text())
