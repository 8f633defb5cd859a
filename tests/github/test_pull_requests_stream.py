"""github/pull_requests: newest change first, stopping at the checkpoint."""

from __future__ import annotations

import pytest

from tracking.choices import PullRequestState
from tracking.models import PullRequest

pytestmark = pytest.mark.django_db

REPO = "acme/repo-000"


def test_a_full_sync_stores_every_pull_request(github_with_repositories):
    github = github_with_repositories

    run = github.sync("pull_requests", REPO)

    assert run.created == 6
    assert PullRequest.objects.filter(repository__full_name=REPO).count() == 6


def test_a_merged_pull_request_keeps_its_branches_merge_and_reviewers(github_with_repositories):
    github = github_with_repositories
    number = github.upstream.add_pull(REPO, "Add caching")
    github.upstream.update_pull(REPO, number, requested_reviewers=["octocat"])
    github.upstream.update_pull(REPO, number, merged=True)

    github.sync("pull_requests", REPO)

    pull = PullRequest.objects.get(repository__full_name=REPO, number=number)
    upstream = github.upstream.update_pull(REPO, number)
    assert pull.state == PullRequestState.MERGED
    assert pull.merged_at is not None
    assert pull.head_ref == upstream["head"]["ref"]
    assert pull.base_ref == "main"
    assert pull.merge_commit_sha == (upstream["merge_commit_sha"] or "")
    assert pull.requested_reviewers == ["octocat"]
    assert pull.author.username == "octocat"


def test_an_incremental_sync_stops_at_the_first_pull_request_older_than_the_checkpoint(
    github_with_repositories,
):
    github = github_with_repositories
    github.sync("pull_requests", REPO)
    number = github.upstream.add_pull(REPO, "A new change")

    run = github.sync("pull_requests", REPO)

    assert run.created == 1
    # The new one, plus those inside the overlap window: never the whole list again.
    assert run.fetched < 6
    assert PullRequest.objects.filter(number=number, title="A new change").exists()


def test_an_unchanged_list_is_answered_304_at_no_cost(github_with_repositories):
    github = github_with_repositories
    github.sync("pull_requests", REPO)
    counted = github.counted()

    run = github.sync("pull_requests", REPO)

    assert run.requests == 1
    assert run.fetched == 0
    assert github.counted() == counted
