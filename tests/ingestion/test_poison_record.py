"""A malformed record is rejected and reported; the records around it land."""

from __future__ import annotations

import pytest

from ingestion.choices import RunStatus
from ingestion.harness import run_sync
from ingestion.models import RejectedRecord
from tests.ingestion.memory_streams import (
    commit_record,
    poison,
    repository_record,
)
from tracking.models import Commit

pytestmark = pytest.mark.django_db


def test_one_malformed_record_among_ten_thousand_is_rejected_and_the_rest_land(
    repositories, commits
):
    repositories.records = [repository_record(n) for n in range(10)]
    run_sync(repositories)
    commits.records = [commit_record(n) for n in range(10_000)]
    commits.records[4321] = poison(commits.records[4321])

    run = run_sync(commits)

    assert run.status == RunStatus.SUCCEEDED
    assert (run.fetched, run.created, run.rejected) == (10_000, 9_999, 1)
    assert Commit.objects.filter(source="test").count() == 9_999
    rejected = RejectedRecord.objects.get()
    assert rejected.external_id == f"{4321:040x}"
    assert rejected.run == run
    assert "not a date" in rejected.error
    assert rejected.payload["committed_at"] == "not a date"
    assert not rejected.resolved
