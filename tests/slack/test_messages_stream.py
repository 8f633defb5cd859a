"""slack/messages: a channel's history and the threads in it, full and incremental, one row
per (channel, ts) whichever way it was read."""

from __future__ import annotations

import pytest

from ingestion.errors import PermanentError
from ingestion.harness import ingest_records
from ingestion.streams import get_stream
from sources.slack.normalize import with_channel
from tests.slack.conftest import FULL_COUNT, GENERAL, RANDOM
from tracking.choices import MessageKind
from tracking.models import ChatMessage

pytestmark = pytest.mark.django_db


def messages_in(channel: str):
    return ChatMessage.objects.filter(channel_id=channel)


def expected_count(slack, channel: str) -> int:
    """Channel-level messages (joins left out) plus every thread's replies, as the fake has them."""
    fake_channel = slack.upstream.channel(channel)
    kept = [m for m in fake_channel.messages if m.get("subtype") != "channel_join"]
    return len(kept) + sum(len(replies) for replies in fake_channel.replies.values())


def test_a_full_sync_stores_every_message_and_every_reply(slack_channels):
    slack = slack_channels

    run = slack.sync("messages", GENERAL)

    assert run.status == "succeeded"
    assert run.created == expected_count(slack, GENERAL) == FULL_COUNT
    assert messages_in(GENERAL).count() == FULL_COUNT
    message = messages_in(GENERAL).get(ts=slack.upstream.channel(GENERAL).messages[0]["ts"])
    assert message.channel_name == "general"
    assert message.permalink.startswith("https://hub-test.slack.com/archives/C00000001/p")


def test_history_is_read_in_pages_of_slack_history_limit(slack_channels):
    slack = slack_channels

    slack.sync("messages", GENERAL)

    calls = slack.upstream.calls_of("conversations.history")
    assert len(calls) == 2  # 30 messages, 15 a page
    assert all(call["limit"] == "15" for call in calls)
    assert "cursor" not in calls[0]
    assert calls[1]["cursor"]


def test_replies_are_asked_only_for_messages_with_replies(slack_channels):
    slack = slack_channels

    slack.sync("messages", GENERAL)

    parents = set(slack.upstream.threads(GENERAL))
    asked = [call["ts"] for call in slack.upstream.calls_of("conversations.replies")]
    assert len(parents) == 3
    assert sorted(asked) == sorted(parents)


def test_a_thread_longer_than_a_page_is_read_to_its_end(slack_channels):
    slack = slack_channels
    parent = slack.upstream.post(GENERAL, "Long thread")
    for number in range(20):
        slack.upstream.post(GENERAL, f"reply {number}", thread_ts=parent)

    slack.sync("messages", GENERAL)

    assert messages_in(GENERAL).filter(thread_ts=parent).exclude(ts=parent).count() == 20
    assert messages_in(GENERAL).get(ts=parent).reply_count == 20
    asked = [
        call for call in slack.upstream.calls_of("conversations.replies") if call["ts"] == parent
    ]
    assert len(asked) == 2  # the parent and 14 replies, then 6


def test_replies_are_linked_to_their_authors(slack_channels):
    slack = slack_channels
    slack.sync("users")
    parent = slack.upstream.post(GENERAL, "Who broke the build?", user="U00000001")
    slack.upstream.post(GENERAL, "Not me", user="U00000002", thread_ts=parent)

    slack.sync("messages", GENERAL)

    (reply,) = messages_in(GENERAL).filter(thread_ts=parent).exclude(ts=parent)
    assert reply.user.external_id == "U00000002"
    assert reply.user.display_name == "Grace Hopper"


def test_an_incremental_sync_asks_slack_only_for_messages_since_the_checkpoint(slack_channels):
    slack = slack_channels
    slack.sync("messages", GENERAL)
    newest = slack.upstream.channel(GENERAL).messages[-1]["ts"]
    slack.upstream.calls.clear()

    slack.sync("messages", GENERAL)

    (call,) = slack.upstream.calls_of("conversations.history")
    # The checkpoint minus the stream's minute of overlap, as Slack's exact ts string.
    assert call["oldest"] == f"{int(newest.split('.')[0]) - 60}.{newest.split('.')[1]}"


def test_an_incremental_sync_adds_new_messages_and_leaves_the_others_untouched(slack_channels):
    slack = slack_channels
    slack.sync("messages", GENERAL)
    seen = dict(messages_in(GENERAL).values_list("ts", "last_seen_at"))
    ts = slack.upstream.post(GENERAL, "A new message")

    run = slack.sync("messages", GENERAL)

    assert run.created == 1
    assert run.updated == 0
    assert messages_in(GENERAL).get(ts=ts).text == "A new message"
    for stored_ts, last_seen_at in seen.items():
        assert messages_in(GENERAL).get(ts=stored_ts).last_seen_at == last_seen_at


def test_a_new_thread_is_read_by_the_next_incremental_sync(slack_channels):
    slack = slack_channels
    slack.sync("messages", GENERAL)
    parent = slack.upstream.post(GENERAL, "Standup?")
    slack.upstream.post(GENERAL, "Yes", thread_ts=parent)
    slack.upstream.calls.clear()

    run = slack.sync("messages", GENERAL)

    assert run.created == 2
    assert [call["ts"] for call in slack.upstream.calls_of("conversations.replies")] == [parent]


def test_an_edited_message_is_updated_with_its_edit_time(slack_channels):
    slack = slack_channels
    slack.sync("messages", GENERAL)
    ts = slack.upstream.channel(GENERAL).messages[0]["ts"]
    edited_ts = slack.upstream.edit(GENERAL, ts, "Corrected text")

    run = slack.sync("messages", GENERAL, full=True)

    assert run.updated == 1
    message = messages_in(GENERAL).get(ts=ts)
    assert message.text == "Corrected text"
    assert message.edited_at is not None
    assert message.edited_at.timestamp() == pytest.approx(float(edited_ts))


def test_a_deploy_message_is_typed_as_a_deploy_notification(slack_channels):
    slack = slack_channels
    ts = slack.upstream.post(
        GENERAL, "Deployed web v3.2.0 to production", user=None, bot_id="B0CI00001"
    )

    slack.sync("messages", GENERAL)

    message = messages_in(GENERAL).get(ts=ts)
    assert message.kind == MessageKind.DEPLOY_NOTIFICATION
    assert message.subtype == "bot_message"
    assert message.user is None


def test_a_deploy_bot_named_in_settings_is_typed_whatever_it_says(slack_channels, settings):
    slack = slack_channels
    settings.SLACK_DEPLOY_BOTS = ["B0ARGOCD1"]
    ts = slack.upstream.post(GENERAL, "Sync OK: payments", user=None, bot_id="B0ARGOCD1")
    other = slack.upstream.post(GENERAL, "Lunch is here", user=None, bot_id="B0LUNCH01")

    slack.sync("messages", GENERAL)

    assert messages_in(GENERAL).get(ts=ts).kind == MessageKind.DEPLOY_NOTIFICATION
    assert messages_in(GENERAL).get(ts=other).kind == MessageKind.BOT_MESSAGE


def test_joins_are_left_out_by_default(slack_channels):
    slack = slack_channels
    ts = slack.upstream.post(
        GENERAL, "<@U00000003> has joined", user="U00000003", subtype="channel_join"
    )

    slack.sync("messages", GENERAL)

    assert not messages_in(GENERAL).filter(ts=ts).exists()
    assert not messages_in(GENERAL).filter(subtype="channel_join").exists()


def test_joins_are_kept_as_system_messages_with_slack_keep_joins(slack_channels, settings):
    slack = slack_channels
    settings.SLACK_KEEP_JOINS = True

    slack.sync("messages", GENERAL)

    join = messages_in(GENERAL).get(subtype="channel_join")
    assert join.kind == MessageKind.SYSTEM


def test_ts_is_kept_as_slacks_exact_string(slack_channels):
    slack = slack_channels
    ts = slack.upstream.post(GENERAL, "precise")

    slack.sync("messages", GENERAL)

    message = messages_in(GENERAL).get(ts=ts)
    assert message.external_id == f"{GENERAL}:{ts}"
    assert message.posted_at.microsecond == int(ts.split(".")[1])


def test_pages_capped_at_15_messages_are_followed_to_the_end(settings, slack_channels):
    slack = slack_channels
    settings.SLACK_HISTORY_LIMIT = 200
    slack.upstream.page_cap = 15  # Slack's 2025 cap for apps outside the Marketplace

    run = slack.sync("messages", GENERAL)

    assert run.created == FULL_COUNT
    assert len(slack.upstream.calls_of("conversations.history")) == 2


def test_a_channel_can_be_named_by_its_name(slack_channels):
    slack = slack_channels

    run = slack.sync("messages", "#random")

    assert run.created == expected_count(slack, RANDOM)
    assert messages_in(RANDOM).count() == run.created


def test_an_unknown_channel_name_fails_saying_what_to_do(slack):
    with pytest.raises(PermanentError, match="sync slack/channels first"):
        slack.sync("messages", "no-such-channel")


def test_a_channel_the_bot_is_not_in_fails_saying_to_invite_it(slack):
    channel = slack.upstream.add_channel("secret-plans", is_member=False)
    slack.sync("channels")

    with pytest.raises(PermanentError, match="invite"):
        slack.sync("messages", channel)


def test_the_schedule_syncs_every_channel_the_bot_is_in(slack):
    outside = slack.upstream.add_channel("not-invited", is_member=False)
    archived = slack.upstream.add_channel("old", is_archived=True)

    runs = slack.sync_all()

    channels = {key for key in runs if key.startswith("C")}
    assert channels == {GENERAL, RANDOM, "C00000003"}
    assert outside not in channels and archived not in channels
    assert all(run.status == "succeeded" for run in runs.values())


def test_slack_channels_picks_channels_by_name_or_id(slack_channels, settings):
    settings.SLACK_CHANNELS = ["#random", GENERAL, "not-synced-yet"]

    scopes = get_stream("slack", "messages").configured_scopes()

    assert scopes == [RANDOM, GENERAL, "not-synced-yet"]


# --- the row the Events API path writes: its receiver hands records to ingest_records ----------


def test_a_late_poll_never_undeletes_a_message_the_events_api_deleted(slack_channels):
    slack = slack_channels
    slack.sync("messages", GENERAL)
    message = slack.upstream.channel(GENERAL).messages[0]
    deleted = with_channel(message, GENERAL, deleted_at="2024-05-01T10:00:00+00:00")
    ingest_records(get_stream("slack", "messages"), GENERAL, [[deleted]])

    slack.upstream.edit(GENERAL, message["ts"], "edited before the poll saw the deletion")
    slack.sync("messages", GENERAL, full=True)

    stored = messages_in(GENERAL).get(ts=message["ts"])
    assert stored.deleted_at is not None
    assert stored.text == "edited before the poll saw the deletion"


def test_a_deletion_known_only_by_its_ts_keeps_the_text_author_and_kind(slack_channels):
    slack = slack_channels
    ts = slack.upstream.post(GENERAL, "Deployed api v9", user=None, bot_id="B0CI00001")
    slack.sync("messages", GENERAL)
    bare = with_channel({"type": "message", "ts": ts}, GENERAL, deleted_at="2024-05-01T10:00:00Z")

    ingest_records(get_stream("slack", "messages"), GENERAL, [[bare]])

    stored = messages_in(GENERAL).get(ts=ts)
    assert stored.deleted_at is not None
    assert (stored.text, stored.kind) == ("Deployed api v9", MessageKind.DEPLOY_NOTIFICATION)


def test_an_edit_event_older_than_the_stored_edit_changes_nothing(slack_channels):
    slack = slack_channels
    ts = slack.upstream.post(GENERAL, "first")
    slack.upstream.edit(GENERAL, ts, "second")
    slack.sync("messages", GENERAL)
    late = {"type": "message", "user": "U00000001", "text": "first, edited", "ts": ts}
    late["edited"] = {"user": "U00000001", "ts": f"{int(ts.split('.')[0]) - 1}.000000"}

    ingest_records(get_stream("slack", "messages"), GENERAL, [[with_channel(late, GENERAL)]])

    assert messages_in(GENERAL).get(ts=ts).text == "second"
