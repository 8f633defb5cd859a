"""github/issues: issues (never pull requests), incremental by `since`, bug labels → Bugs."""

from __future__ import annotations

import pytest

from tracking.choices import BugStatus, IssueType, Severity, WorkStatus
from tracking.models import Bug, Issue

pytestmark = pytest.mark.django_db

REPO = "acme/repo-000"


def upstream_items(github, *, pulls: bool) -> list[dict]:
    tracker = github.upstream.tracker(github.upstream.repositories[REPO])
    return [t.issue for t in tracker.threads if t.is_pull == pulls]


def test_a_full_sync_stores_the_issues_and_skips_the_pull_requests_github_lists_with_them(
    github_with_repositories,
):
    github = github_with_repositories

    run = github.sync("issues", REPO)

    issues = upstream_items(github, pulls=False)
    assert run.created == len(issues) == 12
    assert set(Issue.objects.values_list("number", flat=True)) == {i["number"] for i in issues}


def test_an_issue_keeps_its_key_status_labels_and_people(github_with_repositories):
    github = github_with_repositories
    number = github.upstream.add_issue(REPO, "Login page is slow", labels=["performance"])
    github.upstream.update_issue(REPO, number, assignee="octocat")

    github.sync("issues", REPO)

    issue = Issue.objects.get(key=f"{REPO}#{number}")
    assert issue.title == "Login page is slow"
    assert issue.status == WorkStatus.TODO
    assert issue.labels == ["performance"]
    assert issue.assignee.username == "octocat"
    assert issue.reporter.username == "octocat"
    assert issue.repository.full_name == REPO
    assert issue.issue_type == IssueType.TASK


def test_an_issue_labelled_bug_is_also_a_bug_with_severity_from_its_labels(
    github_with_repositories,
):
    github = github_with_repositories
    number = github.upstream.add_issue(REPO, "Crash on save", labels=["bug", "severity: critical"])

    github.sync("issues", REPO)

    issue = Issue.objects.get(key=f"{REPO}#{number}")
    bug = Bug.objects.get(source="github", external_id=issue.external_id)
    assert issue.issue_type == IssueType.BUG
    assert bug.title == "Crash on save"
    assert bug.severity == Severity.CRITICAL
    assert bug.status == BugStatus.OPEN
    assert bug.number.startswith("BUG-")


def test_the_bug_labels_are_configurable(github_with_repositories, settings):
    github = github_with_repositories
    settings.GITHUB_BUG_LABELS = ["defect"]
    github.upstream.add_issue(REPO, "Wrong total", labels=["Defect"])
    github.upstream.add_issue(REPO, "Typo", labels=["bug"])

    github.sync("issues", REPO, full=True)

    assert list(Bug.objects.values_list("title", flat=True)) == ["Wrong total"]


def test_a_changed_issue_is_updated_and_the_unchanged_ones_are_untouched(
    github_with_repositories,
):
    github = github_with_repositories
    github.sync("issues", REPO)
    before = dict(Issue.objects.values_list("number", "last_seen_at"))
    changed = upstream_items(github, pulls=False)[0]["number"]
    github.upstream.update_issue(REPO, changed, title="Renamed upstream")

    run = github.sync("issues", REPO)

    assert run.updated == 1
    assert run.created == 0
    assert Issue.objects.get(number=changed).title == "Renamed upstream"
    for number, last_seen_at in before.items():
        if number != changed:
            assert Issue.objects.get(number=number).last_seen_at == last_seen_at


def test_a_bug_closed_as_not_planned_is_wont_fix(github_with_repositories):
    github = github_with_repositories
    number = github.upstream.add_issue(REPO, "Cosmetic glitch", labels=["bug"])
    github.sync("issues", REPO)
    github.upstream.update_issue(REPO, number, state="closed", state_reason="not_planned")

    github.sync("issues", REPO)

    issue = Issue.objects.get(number=number)
    bug = Bug.objects.get(external_id=issue.external_id)
    assert issue.status == WorkStatus.DONE
    assert bug.status == BugStatus.WONT_FIX
    assert bug.resolved_at is not None


def test_an_unchanged_repository_costs_one_conditional_request_and_no_budget(
    github_with_repositories,
):
    github = github_with_repositories
    github.sync("issues", REPO)
    github.sync("issues", REPO)  # the first incremental asks with `since`: a new ETag
    counted = github.counted()

    run = github.sync("issues", REPO)

    assert run.requests == 1
    assert run.fetched == 0
    assert github.counted() == counted
