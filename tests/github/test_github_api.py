"""/api/github/…: sync now, sync one repository, and the budget per credential."""

from __future__ import annotations

import pytest

from ingestion.choices import JobKind, JobPriority
from ingestion.models import IngestionJob

pytestmark = pytest.mark.django_db

TOKEN = "ghp_test"


def test_sync_queues_one_high_priority_source_sync(staff_client, github, empty_broker):
    response = staff_client.post("/api/github/sync", {"incremental": True}, "application/json")

    assert response.status_code == 202
    job = IngestionJob.objects.get(pk=response.json()["job_id"])
    assert job.kind == JobKind.SOURCE_SYNC
    assert job.source == "github"
    assert job.priority == JobPriority.HIGH
    assert job.params["full"] is False


def test_a_full_sync_is_asked_for_with_incremental_false(staff_client, github, empty_broker):
    response = staff_client.post("/api/github/sync", {"incremental": False}, "application/json")

    assert IngestionJob.objects.get(pk=response.json()["job_id"]).params["full"] is True


def test_sync_repo_queues_that_repository_only(staff_client, github, empty_broker):
    response = staff_client.post(
        "/api/github/sync-repo", {"repo": "acme/repo-001"}, "application/json"
    )

    assert response.status_code == 202
    job = IngestionJob.objects.get(pk=response.json()["job_id"])
    assert job.scope == "acme/repo-001"


@pytest.mark.parametrize("repo", ["", "acme", "acme/", "/repo", "acme/repo/extra", "ac me/x"])
def test_sync_repo_refuses_a_name_that_is_not_owner_slash_name(staff_client, github, repo):
    response = staff_client.post("/api/github/sync-repo", {"repo": repo}, "application/json")

    assert response.status_code == 400
    assert "repo" in response.json()
    assert not IngestionJob.objects.exists()


def test_a_signed_in_user_who_is_not_staff_cannot_start_a_sync(plain_client, github):
    response = plain_client.post("/api/github/sync", {}, "application/json")

    assert response.status_code == 403


def test_anonymous_callers_are_refused(client, github):
    assert client.get("/api/github/rate-limit").status_code == 403


def test_rate_limit_shows_each_credentials_budget_and_never_the_token(staff_client, github):
    github.sync("repositories")

    response = staff_client.get("/api/github/rate-limit")

    assert response.status_code == 200
    (credential,) = response.json()["credentials"]
    assert credential["label"] == "GITHUB_TOKEN"
    assert credential["limit"] == 5000
    assert credential["remaining"] == github.upstream.limits.snapshot(TOKEN).remaining
    assert credential["status"] == "ok"
    assert TOKEN not in response.content.decode()


def test_rate_limit_refresh_asks_github_without_spending_budget(staff_client, github):
    github.sync("repositories")
    counted = github.counted()

    response = staff_client.get("/api/github/rate-limit?refresh=true")

    assert response.status_code == 200
    assert "refresh_error" not in response.json()
    assert github.counted() == counted
