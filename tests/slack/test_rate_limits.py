"""Slack's limits: the per-method pace (SLACK_REQUESTS_PER_MINUTE) shared by every worker,
429s waited out through the shared pace, long waits left to the job layer; a sync that
takes hours stops and resumes at its checkpoint without asking anything twice."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from ingestion import jobs
from ingestion.choices import JobStatus, RunStatus
from ingestion.encryption import token_fingerprint
from ingestion.errors import Deferred, PermanentError
from ingestion.models import SyncRun, SyncState
from sources.slack import pace
from sources.slack.models import MethodPace
from tests.slack.conftest import FULL_COUNT, GENERAL, RANDOM, TOKEN, a_minute_passes, stored

pytestmark = pytest.mark.django_db

HISTORY = "conversations.history"
REPLIES = "conversations.replies"


def paced_requests(slack) -> list:
    return [
        request
        for request in slack.server.requests
        if request.path in (f"/api/{HISTORY}", f"/api/{REPLIES}")
    ]


# --- the pace ------------------------------------------------------------------------------


def test_at_one_request_a_minute_a_sync_stops_with_what_it_read(slack_channels, settings):
    slack = slack_channels
    settings.SLACK_REQUESTS_PER_MINUTE = 1

    with pytest.raises(Deferred) as deferred:
        slack.sync("messages", GENERAL)

    assert deferred.value.reason == "rate_limit"
    assert 58 < deferred.value.seconds <= 60
    # Slack limits each method apart: one history page and one thread this minute.
    assert [request.path for request in paced_requests(slack)] == [
        f"/api/{HISTORY}",
        f"/api/{REPLIES}",
    ]
    assert stored() == 15 + 3  # committed
    assert SyncRun.objects.latest("pk").status == RunStatus.STOPPED
    assert SyncState.objects.get(scope=GENERAL).cursor["history"]


def test_a_paced_sync_resumes_from_its_checkpoint_until_done_never_asking_twice(
    slack_channels, settings
):
    slack = slack_channels
    settings.SLACK_REQUESTS_PER_MINUTE = 1
    runs = 0
    while True:
        runs += 1
        try:
            slack.sync("messages", GENERAL)
            break
        except Deferred:
            a_minute_passes()
        assert runs < 20

    asked = [(request.path, request.body) for request in paced_requests(slack)]
    assert len(asked) == 5  # 2 history pages, 3 threads
    assert len(set(asked)) == len(asked)
    assert runs == 3  # at most one request of each method a minute
    assert stored() == FULL_COUNT
    assert SyncState.objects.get(scope=GENERAL).cursor is None


def test_requests_of_a_paced_method_are_spaced_by_the_pace(slack_channels, settings):
    slack = slack_channels
    settings.SLACK_REQUESTS_PER_MINUTE = 240  # a quarter of a second: waited inline

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    for method, count in ((HISTORY, 2), (REPLIES, 3)):
        times = [r.received_at for r in paced_requests(slack) if r.path == f"/api/{method}"]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert len(times) == count
        assert min(gaps) >= 0.24


def test_the_pace_is_shared_by_every_channel(slack_channels, settings):
    slack = slack_channels
    settings.SLACK_REQUESTS_PER_MINUTE = 1
    with pytest.raises(Deferred):
        slack.sync("messages", GENERAL)

    with pytest.raises(Deferred) as deferred:
        slack.sync("messages", RANDOM)

    assert not [r for r in paced_requests(slack) if f"channel={RANDOM}".encode() in r.body]
    assert deferred.value.seconds > 55


def test_a_raised_pace_applies_at_once(slack_channels, settings):
    slack = slack_channels
    settings.SLACK_REQUESTS_PER_MINUTE = 1
    with pytest.raises(Deferred):
        slack.sync("messages", GENERAL)
    settings.SLACK_REQUESTS_PER_MINUTE = 0  # a Marketplace app: no pace of our own

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert stored() == FULL_COUNT


def test_users_and_channels_are_not_paced(slack, settings):
    settings.SLACK_REQUESTS_PER_MINUTE = 1
    for number in range(200):  # two pages of each list: a paced method would stop at the second
        slack.upstream.add_user(f"user.{number}")
        slack.upstream.add_channel(f"channel-{number}")

    channels = slack.sync("channels")
    users = slack.sync("users")

    assert channels.status == users.status == "succeeded"
    assert slack.requests_to("conversations.list") == slack.requests_to("users.list") == 2


def test_a_negative_pace_is_refused_naming_the_setting(slack_channels, settings):
    settings.SLACK_REQUESTS_PER_MINUTE = -1

    with pytest.raises(PermanentError, match="SLACK_REQUESTS_PER_MINUTE"):
        slack_channels.sync("messages", GENERAL)


def test_a_history_limit_out_of_range_is_refused_naming_the_setting(slack_channels, settings):
    settings.SLACK_HISTORY_LIMIT = 5000

    with pytest.raises(PermanentError, match="SLACK_HISTORY_LIMIT"):
        slack_channels.sync("messages", GENERAL)

    assert len(paced_requests(slack_channels)) == 0


def test_a_paced_job_waits_for_its_slot_without_spending_an_attempt(
    slack_channels, settings, empty_broker
):
    settings.SLACK_REQUESTS_PER_MINUTE = 1
    job = jobs.enqueue_sync("slack", "messages", scope=GENERAL)

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.RETRYING
    assert job.waiting_for == "rate_limit"
    assert job.attempts == 0
    seconds = (job.next_attempt_at - timezone.now()).total_seconds()
    assert 50 < seconds <= 61
    assert stored() == 15 + 3


# --- 429 ------------------------------------------------------------------------------------


def test_a_429_is_waited_out_for_its_retry_after_and_counted_as_a_retry(slack_channels):
    slack = slack_channels
    slack.upstream.rate_limit_next(HISTORY, retry_after=1)
    started = time.monotonic()

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert run.retries == 1
    assert stored() == FULL_COUNT
    assert time.monotonic() - started >= 1.0
    limited = MethodPace.objects.get(method=HISTORY)
    assert (limited.rate_limited, limited.last_retry_after) == (1, 1)


def test_a_429_from_a_proxy_without_slacks_body_is_waited_out_too(slack_channels):
    slack = slack_channels
    slack.server.faults.set(retry_after=1)
    slack.server.faults.next("http_429", path=r"conversations\.replies")

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert run.retries == 1
    assert stored() == FULL_COUNT


def test_a_429_blocks_only_its_own_method(slack_channels):
    slack = slack_channels
    slack.upstream.rate_limit_next(HISTORY, retry_after=120)
    with pytest.raises(Deferred):
        slack.sync("messages", GENERAL)

    run = slack.sync("users")

    assert run.status == "succeeded"


def test_a_long_429_stops_the_sync_at_its_checkpoint_and_blocks_every_worker(slack_channels):
    slack = slack_channels
    slack.upstream.rate_limit_next(HISTORY, retry_after=120, times=1)

    with pytest.raises(Deferred) as deferred:
        slack.sync("messages", GENERAL)
    with pytest.raises(Deferred):
        slack.sync("messages", RANDOM)

    assert deferred.value.reason == "rate_limit"
    assert 115 < deferred.value.seconds <= 120
    assert slack.upstream.counts[HISTORY] == 1  # RANDOM kept off it
    blocked_until = MethodPace.objects.get(method=HISTORY).blocked_until
    assert (blocked_until - timezone.now()).total_seconds() > 115


def test_a_long_429_reschedules_the_job_for_its_retry_after(slack_channels, empty_broker):
    slack = slack_channels
    slack.upstream.rate_limit_next(HISTORY, retry_after=120)
    job = jobs.enqueue_sync("slack", "messages", scope=GENERAL)

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.RETRYING
    assert job.waiting_for == "rate_limit"
    assert job.attempts == 0
    assert (job.next_attempt_at - timezone.now()).total_seconds() >= 115


def test_slacks_own_per_minute_window_is_honoured(slack_channels, settings):
    slack = slack_channels
    settings.SLACK_REQUESTS_PER_MINUTE = 0  # our pace off: Slack's 429s alone hold us back
    slack.upstream.per_minute = {REPLIES: 2}

    with pytest.raises(Deferred) as deferred:
        slack.sync("messages", GENERAL)

    assert slack.upstream.counts[REPLIES] == 3  # two answered, the third 429
    assert 50 < deferred.value.seconds <= 60
    assert stored() == 30 - 1 + 6  # both history pages, two of three threads


# --- several workers at once ----------------------------------------------------------------


@pytest.mark.usefixtures("database_shared_by_threads")
def test_of_workers_claiming_at_once_only_one_may_send(settings):
    settings.SLACK_REQUESTS_PER_MINUTE = 1
    fingerprint = token_fingerprint(TOKEN)
    barrier = threading.Barrier(6)
    waits: list[float] = []

    def worker() -> None:
        try:
            barrier.wait()
            waits.append(pace.claim(fingerprint, HISTORY))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(waits)[0] == 0.0
    assert all(wait > 55 for wait in sorted(waits)[1:])
