"""Failures: `ok: false` is an error, never an empty page; Slack's own trouble is retried;
what retrying cannot fix fails at once, saying what to fix; nothing read is lost."""

from __future__ import annotations

import pytest

from ingestion import jobs
from ingestion.choices import JobStatus, RunStatus
from ingestion.errors import Deferred, PermanentError, TransientError
from ingestion.models import SyncRun, SyncState
from tests.slack.conftest import FULL_COUNT, GENERAL, stored

pytestmark = pytest.mark.django_db

HISTORY = "conversations.history"


def test_an_ok_false_answer_fails_the_run_instead_of_ending_it_early(slack_channels):
    slack = slack_channels
    slack.upstream.fail_next(HISTORY, "internal_error", times=10)

    with pytest.raises(TransientError, match="internal_error"):
        slack.sync("messages", GENERAL)

    run = SyncRun.objects.filter(entity="messages").latest("pk")
    assert run.status == RunStatus.FAILED
    state = SyncState.objects.get(source="slack", entity="messages", scope=GENERAL)
    assert state.last_success_at is None
    assert state.high_water_mark is None


def test_a_page_that_fails_midway_keeps_what_was_read_and_the_next_run_resumes(slack_channels):
    slack = slack_channels
    channel = slack.upstream.channel(GENERAL)
    first_page = channel.messages[-15:]
    replies_on_first_page = sum(len(channel.replies.get(m["ts"], [])) for m in first_page)
    slack.upstream.fail_next(HISTORY, "service_unavailable", times=4, after=1)

    with pytest.raises(TransientError, match="service_unavailable"):
        slack.sync("messages", GENERAL)
    kept = stored()
    run = slack.sync("messages", GENERAL)

    assert kept == 15 + replies_on_first_page
    assert run.status == "succeeded"
    assert stored() == FULL_COUNT
    resumed = slack.upstream.calls_of(HISTORY)[-1]
    assert resumed["cursor"]  # the second page, not the first again


def test_a_transient_ok_false_answer_is_retried(slack_channels):
    slack = slack_channels
    slack.upstream.fail_next(HISTORY, "internal_error")

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert run.retries == 1
    assert stored() == FULL_COUNT


@pytest.mark.parametrize("kind", ["http_503", "http_500", "reset", "truncate"])
def test_server_errors_and_broken_connections_are_retried(slack_channels, kind):
    slack = slack_channels
    slack.server.faults.next(kind, path=r"conversations\.history")

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert run.retries == 1
    assert stored() == FULL_COUNT


def test_an_unknown_error_code_fails_at_once_naming_it(slack_channels):
    slack = slack_channels
    slack.upstream.fail_next(HISTORY, "team_added_to_org")

    with pytest.raises(PermanentError, match="team_added_to_org"):
        slack.sync("messages", GENERAL)

    assert len(slack.upstream.calls_of(HISTORY)) == 1


def test_a_revoked_token_fails_the_job_at_once_naming_slack_bot_token(slack, empty_broker):
    slack.upstream.revoke_token()
    job = jobs.enqueue_sync("slack", "channels")

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert "SLACK_BOT_TOKEN" in job.last_error
    assert "invalid_auth" in job.last_error
    assert slack.upstream.accepts("xoxb-test-token") is False


def test_no_token_at_all_says_how_to_get_one(slack, settings):
    settings.SLACK_BOT_TOKEN = ""

    with pytest.raises(PermanentError, match="SLACK_BOT_TOKEN is not set"):
        slack.sync("users")

    assert slack.server.request_count() == 0


def test_a_missing_scope_is_named(slack_channels):
    slack = slack_channels
    slack.upstream.missing_scopes.add("channels:history")

    with pytest.raises(PermanentError, match="lacks the scope channels:history"):
        slack.sync("messages", GENERAL)


def test_a_wrong_api_url_is_named(slack, settings):
    settings.SLACK_API_URL = f"{slack.server.url}/not-the-api/"

    with pytest.raises(PermanentError, match="SLACK_API_URL"):
        slack.sync("channels")


def test_errors_never_show_the_token(slack):
    slack.upstream.revoke_token()

    with pytest.raises(PermanentError) as failure:
        slack.sync("users")

    assert "xoxb-test-token" not in str(failure.value)
    assert "xoxb-test-token" not in SyncRun.objects.latest("pk").error


def test_an_expired_cursor_is_replaced_by_the_oldest_ts_read(slack_channels, settings):
    slack = slack_channels
    settings.SLACK_REQUESTS_PER_MINUTE = 1  # one page, then the run stops for a minute
    with pytest.raises(Deferred):
        slack.sync("messages", GENERAL)
    slack.upstream.expire_cursors()  # hours later, Slack no longer takes the cursor
    settings.SLACK_REQUESTS_PER_MINUTE = 0

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert stored() == FULL_COUNT
    _first, refused, by_latest = slack.upstream.calls_of(HISTORY)
    assert refused["cursor"]
    assert by_latest["latest"] == slack.upstream.channel(GENERAL).messages[-15]["ts"]
    assert "cursor" not in by_latest


def test_a_thread_deleted_after_the_history_was_read_is_skipped(slack_channels):
    slack = slack_channels
    slack.upstream.fail_next("conversations.replies", "thread_not_found")

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert stored() == FULL_COUNT - 3  # one thread's three replies
    assert len(slack.upstream.calls_of("conversations.replies")) == 3


def test_an_answer_without_its_list_is_not_taken_for_an_empty_page(slack_channels):
    slack = slack_channels
    slack.upstream.replace_next(HISTORY, {"ok": True, "has_more": False}, times=4)

    with pytest.raises(TransientError, match="without its 'messages' list"):
        slack.sync("messages", GENERAL)

    assert SyncState.objects.get(scope=GENERAL).last_success_at is None
