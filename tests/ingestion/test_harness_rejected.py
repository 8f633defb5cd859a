"""Rejected records: every kind of bad record is kept, and re-tried until it loads."""

from __future__ import annotations

import pytest

from ingestion.harness import retry_rejected, run_sync
from ingestion.models import RejectedRecord
from tests.ingestion.memory_streams import (
    commit_record,
    repository_record,
)
from tracking.models import Commit

pytestmark = pytest.mark.django_db


def test_commit_of_an_unknown_repository_is_rejected_naming_the_missing_reference(commits):
    commits.records = [commit_record(1)]

    run = run_sync(commits)

    assert run.rejected == 1
    assert "repository test:1 not found" in RejectedRecord.objects.get().error


def test_record_without_its_natural_key_is_rejected_with_no_key(repositories):
    repositories.records = [{"full_name": "acme/x", "updated_at": "2026-01-01T00:00:00+00:00"}]

    run = run_sync(repositories)

    rejected = RejectedRecord.objects.get()
    assert run.rejected == 1
    assert rejected.external_id == ""
    assert "KeyError" in rejected.error


def test_text_longer_than_its_column_is_rejected_not_a_failed_run(repositories):
    record = repository_record(1)
    record["full_name"] = "acme/" + "x" * 400
    repositories.records = [record, repository_record(2)]

    run = run_sync(repositories)

    assert (run.created, run.rejected) == (1, 1)
    assert "full_name: 405 characters, at most 300" in RejectedRecord.objects.get().error


def test_rejected_record_is_retried_and_resolved_on_the_next_run(repositories, commits):
    commits.records = [commit_record(1)]
    run_sync(commits)
    repositories.records = [repository_record(1)]
    run_sync(repositories)
    commits.records = []

    run = run_sync(commits)

    assert run.created == 1
    assert Commit.objects.filter(external_id=f"{1:040x}").exists()
    assert RejectedRecord.objects.get().resolved


def test_record_rejected_twice_stays_one_open_rejected_record(commits):
    commits.records = [commit_record(1)]
    run_sync(commits)

    run = run_sync(commits, full=True)

    rejected = RejectedRecord.objects.get()
    assert run.rejected == 2  # the open one re-tried, and the copy read again
    assert rejected.attempts == 3
    assert not rejected.resolved


def test_admin_retry_loads_a_rejected_record_once_its_reference_exists(repositories, commits):
    commits.records = [commit_record(1)]
    run_sync(commits)
    repositories.records = [repository_record(1)]
    run_sync(repositories)

    (run,) = retry_rejected(RejectedRecord.objects.all())

    assert run.created == 1
    assert RejectedRecord.objects.get().resolved


def test_rejected_record_fixed_upstream_is_resolved_when_read_again(repositories):
    bad = repository_record(1)
    bad["full_name"] = "no-slash"
    repositories.records = [bad]
    run_sync(repositories)
    repositories.records = [repository_record(1)]

    run_sync(repositories, full=True)

    assert RejectedRecord.objects.get().resolved
