"""Counts per run: persisted, adding up, and flagged when they do not."""

from __future__ import annotations

import pytest

from ingestion.harness import run_sync
from ingestion.models import SyncRun
from tests.ingestion.memory_streams import (
    commit_record,
    poison,
    repository_record,
)

pytestmark = pytest.mark.django_db


def test_counts_add_up_across_created_updated_unchanged_and_rejected(repositories, commits):
    repositories.records = [repository_record(n) for n in range(3)]
    run_sync(repositories)
    commits.records = [commit_record(n, repositories=3) for n in range(20)]
    run_sync(commits)
    commits.records[0] = commit_record(0, repositories=3, version=1)
    commits.records[1] = poison(commits.records[1])
    commits.records.append(commit_record(20, repositories=3))

    run = run_sync(commits, full=True)

    stored = SyncRun.objects.get(pk=run.pk)
    assert (stored.fetched, stored.created, stored.updated) == (21, 1, 1)
    assert (stored.unchanged, stored.rejected) == (18, 1)
    assert not stored.counts_mismatch


def test_pages_and_requests_are_counted(repositories):
    repositories.records = [repository_record(n) for n in range(2001)]

    run = run_sync(repositories)

    stored = SyncRun.objects.get(pk=run.pk)
    assert (stored.pages, stored.requests) == (3, 3)
    assert stored.duration_seconds is not None
    assert stored.finished_at is not None


def test_a_record_read_twice_in_one_page_is_one_row_and_the_counts_still_add_up(repositories):
    repositories.records = [repository_record(1), repository_record(1, version=1)]

    run = run_sync(repositories)

    assert (run.fetched, run.created, run.unchanged) == (2, 1, 1)
    assert not run.counts_mismatch


def test_counts_are_visible_after_each_page(repositories):
    repositories.records = [repository_record(n) for n in range(3000)]
    seen = []

    run_sync(repositories, progress=lambda run: seen.append(SyncRun.objects.get(pk=run.pk).fetched))

    assert seen == [1000, 2000, 3000]
