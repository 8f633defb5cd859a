"""Reconciliation: issues deleted in Jira or moved to another project are marked deleted."""

from __future__ import annotations

import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.utils import timezone

from ingestion.errors import TransientError
from ingestion.reconcile import reconcile
from ingestion.streams import get_stream
from tracking.choices import AuditAction
from tracking.models import AuditLog, Bug, Issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(jira):
    jira.sync("issues", "ALPHA")
    jira.sync("issues", "BETA")
    jira.server.clear_requests()
    return jira


def issues_stream():
    return get_stream("jira", "issues")


def row(upstream, key: str) -> Issue:
    return Issue.objects.get(external_id=str(upstream.issue(key).id))


def test_an_issue_deleted_in_jira_is_marked_deleted(any_jira):
    any_jira.sync("issues", "ALPHA")
    gone = row(any_jira.upstream, "ALPHA-3")
    any_jira.upstream.delete_issue("ALPHA-3")

    result = reconcile(issues_stream(), "ALPHA")

    assert result.deleted == [gone.external_id]
    assert (result.live, result.stored) == (29, 30)
    gone.refresh_from_db()
    assert gone.deleted_at is not None
    assert Issue.objects.filter(deleted_at__isnull=True).count() == 29


def test_marking_is_audited_per_row(synced):
    gone = row(synced.upstream, "ALPHA-3")
    synced.upstream.delete_issue("ALPHA-3")

    reconcile(issues_stream(), "ALPHA", actor="cli")

    entry = AuditLog.objects.get(
        content_type=ContentType.objects.get_for_model(Issue), object_id=str(gone.pk)
    )
    assert entry.action == AuditAction.DELETE
    assert entry.actor == "cli"
    assert entry.changes["deleted_at"][0] is None


def test_the_bug_of_a_deleted_issue_is_marked_deleted_with_it(synced):
    key = next(i.key for i in synced.upstream.project_issues("ALPHA") if i.issue_type == "Bug")
    issue_id = str(synced.upstream.issue(key).id)
    synced.upstream.delete_issue(key)

    reconcile(issues_stream(), "ALPHA")

    assert Bug.objects.get(source="jira", external_id=issue_id).deleted_at is not None


def test_an_issue_moved_to_another_project_leaves_the_old_one_and_lives_in_the_new(synced):
    moved = row(synced.upstream, "ALPHA-3")
    new_key = synced.upstream.move_issue("ALPHA-3", "BETA")

    reconcile(issues_stream(), "ALPHA")
    moved.refresh_from_db()
    assert moved.deleted_at is not None

    synced.sync("issues", "BETA")

    moved.refresh_from_db()
    assert (moved.key, moved.upstream_project, moved.deleted_at) == (new_key, "BETA", None)


def test_an_issue_listed_again_is_restored_with_its_bug(synced):
    key = next(i.key for i in synced.upstream.project_issues("ALPHA") if i.issue_type == "Bug")
    issue = row(synced.upstream, key)
    synced.upstream.move_issue(key, "BETA")
    reconcile(issues_stream(), "ALPHA")
    synced.upstream.move_issue(synced.upstream.issue_by_id(int(issue.external_id)).key, "ALPHA")

    result = reconcile(issues_stream(), "ALPHA")

    assert result.restored == [issue.external_id]
    issue.refresh_from_db()
    assert issue.deleted_at is None
    assert Bug.objects.get(external_id=issue.external_id).deleted_at is None


def test_a_bug_deleted_by_hand_stays_deleted_when_its_issue_is_restored(synced):
    key = next(i.key for i in synced.upstream.project_issues("ALPHA") if i.issue_type == "Bug")
    issue = row(synced.upstream, key)
    synced.upstream.move_issue(key, "BETA")
    reconcile(issues_stream(), "ALPHA")
    bug = Bug.objects.get(external_id=issue.external_id)
    bug.restore()
    bug.soft_delete()  # a person deleted it in the hub, later
    synced.upstream.move_issue(synced.upstream.issue_by_id(int(issue.external_id)).key, "ALPHA")

    reconcile(issues_stream(), "ALPHA")

    assert Bug.objects.get(pk=bug.pk).deleted_at is not None


def test_the_next_sync_of_an_issue_seen_again_clears_its_deletion(synced):
    issue = row(synced.upstream, "ALPHA-3")
    new_key = synced.upstream.move_issue("ALPHA-3", "BETA")
    reconcile(issues_stream(), "ALPHA")
    synced.upstream.move_issue(new_key, "ALPHA")

    synced.sync("issues", "ALPHA")

    issue.refresh_from_db()
    assert issue.deleted_at is None


def test_other_projects_are_left_alone(synced):
    synced.upstream.delete_issue("ALPHA-3")

    reconcile(issues_stream(), "ALPHA")

    assert not Issue.objects.filter(upstream_project="BETA", deleted_at__isnull=False).exists()


def test_the_listing_asks_for_ids_only_in_pages_of_thousands(synced):
    reconcile(issues_stream(), "ALPHA")

    (listing,) = synced.query_of("/rest/api/3/search/jql")
    assert listing["fields"] == ["issuekey"]  # "id", as the jira library spells it
    assert listing["maxResults"] == ["5000"]


def test_candidates_are_listed_twice_before_they_are_marked(synced):
    synced.upstream.delete_issue("ALPHA-3")

    reconcile(issues_stream(), "ALPHA")

    assert synced.count("/rest/api/3/search/jql") == 2


def test_a_row_stored_while_the_listing_ran_is_left_for_next_time(synced, monkeypatch):
    stream = issues_stream()
    listed = stream.live_keys

    def listing_during_a_sync(scope):
        yield from listed(scope)
        # A sync stores an issue the listing had already passed.
        Issue.objects.get_or_create(
            source="jira",
            external_id="99999",
            defaults={
                "key": "ALPHA-999",
                "upstream_project": "ALPHA",
                "title": "Created meanwhile",
                "last_seen_at": timezone.now(),
            },
        )

    monkeypatch.setattr(stream, "live_keys", listing_during_a_sync)

    result = reconcile(stream, "ALPHA")

    assert result.deleted == []
    assert Issue.objects.get(external_id="99999").deleted_at is None


def test_a_listing_that_fails_changes_nothing(synced):
    synced.upstream.delete_issue("ALPHA-3")
    synced.server.faults.next("http_503", path="/search/jql")

    with pytest.raises(TransientError):
        reconcile(issues_stream(), "ALPHA")

    assert not Issue.objects.filter(deleted_at__isnull=False).exists()


def test_the_sync_command_reconciles_a_project(synced):
    synced.upstream.delete_issue("ALPHA-3")
    out = io.StringIO()

    call_command("sync", "jira", "issues", "--scope", "ALPHA", "--reconcile", stdout=out)

    assert "jira/issues/ALPHA: 29 live upstream, 30 stored; 1 marked deleted" in out.getvalue()


def test_the_sync_command_reconciles_every_configured_project_without_a_scope(synced, settings):
    settings.JIRA_PROJECTS = ["ALPHA", "BETA"]
    synced.upstream.delete_issue("BETA-7")
    out = io.StringIO()

    call_command("sync", "jira", "issues", "--reconcile", stdout=out)

    assert "jira/issues/ALPHA: 30 live upstream, 30 stored; 0 marked deleted" in out.getvalue()
    assert "jira/issues/BETA: 29 live upstream, 30 stored; 1 marked deleted" in out.getvalue()


def test_sprints_cannot_be_reconciled(synced):
    with pytest.raises(CommandError, match=r"jira/sprints cannot be reconciled.*jira/issues"):
        call_command("sync", "jira", "sprints", "--scope", "1", "--reconcile")


def test_reconcile_runs_alone(synced):
    with pytest.raises(CommandError, match="leave out --enqueue and --full"):
        call_command("sync", "jira", "issues", "--scope", "ALPHA", "--reconcile", "--full")


def test_a_failed_reconciliation_says_which_scope(synced):
    err = io.StringIO()

    with pytest.raises(CommandError, match="Reconciliation failed for NOPE"):
        call_command("sync", "jira", "issues", "--scope", "NOPE", "--reconcile", stderr=err)

    assert "no project NOPE" in err.getvalue()


def test_the_weekly_schedule_queues_one_reconcile_job_per_project(synced, settings, empty_broker):
    from ingestion.jobs import enqueue_reconciles

    settings.JIRA_PROJECTS = ["ALPHA", "BETA"]

    queued = enqueue_reconciles()
    again = enqueue_reconciles()

    assert sorted((job.entity, job.scope) for job in queued) == [
        ("issues", "ALPHA"),
        ("issues", "BETA"),
    ]
    assert again == []  # unfinished ones are not queued twice


def test_a_reconcile_job_marks_the_deleted_issues(synced, empty_broker):
    from ingestion.choices import JobKind, JobStatus
    from ingestion.jobs import enqueue_job, run_job

    gone = row(synced.upstream, "ALPHA-3")
    synced.upstream.delete_issue("ALPHA-3")
    job = enqueue_job(JobKind.RECONCILE, {"source": "jira", "entity": "issues", "scope": "ALPHA"})

    finished = run_job(job.pk)

    assert finished.status == JobStatus.SUCCEEDED
    gone.refresh_from_db()
    assert gone.deleted_at is not None
