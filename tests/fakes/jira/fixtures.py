"""Pytest fixtures for the fake Jira. Registered with the other fakes' fixtures by
`pytest_plugins` in tests/conftest.py (or imported by a conftest).

- `jira_upstream`: a small Cloud FakeJira (2 projects x 30 issues, 6 sprints a board).
- `jira_server`: `jira_upstream` served over HTTP on 127.0.0.1, stopped at teardown.
"""

from __future__ import annotations

import pytest

from tests.fakes.jira.fake import FakeJira
from tests.fakes.server import FakeServer


@pytest.fixture
def jira_upstream() -> FakeJira:
    return FakeJira(projects=2, issues_per_project=30, sprints_per_board=6)


@pytest.fixture
def jira_server(fake_server, jira_upstream) -> FakeServer:
    return fake_server(jira_upstream.app)
