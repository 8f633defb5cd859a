"""Pytest fixtures for fake upstreams; registered in tests/conftest.py with
`pytest_plugins = ["tests.fakes.fixtures"]`.

- `fake_server`: a factory; `fake_server(app)` starts a FakeServer, stopped at teardown.
- `records_upstream` / `records_server`: the records fake (250 records) and its server.
- `records_stream`: `fake/records`, registered and pointed at `records_server`, with
  short client timeouts.
- `github_upstream` / `github_server`: a small FakeGitHub (3 repositories x 30 commits,
  10 issues, 5 pulls, token `ghp_test`) and its server.

Every server started here is stopped at teardown, and a crash inside a fake's
handler (a bug in the fake, not in the hub) fails the test that caused it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.app import FakeApp
from tests.fakes.github import FakeGitHub
from tests.fakes.records import RecordsUpstream
from tests.fakes.server import FakeServer


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    started: list[FakeServer] = []

    def start(app: FakeApp, **options: Any) -> FakeServer:
        server = FakeServer(app, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    errors = [error for server in started for error in server.handler_errors]
    if errors:
        pytest.fail("a fake upstream's handler crashed:\n" + "\n".join(errors))


@pytest.fixture
def records_upstream() -> RecordsUpstream:
    return RecordsUpstream(250, seed=1)


@pytest.fixture
def records_server(fake_server, records_upstream) -> FakeServer:
    return fake_server(records_upstream.app)


@pytest.fixture
def records_stream(records_server):
    """The registered `fake/records` stream, aimed at `records_server`; reset afterwards."""
    from tests.fakes.records_stream import FakeRecordsStream, register_records_stream

    stream = register_records_stream()
    defaults = FakeRecordsStream().__dict__.copy()
    stream.base_url = records_server.url
    stream.timeout = 0.5
    stream.backoff_seconds = 0.01
    yield stream
    stream.__dict__.update(defaults)


@pytest.fixture
def github_upstream() -> FakeGitHub:
    return FakeGitHub(repositories=3, commits=30, issues=10, pulls=5)


@pytest.fixture
def github_server(fake_server, github_upstream) -> FakeServer:
    return fake_server(github_upstream.app)
