"""Fixtures shared by the ingestion tests."""

from __future__ import annotations

import pytest

from ingestion.harness import run_sync

# The in-memory test streams, as `repositories` and `commits` fixtures.
from tests.ingestion.memory_streams import (  # noqa: F401
    commits_fixture,
    repositories_fixture,
    repository_record,
)


@pytest.fixture
def three_repositories(repositories):
    """Three repositories synced, for streams whose records point at them."""
    repositories.records = [repository_record(n) for n in range(3)]
    run_sync(repositories)


@pytest.fixture
def scripted_state(tmp_path, monkeypatch):
    """Where the scripted `jobtest` stream keeps its per-scope state (shared with subprocesses)."""
    monkeypatch.setenv("JOBTEST_STATE_DIR", str(tmp_path))
