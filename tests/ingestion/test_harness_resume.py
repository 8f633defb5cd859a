"""Checkpoints: a failed or paused run resumes from its last committed page."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion.choices import RunStatus
from ingestion.errors import TransientError
from ingestion.harness import run_sync
from ingestion.models import SyncRun, SyncState
from tests.ingestion.memory_streams import (
    EPOCH,
    repository_record,
)
from tracking.models import Repository

pytestmark = pytest.mark.django_db


def state() -> SyncState:
    return SyncState.objects.get(source="test", entity="repositories", scope="")


def test_failed_run_keeps_its_committed_pages_and_is_marked_failed(repositories):
    repositories.records = [repository_record(n) for n in range(3500)]
    repositories.fail_after_pages = 2

    with pytest.raises(TransientError, match="503"):
        run_sync(repositories)

    run = SyncRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "503" in run.error
    assert Repository.objects.count() == 2000
    assert state().cursor == {"offset": 2000}
    assert state().locked_by == ""


def test_next_run_resumes_from_the_committed_cursor(repositories):
    repositories.records = [repository_record(n) for n in range(3500)]
    repositories.fail_after_pages = 2
    with pytest.raises(TransientError):
        run_sync(repositories)
    repositories.fail_after_pages = None

    run = run_sync(repositories)

    assert (run.fetched, run.created, run.pages) == (1500, 1500, 2)
    assert Repository.objects.count() == 3500
    assert state().cursor is None


def test_paused_run_stops_at_a_checkpoint_and_the_next_run_continues(repositories):
    repositories.records = [repository_record(n) for n in range(3500)]

    stopped = run_sync(repositories, should_stop=lambda: True)
    resumed = run_sync(repositories)

    assert stopped.status == RunStatus.STOPPED
    assert stopped.created == 1000
    assert resumed.status == RunStatus.SUCCEEDED
    assert resumed.created == 2500
    assert Repository.objects.count() == 3500


def test_successful_run_sets_the_high_water_mark_and_clears_the_cursor(repositories):
    repositories.records = [repository_record(n) for n in range(1500)]

    run = run_sync(repositories)

    assert state().high_water_mark == EPOCH + dt.timedelta(minutes=1499)
    assert state().last_success_at is not None
    assert state().last_run_id == run.pk
    assert state().cursor is None


def test_incremental_run_reads_from_the_high_water_mark_minus_the_overlap(repositories):
    repositories.records = [repository_record(n) for n in range(100)]
    run_sync(repositories)
    repositories.overlap = dt.timedelta(minutes=10)
    try:
        run = run_sync(repositories)
    finally:
        del repositories.overlap

    # Minutes 89..99 are re-read (the overlap) and absorbed as unchanged.
    assert (run.fetched, run.unchanged) == (11, 11)


def test_full_run_reads_everything(repositories):
    repositories.records = [repository_record(n) for n in range(100)]
    run_sync(repositories)

    run = run_sync(repositories, full=True)

    assert run.fetched == 100
