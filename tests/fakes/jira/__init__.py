"""A fake Jira, Cloud or Data Center: the REST search (Cloud's enhanced `/search/jql`
with `nextPageToken`, Data Center's `/search` with `startAt`), serverInfo, myself,
field and project, and the Agile API's boards and sprints; Basic (Cloud) or
Bearer PAT (Data Center) auth.

    jira = FakeJira(deployment="data_center", projects=2, issues_per_project=30)
    server = fake_server(jira.app)

or in its own process (benchmarks):
`python -m tests.fakes.serve tests.fakes.jira:create_app --options '{"projects": 5}'`.

Modules: `data` (generated records in Jira's shapes), `jql` (the JQL subset),
`fake` (FakeJira: data, credentials, mutators), `routes` (REST endpoints),
`fixtures` (pytest fixtures `jira_upstream`, `jira_server`).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.app import FakeApp
from tests.fakes.jira.data import CLOUD, DATA_CENTER
from tests.fakes.jira.fake import FakeJira


def create_app(**options: Any) -> FakeApp:
    """Factory for `python -m tests.fakes.serve tests.fakes.jira:create_app`."""
    return FakeJira(**options).app


__all__ = ["CLOUD", "DATA_CENTER", "FakeJira", "create_app"]
