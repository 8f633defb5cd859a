"""The Jira source against the fake Jira (tests/fakes/jira), over real HTTP.

`jira` points the hub at a running fake Jira Cloud (`jira_data_center` at a Data
Center one, `any_jira` at each in turn) with small pages, and offers
`jira.sync(entity, scope)` through the real harness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ingestion.harness import run_sync
from ingestion.models import SyncRun
from ingestion.streams import get_stream
from tests.fakes.jira import CLOUD, DATA_CENTER, FakeJira
from tests.fakes.server import FakeServer

EMAIL = "hub@example.com"
API_TOKEN = "jira-api-token"
PAT = "jira-pat"
PAGE_SIZE = 10


@dataclass
class JiraUnderTest:
    upstream: FakeJira
    server: FakeServer

    @property
    def cloud(self) -> bool:
        return self.upstream.deployment == CLOUD

    @property
    def search_path(self) -> str:
        return "/rest/api/3/search/jql" if self.cloud else "/rest/api/2/search"

    def sync(self, entity: str, scope: str, *, full: bool = False) -> SyncRun:
        return run_sync(get_stream("jira", entity), scope, full=full)

    def sync_all(self, *, full: bool = False) -> list[SyncRun]:
        """Sprints of every scrum board, then issues of every project."""
        scrum = [board.id for board in self.upstream.boards.values() if board.type == "scrum"]
        runs = [self.sync("sprints", str(board), full=full) for board in sorted(scrum)]
        runs += [self.sync("issues", key, full=full) for key in self.upstream.projects]
        return runs

    def searches(self) -> list[str]:
        """The JQL of every search the fake received, in order."""
        return [
            request.query["jql"][0]
            for request in self.server.requests
            if request.path == self.search_path and "jql" in request.query
        ]

    def count(self, path: str) -> int:
        return self.server.request_count(path)

    def query_of(self, path: str) -> list[dict[str, list[str]]]:
        return [
            parse_qs(urlsplit(f"http://x{request.path}?").query) | request.query
            for request in self.server.requests
            if request.path == path
        ]


def point_at(settings: Any, upstream: FakeJira, server: FakeServer) -> JiraUnderTest:
    settings.JIRA_BASE_URL = server.url
    if upstream.deployment == CLOUD:
        settings.JIRA_EMAIL, settings.JIRA_API_TOKEN, settings.JIRA_PAT = EMAIL, API_TOKEN, ""
    else:
        settings.JIRA_EMAIL, settings.JIRA_API_TOKEN, settings.JIRA_PAT = "", "", PAT
    settings.JIRA_PROJECTS = []
    settings.JIRA_BOARDS = []
    settings.JIRA_STORY_POINTS_FIELD = ""
    settings.JIRA_SPRINT_FIELD = ""
    settings.JIRA_PAGE_SIZE = PAGE_SIZE
    settings.JIRA_TIMEOUT = 2.0
    return JiraUnderTest(upstream, server)


@pytest.fixture
def make_jira(settings, fake_server) -> Callable[..., JiraUnderTest]:
    """`make_jira(deployment=..., **options)`: a FakeJira, served, the hub pointed at it."""

    def make(**options: Any) -> JiraUnderTest:
        options.setdefault("projects", 2)
        options.setdefault("issues_per_project", 30)
        options.setdefault("sprints_per_board", 6)
        upstream = FakeJira(**options)
        return point_at(settings, upstream, fake_server(upstream.app))

    return make


@pytest.fixture
def jira(make_jira) -> JiraUnderTest:
    return make_jira(deployment=CLOUD)


@pytest.fixture
def jira_data_center(make_jira) -> JiraUnderTest:
    return make_jira(deployment=DATA_CENTER)


@pytest.fixture(params=[CLOUD, DATA_CENTER])
def any_jira(request, make_jira) -> JiraUnderTest:
    """Each test using it runs against Jira Cloud and against Jira Data Center."""
    return make_jira(deployment=request.param)
