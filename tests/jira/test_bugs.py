"""Jira issues of type Bug are also Bugs: numbered, with severity from the priority."""

from __future__ import annotations

import pytest

from tracking.choices import BugStatus, Severity
from tracking.models import Bug, Issue, Project

pytestmark = pytest.mark.django_db


def bug_of(upstream, key: str) -> Bug:
    return Bug.objects.get(source="jira", external_id=str(upstream.issue(key).id))


def test_every_issue_of_type_bug_is_a_bug(any_jira):
    any_jira.sync("issues", "ALPHA")

    upstream_bugs = {
        str(issue.id)
        for issue in any_jira.upstream.project_issues("ALPHA")
        if issue.issue_type == "Bug"
    }
    assert upstream_bugs
    assert set(Bug.objects.values_list("external_id", flat=True)) == upstream_bugs
    assert not Bug.objects.exclude(source="jira").exists()


def test_a_bug_gets_a_number_its_severity_from_the_priority_and_its_project(jira):
    project = Project.objects.create(name="Alpha", jira_project_key="ALPHA")
    key = jira.upstream.add_issue(
        "ALPHA", "Payments double charge", issue_type="Bug", priority="Highest", assignee="alan"
    )

    jira.sync("issues", "ALPHA")

    bug = bug_of(jira.upstream, key)
    assert bug.number.startswith("BUG-")
    assert bug.title == "Payments double charge"
    assert bug.severity == Severity.CRITICAL
    assert bug.status == BugStatus.OPEN
    assert bug.project == project
    assert bug.assignee_identity.display_name == "Alan Turing"
    assert bug.url == Issue.objects.get(key=key).url
    assert bug.due_at is not None


def test_a_bug_done_in_jira_is_resolved_and_one_not_done_is_wont_fix(jira):
    fixed = jira.upstream.add_issue("ALPHA", "Fixed one", issue_type="Bug")
    dropped = jira.upstream.add_issue("ALPHA", "Dropped one", issue_type="Bug")
    jira.sync("issues", "ALPHA")
    jira.upstream.update_issue(fixed, status="Done")
    jira.upstream.update_issue(dropped, status="Done", resolution="Won't Do")

    jira.sync("issues", "ALPHA")

    resolved = bug_of(jira.upstream, fixed)
    assert resolved.status == BugStatus.RESOLVED
    assert resolved.resolved_at is not None
    assert bug_of(jira.upstream, dropped).status == BugStatus.WONT_FIX


def test_a_story_is_no_bug(jira):
    key = jira.upstream.add_issue("ALPHA", "A feature", issue_type="Story")

    jira.sync("issues", "ALPHA")

    assert not Bug.objects.filter(external_id=str(jira.upstream.issue(key).id)).exists()


def test_a_bug_keeps_its_number_when_jira_changes_it(jira):
    key = jira.upstream.add_issue("ALPHA", "Typo", issue_type="Bug", priority="Low")
    jira.sync("issues", "ALPHA")
    number = bug_of(jira.upstream, key).number
    jira.upstream.update_issue(key, summary="Typo on the invoice", priority="High")

    jira.sync("issues", "ALPHA")

    bug = bug_of(jira.upstream, key)
    assert (bug.number, bug.title, bug.severity) == (number, "Typo on the invoice", Severity.HIGH)
