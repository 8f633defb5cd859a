"""push, issues and pull_request deliveries write the rows the GitHub streams write."""

from __future__ import annotations

import pytest

from ingestion.choices import DeliveryStatus
from ingestion.models import WebhookDelivery
from tests.webhooks.payloads import github_example
from tracking.choices import PullRequestState, WorkStatus
from tracking.models import Bug, Commit, Identity, Issue, PullRequest, Repository

pytestmark = pytest.mark.django_db


def test_a_push_writes_each_commit_with_its_branch(github_hook, process):
    payload = github_example("push")
    (commit,) = payload["commits"]

    github_hook.post("push", payload)
    process()

    row = Commit.objects.get()
    assert row.external_id == f"{payload['repository']['id']}:{commit['id']}"
    assert row.sha == commit["id"]
    assert row.branches == ["gh-pages"]
    assert row.message == commit["message"]
    assert (row.author_name, row.author_email) == ("Kyle Daigle", "kyle.daigle@github.com")
    assert row.committed_at.isoformat() == "2014-07-25T16:37:40+00:00"
    assert row.url == commit["url"]
    assert row.repository.full_name == "baxterthehacker/public-repo"


def test_push_repository_times_in_unix_seconds_are_read(github_hook, process):
    github_hook.post("push", github_example("push"))
    process()

    repository = Repository.objects.get()
    assert repository.created_at.isoformat() == "2014-05-20T22:39:43+00:00"


def test_a_commit_by_the_pusher_links_to_the_senders_account(github_hook, process):
    payload = github_example("push.new_branch")

    github_hook.post("push", payload)
    process()

    author = Commit.objects.get().author
    assert author.external_id == str(payload["sender"]["id"])
    assert author.username == "Codertocat"


def test_a_commit_by_someone_else_is_known_by_its_email(github_hook, process):
    github_hook.post("push", github_example("push"))
    process()

    assert Commit.objects.get().author.external_id == "email:kyle.daigle@github.com"


def test_the_same_commit_pushed_to_a_second_branch_keeps_both(github_hook, process):
    payload = github_example("push")
    github_hook.post("push", payload)
    payload["ref"] = "refs/heads/release"
    github_hook.post("push", payload)

    process()

    assert Commit.objects.get().branches == ["gh-pages", "release"]


def test_a_tag_push_is_ignored(github_hook, process):
    github_hook.post("push", github_example("push.tag"))
    process()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.IGNORED
    assert "not to a branch" in delivery.error
    assert not Commit.objects.exists()


def test_a_branch_deletion_is_ignored(github_hook, process):
    payload = github_example("push")
    payload.update(deleted=True, commits=[])

    github_hook.post("push", payload)
    process()

    assert WebhookDelivery.objects.get().status == DeliveryStatus.IGNORED


def test_a_push_with_a_malformed_commit_fails_and_keeps_the_others(github_hook, process):
    payload = github_example("push")
    good = payload["commits"][0]
    payload["commits"] = [good, {**good, "id": None}]

    github_hook.post("push", payload)
    process()

    assert Commit.objects.count() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "sha is missing" in delivery.error


def test_an_opened_issue_becomes_an_issue(github_hook, process):
    payload = github_example("issues.opened")
    issue = payload["issue"]

    github_hook.post("issues", payload)
    process()

    row = Issue.objects.get()
    assert row.external_id == issue["node_id"]
    assert row.key == f"{payload['repository']['full_name']}#{issue['number']}"
    assert row.title == issue["title"]
    assert row.status == WorkStatus.TODO


def test_an_issue_labelled_bug_is_also_a_bug(github_hook, process):
    payload = github_example("issues.opened")
    payload["issue"]["labels"] = [{"name": "bug"}, {"name": "severity: high"}]

    github_hook.post("issues", payload)
    process()

    bug = Bug.objects.get()
    assert bug.title == payload["issue"]["title"]
    assert bug.severity == "high"


def test_a_deleted_issue_is_marked_deleted_not_removed(github_hook, process):
    payload = github_example("issues.opened")
    github_hook.post("issues", payload)
    process()
    payload["action"] = "deleted"

    github_hook.post("issues", payload)
    process()

    assert Issue.objects.get().deleted_at is not None


def test_an_opened_pull_request_becomes_a_pull_request(github_hook, process):
    payload = github_example("pull_request.opened")
    pull = payload["pull_request"]

    github_hook.post("pull_request", payload)
    process()

    row = PullRequest.objects.get()
    assert row.external_id == pull["node_id"]
    assert (row.number, row.title) == (pull["number"], pull["title"])
    assert row.state == PullRequestState.OPEN
    assert row.author == Identity.objects.get(external_id=str(pull["user"]["id"]))


def test_an_older_pull_request_event_does_not_undo_a_newer_one(github_hook, process):
    opened = github_example("pull_request.opened")
    closed = github_example("pull_request.opened")
    closed["action"] = "closed"
    closed["pull_request"].update(
        state="closed", closed_at="2030-01-01T00:00:00Z", updated_at="2030-01-01T00:00:00Z"
    )

    github_hook.post("pull_request", closed)
    github_hook.post("pull_request", opened)
    process()

    assert PullRequest.objects.get().state == PullRequestState.CLOSED
