"""With the pace off (SLACK_REQUESTS_PER_MINUTE=0, a Marketplace app), the replies of the queued
threads are asked ahead, in the background; each thread is still read whole and once,
whatever fails."""

from __future__ import annotations

import pytest

from ingestion.errors import PermanentError
from tests.slack.conftest import FULL_COUNT, GENERAL, stored

pytestmark = pytest.mark.django_db

REPLIES = "conversations.replies"


@pytest.fixture
def unpaced(slack_channels, settings):
    settings.SLACK_REQUESTS_PER_MINUTE = 0
    settings.SLACK_HISTORY_LIMIT = 100  # one history page: all three threads queued at once
    return slack_channels


def test_every_thread_is_read_once(unpaced):
    slack = unpaced

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert stored() == FULL_COUNT
    asked = [call["ts"] for call in slack.upstream.calls_of(REPLIES)]
    assert sorted(asked) == sorted(slack.upstream.threads(GENERAL))
    assert run.requests == 1 + 3


def test_a_thread_longer_than_a_page_among_them_is_read_to_its_end(unpaced, settings):
    slack = unpaced
    settings.SLACK_HISTORY_LIMIT = 2  # every thread of 3 replies needs two pages
    slack.upstream.post(GENERAL, "one more")

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert stored() == FULL_COUNT + 1
    per_thread = {}
    for call in slack.upstream.calls_of(REPLIES):
        per_thread[call["ts"]] = per_thread.get(call["ts"], 0) + 1
    assert sorted(per_thread.values()) == [2, 2, 2]


def test_a_failed_one_is_asked_again_alone(unpaced):
    slack = unpaced
    slack.upstream.fail_next(REPLIES, "internal_error", after=1)

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert run.retries == 1
    assert stored() == FULL_COUNT
    assert len(slack.upstream.calls_of(REPLIES)) == 4


def test_a_thread_deleted_meanwhile_is_skipped_and_the_others_read(unpaced):
    slack = unpaced
    slack.upstream.fail_next(REPLIES, "thread_not_found", after=1)

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert stored() == FULL_COUNT - 3


def test_a_429_among_them_is_waited_out(unpaced):
    slack = unpaced
    slack.upstream.rate_limit_next(REPLIES, retry_after=1)

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert run.retries == 1
    assert stored() == FULL_COUNT


def test_a_refusal_among_them_fails_the_run_keeping_the_history_read(unpaced):
    slack = unpaced
    slack.upstream.fail_next(REPLIES, "not_in_channel", after=2)

    with pytest.raises(PermanentError, match="not a member"):
        slack.sync("messages", GENERAL)

    assert stored() >= 29  # the history page was committed before the run failed
