"""The load path: new rows inserted, unchanged rows untouched, changed rows updated and audited."""

from __future__ import annotations

import pytest

from ingestion.choices import RunStatus
from ingestion.harness import run_sync
from tests.ingestion.memory_streams import (
    commit_record,
    repository_record,
)
from tracking.choices import AuditAction
from tracking.models import AuditLog, Commit, Repository

pytestmark = pytest.mark.django_db


def test_first_sync_creates_every_record(repositories):
    repositories.records = [repository_record(n) for n in range(2500)]

    run = run_sync(repositories)

    assert run.status == RunStatus.SUCCEEDED
    assert (run.fetched, run.created, run.updated, run.unchanged) == (2500, 2500, 0, 0)
    assert run.pages == 3
    assert Repository.objects.filter(source="test").count() == 2500
    stored = Repository.objects.get(source="test", external_id="7")
    assert stored.full_name == "acme/widget-7"
    assert stored.raw_signature


def test_unchanged_reingest_writes_nothing(repositories):
    repositories.records = [repository_record(n) for n in range(10)]
    run_sync(repositories)
    before = Repository.objects.get(external_id="3")

    run = run_sync(repositories, full=True)

    after = Repository.objects.get(external_id="3")
    assert (run.created, run.updated, run.unchanged) == (0, 0, 10)
    assert after.last_seen_at == before.last_seen_at
    assert after.raw_signature == before.raw_signature


def test_changed_record_is_updated_with_a_field_diff_in_the_audit_log(repositories):
    repositories.records = [repository_record(n) for n in range(10)]
    run_sync(repositories)
    repositories.records[4] = repository_record(4, version=1)

    run = run_sync(repositories, full=True)

    assert (run.updated, run.unchanged) == (1, 9)
    stored = Repository.objects.get(external_id="4")
    assert stored.description == "Widget 4, revision 1"
    entry = AuditLog.objects.get(action=AuditAction.UPDATE, object_id=str(stored.pk))
    assert entry.changes["description"] == ["Widget 4, revision 0", "Widget 4, revision 1"]
    assert entry.changes["updated_at"][1] == stored.updated_at.isoformat()


def test_changed_record_moves_last_seen_at(repositories):
    repositories.records = [repository_record(1)]
    run_sync(repositories)
    first_seen = Repository.objects.get(external_id="1").last_seen_at
    repositories.records = [repository_record(1, version=2)]

    run_sync(repositories, full=True)

    assert Repository.objects.get(external_id="1").last_seen_at > first_seen


def test_every_run_writes_one_ingest_audit_entry_with_its_counts(repositories):
    repositories.records = [repository_record(n) for n in range(5)]

    run = run_sync(repositories, job_id=42)

    entry = AuditLog.objects.get(action=AuditAction.INGEST)
    assert entry.object_id == str(run.pk)
    assert entry.job_id == 42
    assert entry.actor == "job 42"
    assert entry.changes["created"] == 5
    assert entry.changes["status"] == RunStatus.SUCCEEDED


def test_created_rows_get_no_audit_entry_of_their_own(repositories):
    repositories.records = [repository_record(n) for n in range(5)]

    run_sync(repositories)

    assert not AuditLog.objects.exclude(action=AuditAction.INGEST).exists()


def test_commits_link_their_repository_by_natural_key(repositories, commits):
    repositories.records = [repository_record(n) for n in range(3)]
    run_sync(repositories)
    commits.records = [commit_record(n, repositories=3) for n in range(6)]

    run = run_sync(commits)

    assert run.created == 6
    commit = Commit.objects.get(external_id=f"{4:040x}")
    assert commit.repository.external_id == "1"
