"""The request budget: shared per credential, reserved, rescheduled, never slept through."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections
from django.utils import timezone

from ingestion import jobs
from ingestion.breaker import host_key, record_failure
from ingestion.choices import JobStatus, RunStatus
from ingestion.errors import Deferred, PermanentError
from ingestion.health import run_checks
from ingestion.models import CircuitBreaker, IngestionJob, SyncRun
from sources.github.models import GitHubCredential
from tracking.models import Commit

pytestmark = pytest.mark.django_db

REPO = "acme/repo-000"
TOKEN = "ghp_test"


def test_every_answer_records_the_credentials_budget(github):
    github.sync("repositories")

    credential = GitHubCredential.objects.get(label="GITHUB_TOKEN")
    budget = github.upstream.limits.snapshot(TOKEN)
    assert credential.rate_limit == 5000
    assert credential.rate_remaining == budget.remaining
    assert credential.rate_reset_at is not None
    assert credential.requests_made == 2


def test_a_budget_down_to_the_reserve_stops_the_sync_until_the_reset(github_with_repositories):
    github = github_with_repositories
    reset_at = time.time() + 1800
    github.upstream.set_rate_limit(TOKEN, limit=5000, remaining=400, reset_at=reset_at)
    github.sync("commits", "acme/repo-001")  # learns the budget: 399 left, reserve is 500
    counted = github.counted()

    with pytest.raises(Deferred) as deferred:
        github.sync("commits", REPO)

    assert deferred.value.reason == "rate_limit"
    assert 1790 < deferred.value.seconds < 1810
    assert github.counted() == counted  # nothing was sent below the reserve
    assert SyncRun.objects.latest("pk").status == RunStatus.STOPPED


def test_a_job_stopped_by_the_budget_waits_for_the_reset_without_spending_an_attempt(
    github_with_repositories, empty_broker
):
    github = github_with_repositories
    github.upstream.set_rate_limit(TOKEN, limit=5000, remaining=300, reset_at=time.time() + 600)
    github.sync("commits", "acme/repo-001")
    job = jobs.enqueue_sync("github", "commits", scope=REPO)

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.RETRYING
    assert job.waiting_for == "rate_limit"
    assert job.attempts == 0
    seconds = (job.next_attempt_at - timezone.now()).total_seconds()
    assert 580 < seconds < 620


def test_a_reset_time_in_the_past_never_makes_a_wait(github_with_repositories):
    github = github_with_repositories
    github.upstream.rate_headers_override = {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": str(int(time.time()) - 60),
    }

    run = github.sync("commits", REPO)
    run_again = github.sync("commits", REPO, full=True)

    assert run.status == run_again.status == "succeeded"


def test_a_limit_of_zero_means_no_limit(github_with_repositories):
    github = github_with_repositories
    github.upstream.rate_headers_override = {
        "X-RateLimit-Limit": "0",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(time.time()) + 3600),
    }

    github.sync("commits", REPO)
    run = github.sync("commits", REPO, full=True)

    assert run.status == "succeeded"


def test_a_secondary_limit_is_waited_out_for_its_retry_after_and_counted_as_a_retry(
    github_with_repositories,
):
    github = github_with_repositories
    github.upstream.secondary_limit(count=1, retry_after=1, status=403)
    started = time.monotonic()

    run = github.sync("commits", REPO)

    assert run.status == "succeeded"
    assert run.created == 30
    assert run.retries == 1
    assert time.monotonic() - started >= 1.0


def test_a_long_secondary_limit_is_left_to_the_job_layer_with_its_retry_after(
    github_with_repositories, empty_broker
):
    github = github_with_repositories
    github.upstream.secondary_limit(count=1, retry_after=120, status=429)
    job = jobs.enqueue_sync("github", "commits", scope=REPO)

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.RETRYING
    assert (job.next_attempt_at - timezone.now()).total_seconds() >= 115
    credential = GitHubCredential.objects.get(label="GITHUB_TOKEN")
    assert credential.blocked_until > timezone.now()


def test_a_revoked_token_fails_at_once_naming_the_credential_and_is_marked_broken(
    github_with_repositories, empty_broker
):
    github = github_with_repositories
    github.upstream.revoke_token(TOKEN)
    job = jobs.enqueue_sync("github", "commits", scope=REPO)

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert "GITHUB_TOKEN" in job.last_error
    assert "401" in job.last_error
    assert TOKEN not in job.last_error
    credential = GitHubCredential.objects.get(label="GITHUB_TOKEN")
    assert credential.is_broken
    _, report = run_checks()
    assert report["checks"]["github_credentials"]["status"] == "degraded"


def test_a_token_accepted_again_is_no_longer_broken(github_with_repositories):
    github = github_with_repositories
    github.upstream.revoke_token(TOKEN)
    with pytest.raises(PermanentError):
        github.sync("commits", REPO)
    github.upstream.issue_token(TOKEN)

    github.sync("commits", REPO)

    assert not GitHubCredential.objects.get(label="GITHUB_TOKEN").is_broken


def test_no_credential_at_all_fails_with_what_to_configure(github, settings):
    settings.GITHUB_TOKEN = ""

    with pytest.raises(PermanentError, match="GITHUB_TOKEN"):
        github.sync("repositories")


def test_server_errors_are_retried_inside_the_sync_and_counted(github_with_repositories):
    github = github_with_repositories
    github.server.faults.set(rate=1.0, kinds=["http_500"], limit=2)

    run = github.sync("commits", REPO)

    assert run.status == "succeeded"
    assert run.retries == 2
    assert Commit.objects.count() == 30


# Threads need a database that takes concurrent connections: SQLite's in-memory test
# database locks whole tables between them. The lease is one conditional UPDATE, the
# same statement on both.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_syncs_with_one_credential_never_send_requests_at_the_same_time(github, settings):
    github.upstream.latency = 0.02
    github.sync("repositories")
    errors: list[BaseException] = []

    def sync(scope: str) -> None:
        try:
            github.sync("commits", scope, full=True)
            github.sync("issues", scope, full=True)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=sync, args=(name,)) for name in ("acme/repo-000", "acme/repo-001")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert github.upstream.max_in_flight[TOKEN] == 1
    assert IngestionJob.objects.count() == 0


def test_a_successful_sync_ends_the_api_hosts_run_of_failures(github_with_repositories, settings):
    github = github_with_repositories
    host = host_key("127.0.0.1")
    for _ in range(3):
        record_failure(host)

    github.sync("commits", REPO)

    assert CircuitBreaker.objects.get(key=host).consecutive_failures == 0


def test_an_open_breaker_for_the_api_host_defers_the_sync_without_a_request(
    github_with_repositories, settings
):
    github = github_with_repositories
    settings.INGEST_BREAKER_FAILURES = 2
    for _ in range(2):
        record_failure(host_key("127.0.0.1"))
    counted = github.counted()

    with pytest.raises(Deferred) as deferred:
        github.sync("commits", REPO)

    assert deferred.value.reason == "breaker"
    assert github.counted() == counted
