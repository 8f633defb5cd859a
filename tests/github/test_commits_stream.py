"""github/commits: the default branch (or all), incremental with `since`, one row per SHA."""

from __future__ import annotations

import pytest

from ingestion.errors import PermanentError
from tracking.models import Commit, Identity

pytestmark = pytest.mark.django_db

REPO = "acme/repo-000"


def test_a_full_sync_stores_every_commit_of_the_default_branch(github_with_repositories):
    github = github_with_repositories

    run = github.sync("commits", REPO)

    assert run.status == "succeeded"
    assert run.created == 30
    assert run.requests == 1  # 30 commits fit on one page of 100
    commit = Commit.objects.filter(repository__full_name=REPO).first()
    assert commit.branches == ["main"]
    assert len(commit.sha) == 40
    assert commit.committed_at is not None


def test_a_sync_before_the_repository_is_known_names_what_to_sync_first(github):
    with pytest.raises(PermanentError, match="sync github/repositories first"):
        github.sync("commits", REPO)


def test_an_incremental_sync_adds_a_new_commit_and_leaves_the_others_untouched(
    github_with_repositories,
):
    github = github_with_repositories
    github.sync("commits", REPO)
    seen = dict(Commit.objects.values_list("sha", "last_seen_at"))
    sha = github.upstream.add_commit(REPO, message="Fix the flaky test")

    run = github.sync("commits", REPO)

    assert run.created == 1
    assert run.updated == 0
    assert Commit.objects.get(sha=sha).message == "Fix the flaky test"
    for stored_sha, last_seen_at in seen.items():
        assert Commit.objects.get(sha=stored_sha).last_seen_at == last_seen_at


def test_an_incremental_sync_asks_github_only_for_commits_since_the_checkpoint(
    github_with_repositories,
):
    github = github_with_repositories
    github.sync("commits", REPO)
    github.server.clear_requests()

    github.sync("commits", REPO)

    (request,) = [r for r in github.server.requests if r.path.endswith("/commits")]
    assert "since" in request.query


def test_the_same_commit_on_two_branches_is_one_row_knowing_both(
    github_with_repositories, settings
):
    github = github_with_repositories
    settings.GITHUB_ALL_BRANCHES = True
    github.upstream.add_branch(REPO, "release")

    github.sync("commits", REPO, full=True)

    assert Commit.objects.filter(repository__full_name=REPO).count() == 30
    assert all(
        sorted(branches) == ["main", "release"]
        for branches in Commit.objects.values_list("branches", flat=True)
    )


def test_a_commit_by_a_github_user_is_linked_to_their_account(github_with_repositories):
    github = github_with_repositories
    sha = github.upstream.add_commit(REPO, author_login="octocat")

    github.sync("commits", REPO)

    author = Commit.objects.get(sha=sha).author
    assert author.username == "octocat"
    assert author.external_id == str(github.upstream.users["octocat"].id)


def test_a_commit_github_cannot_attribute_is_linked_by_its_email(github_with_repositories):
    github = github_with_repositories
    sha = github.upstream.add_commit(REPO, author_login=None, author_email="ghost@example.com")

    github.sync("commits", REPO)

    author = Commit.objects.get(sha=sha).author
    assert author.external_id == "email:ghost@example.com"
    assert author.email == "ghost@example.com"
    assert author.person.email == "ghost@example.com"
    assert Identity.objects.filter(external_id="email:ghost@example.com").count() == 1
