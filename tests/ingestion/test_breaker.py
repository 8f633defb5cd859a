"""The circuit breaker: opens after N consecutive failures, cools down, lets one trial through."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from ingestion.breaker import (
    breaker_allows,
    breaker_states,
    record_failure,
    record_success,
)
from ingestion.choices import JobStatus
from ingestion.jobs import enqueue_sync, run_job
from ingestion.models import BreakerState, CircuitBreaker, IngestionJob
from tests.ingestion.memory_streams import (
    SOURCE,
    repository_record,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def breaker_settings(settings):
    settings.INGEST_BREAKER_FAILURES = 5
    settings.INGEST_BREAKER_COOLDOWN = 60


def fail(key: str, times: int) -> None:
    for _ in range(times):
        record_failure(key)


def end_cooldown(key: str) -> None:
    """Move the opening time back past the cooldown, as if 61 s had passed."""
    CircuitBreaker.objects.filter(key=key).update(
        opened_at=timezone.now() - dt.timedelta(seconds=61)
    )


def test_unknown_key_is_allowed():
    assert breaker_allows("github") == (True, None)


def test_four_failures_keep_the_breaker_closed():
    fail("github", 4)

    assert breaker_allows("github") == (True, None)


def test_fifth_consecutive_failure_opens_the_breaker_for_the_cooldown():
    fail("github", 5)

    allowed, wait = breaker_allows("github")

    assert allowed is False
    assert 59 < wait <= 60


def test_a_success_resets_the_consecutive_count():
    fail("github", 4)
    record_success("github")
    fail("github", 4)

    assert breaker_allows("github") == (True, None)


def test_threshold_comes_from_settings(settings):
    settings.INGEST_BREAKER_FAILURES = 2
    fail("jira", 2)

    assert breaker_allows("jira")[0] is False


def test_breakers_are_independent_per_key():
    fail("host:api.github.com", 5)

    assert breaker_allows("host:api.github.com")[0] is False
    assert breaker_allows("github") == (True, None)


def test_after_the_cooldown_exactly_one_caller_gets_the_trial():
    fail("github", 5)
    end_cooldown("github")

    first = breaker_allows("github")
    second = breaker_allows("github")

    assert first == (True, None)
    assert second[0] is False
    assert second[1] > 0


def test_a_successful_trial_closes_the_breaker():
    fail("github", 5)
    end_cooldown("github")
    breaker_allows("github")

    record_success("github")

    assert breaker_allows("github") == (True, None)
    assert CircuitBreaker.objects.get(key="github").state == BreakerState.CLOSED


def test_a_failed_trial_reopens_the_breaker_for_another_cooldown():
    fail("github", 5)
    end_cooldown("github")
    breaker_allows("github")

    record_failure("github")

    allowed, wait = breaker_allows("github")
    assert allowed is False
    assert 59 < wait <= 60


def test_an_abandoned_trial_can_be_claimed_again_after_a_cooldown():
    fail("github", 5)
    end_cooldown("github")
    breaker_allows("github")  # the trial's worker dies without reporting
    CircuitBreaker.objects.filter(key="github").update(
        trial_claimed_at=timezone.now() - dt.timedelta(seconds=61)
    )

    assert breaker_allows("github") == (True, None)
    assert breaker_allows("github")[0] is False


def test_states_show_an_open_breaker_and_its_remaining_cooldown():
    fail("github", 5)

    [github] = breaker_states()

    assert github.key == "github"
    assert github.state == "open"
    assert github.consecutive_failures == 5
    assert 59 < github.seconds_until_half_open <= 60


def test_states_show_an_open_breaker_past_its_cooldown_as_half_open():
    fail("github", 5)
    end_cooldown("github")

    [github] = breaker_states()

    assert github.state == "half_open"


def test_states_list_requested_keys_never_used_as_closed():
    states = breaker_states(["slack"])

    assert [(state.key, state.state) for state in states] == [("slack", "closed")]


@pytest.mark.usefixtures("database_shared_by_threads")
def test_concurrent_workers_claim_the_trial_once():
    fail("github", 5)
    end_cooldown("github")
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(breaker_allows("github")[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 7 + [True]


@pytest.mark.usefixtures("database_shared_by_threads")
def test_concurrent_failures_are_all_counted():
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            fail("github", 3)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    breaker = CircuitBreaker.objects.get(key="github")
    assert breaker.consecutive_failures == 12
    assert breaker.state == BreakerState.OPEN


# --- Through the job runner: the reliability scenario of the issue -------------------------


def run_sync_job_now(entity: str = "repositories") -> IngestionJob:
    job = enqueue_sync(SOURCE, entity)
    return run_job(job.pk)


def test_five_failed_syncs_open_the_breaker_the_next_job_waits_and_a_success_closes_it(
    repositories, client, settings
):
    settings.INGEST_MAX_ATTEMPTS = 1
    repositories.fail_after_pages = 0  # every fetch fails with a TransientError (503)
    for _ in range(5):
        assert run_sync_job_now().status == JobStatus.DEAD

    # Health and metrics show it open.
    health = client.get("/api/health").json()
    breakers = {b["key"]: b["state"] for b in health["checks"]["breakers"]["breakers"]}
    assert breakers[SOURCE] == "open"
    assert f'hub_ingestion_breaker_state{{key="{SOURCE}",state="open"}} 1.0' in (
        client.get("/metrics").content.decode()
    )

    # The next job waits for the breaker instead of calling the upstream or failing.
    calls_before = repositories.fetch_calls
    waiting = run_sync_job_now()
    assert (waiting.status, waiting.waiting_for) == (JobStatus.RETRYING, "breaker")
    assert waiting.attempts == 0
    assert repositories.fetch_calls == calls_before

    # After the cooldown the waiting job is the trial; it succeeds and closes the breaker.
    end_cooldown(SOURCE)
    repositories.fail_after_pages = None
    repositories.records = [repository_record(1)]
    IngestionJob.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    assert run_job(waiting.pk).status == JobStatus.SUCCEEDED
    assert CircuitBreaker.objects.get(key=SOURCE).state == BreakerState.CLOSED
    assert breaker_allows(SOURCE) == (True, None)
