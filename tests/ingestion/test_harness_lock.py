"""The per-stream lock: two runs of one stream never overlap; a stale claim is taken over."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from django.utils import timezone

from ingestion.choices import RunStatus
from ingestion.harness import StreamLock, SyncAlreadyRunning, run_sync
from ingestion.models import SyncRun, SyncState
from tests.ingestion.memory_streams import (
    repository_record,
)

pytestmark = pytest.mark.django_db


def test_second_run_of_a_locked_stream_is_refused(repositories):
    repositories.records = [repository_record(1)]
    StreamLock.acquire("test", "repositories", "")

    with pytest.raises(SyncAlreadyRunning, match="already being synced"):
        run_sync(repositories)

    assert not SyncRun.objects.exists()


def test_run_started_from_inside_a_running_sync_is_refused(repositories):
    repositories.records = [repository_record(n) for n in range(2000)]
    refusals = []

    def start_another_run(run):
        try:
            run_sync(repositories)
        except SyncAlreadyRunning as error:
            refusals.append(str(error))

    run = run_sync(repositories, progress=start_another_run)

    assert run.status == RunStatus.SUCCEEDED
    assert len(refusals) == 2


def test_other_scopes_of_the_same_stream_are_not_locked(repositories):
    repositories.records = [repository_record(1)]
    StreamLock.acquire("test", "repositories", "acme")

    run = run_sync(repositories, scope="other")

    assert run.status == RunStatus.SUCCEEDED


def test_expired_lock_is_taken_over(repositories):
    repositories.records = [repository_record(1)]
    StreamLock.acquire("test", "repositories", "")
    SyncState.objects.update(lock_expires_at=timezone.now() - dt.timedelta(seconds=1))

    run = run_sync(repositories)

    assert run.status == RunStatus.SUCCEEDED


def test_lock_of_a_dead_process_on_this_host_is_taken_over(repositories):
    repositories.records = [repository_record(1)]
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(finished.stdout)
    lock = StreamLock.acquire("test", "repositories", "")
    host = lock.token.split(":")[0]
    SyncState.objects.update(locked_by=f"{host}:{dead_pid}:deadbeef")

    run = run_sync(repositories)

    assert run.status == RunStatus.SUCCEEDED


def test_lock_is_released_after_a_run(repositories):
    repositories.records = [repository_record(1)]

    run_sync(repositories)

    state = SyncState.objects.get(source="test", entity="repositories")
    assert state.locked_by == ""


def test_a_run_whose_lock_was_taken_over_stops_without_writing_its_page(repositories):
    repositories.records = [repository_record(n) for n in range(2000)]

    def steal_the_lock(run):
        SyncState.objects.update(locked_by="elsewhere:1:thief")

    with pytest.raises(Exception, match="taken over"):
        run_sync(repositories, progress=steal_the_lock)

    run = SyncRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.created == 1000
