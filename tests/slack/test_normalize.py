"""Slack payloads (fixtures/slack, shaped like Slack's documented ones) → row fields, pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from ingestion.errors import RecordRejected
from ingestion.streams import IdentityRef, PersonRef, get_stream
from sources.slack.normalize import (
    channel_rows,
    datetime_to_ts,
    identity_rows,
    is_kept,
    message_kind,
    message_time,
    with_channel,
)
from tests.slack.conftest import fixture
from tracking.choices import MessageKind
from tracking.models import ChatChannel, ChatMessage, Identity

CHANNEL = "C123ABC456"


def history_message(index: int) -> dict[str, Any]:
    return fixture("conversations_history.json")["messages"][index]


def fields_of(record: dict[str, Any]) -> dict[str, Any]:
    (row,) = get_stream("slack", "messages").normalize(record, CHANNEL)
    assert row.model is ChatMessage
    return row.fields


@pytest.fixture(autouse=True)
def default_typing(settings):
    settings.SLACK_DEPLOY_PATTERNS = [r"\bdeploy(ed|ing|ment)?\b"]
    settings.SLACK_DEPLOY_BOTS = []
    settings.SLACK_KEEP_JOINS = False


# --- the record and its key ---------------------------------------------------------------


def test_with_channel_keeps_the_message_as_slack_sent_it_and_adds_the_hub_block():
    message = history_message(1)

    record = with_channel(message, CHANNEL, "general")

    assert {k: v for k, v in record.items() if k != "_hub"} == message
    assert record["_hub"] == {"channel_id": CHANNEL, "channel_name": "general"}


def test_with_channel_records_a_deletion_time_only_when_given():
    record = with_channel(history_message(1), CHANNEL, deleted_at="2024-05-01T10:00:00+00:00")

    assert record["_hub"] == {
        "channel_id": CHANNEL,
        "channel_name": "",
        "deleted_at": "2024-05-01T10:00:00+00:00",
    }


def test_with_channel_refuses_a_missing_channel_id():
    with pytest.raises(ValueError, match="channel_id"):
        with_channel(history_message(1), "")


def test_the_natural_key_is_channel_and_exact_ts():
    key = get_stream("slack", "messages").natural_key(with_channel(history_message(3), CHANNEL))

    assert key == f"{CHANNEL}:1512085950.000216"
    assert key == ChatMessage.natural_key_for(CHANNEL, "1512085950.000216")


def test_a_message_becomes_its_fields():
    fields = fields_of(with_channel(history_message(3), CHANNEL, "general"))

    assert fields["external_id"] == f"{CHANNEL}:1512085950.000216"
    assert fields["channel_id"] == CHANNEL
    assert fields["channel_name"] == "general"
    assert fields["ts"] == "1512085950.000216"
    assert fields["thread_ts"] == "1512085950.000216"
    assert fields["reply_count"] == 2
    assert fields["kind"] == MessageKind.MESSAGE
    assert fields["subtype"] == ""
    assert fields["text"].startswith("I find you punny")
    assert fields["posted_at"] == dt.datetime(2017, 11, 30, 23, 52, 30, 216, tzinfo=dt.UTC)
    assert fields["edited_at"] is None
    assert fields["user"] == IdentityRef(source="slack", external_id="U012AB3CDE")


def test_the_author_carries_the_names_of_its_user_profile():
    fields = fields_of(with_channel(history_message(1), CHANNEL))

    assert fields["user"] == IdentityRef(
        source="slack",
        external_id="U061F7AUR",
        username="spengler",
        display_name="Egon Spengler",
    )


def test_an_edited_message_carries_the_time_of_its_edit():
    fields = fields_of(with_channel(history_message(1), CHANNEL))

    assert fields["edited_at"] == dt.datetime(2017, 12, 1, 5, 0, 20, tzinfo=dt.UTC)


def test_a_reply_knows_its_thread():
    reply = fixture("conversations_replies.json")["messages"][1]

    fields = fields_of(with_channel(reply, CHANNEL))

    assert fields["thread_ts"] == "1512085950.000216"
    assert fields["ts"] == "1512086000.000100"
    assert fields["reply_count"] == 0


def test_a_permalink_is_made_from_the_workspace_url():
    parent = with_channel(history_message(3), CHANNEL, team_url="https://acme.slack.com/")
    reply = with_channel(
        fixture("conversations_replies.json")["messages"][1],
        CHANNEL,
        team_url="https://acme.slack.com/",
    )

    assert fields_of(parent)["permalink"] == (
        f"https://acme.slack.com/archives/{CHANNEL}/p1512085950000216"
    )
    assert fields_of(reply)["permalink"] == (
        f"https://acme.slack.com/archives/{CHANNEL}/p1512086000000100"
        f"?thread_ts=1512085950.000216&cid={CHANNEL}"
    )


def test_what_the_record_does_not_know_is_left_out_of_the_row():
    fields = fields_of(with_channel(history_message(3), CHANNEL))

    assert "channel_name" not in fields
    assert "permalink" not in fields
    assert "deleted_at" not in fields


def test_a_deleted_message_gets_its_deletion_time():
    record = with_channel(history_message(3), CHANNEL, deleted_at="2024-05-01T10:00:00Z")

    assert fields_of(record)["deleted_at"] == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)


def test_the_high_water_mark_moves_with_channel_messages_but_not_with_replies():
    parent = with_channel(history_message(3), CHANNEL)
    reply = with_channel(fixture("conversations_replies.json")["messages"][1], CHANNEL)

    assert message_time(parent) == dt.datetime(2017, 11, 30, 23, 52, 30, 216, tzinfo=dt.UTC)
    assert message_time(reply) is None


def test_a_slack_ts_is_made_back_from_a_time_exactly():
    moment = dt.datetime(2017, 11, 30, 23, 52, 30, 216, tzinfo=dt.UTC)

    assert datetime_to_ts(moment) == "1512085950.000216"


# --- Events API records (the webhook path writes the same rows) ----------------------------


def test_an_events_api_message_normalizes_like_a_polled_one():
    event = fixture("event_message.json")

    fields = fields_of(with_channel(event, event["channel"]))

    assert fields["external_id"] == "C123ABC456:1355517523.000005"
    assert fields["text"] == "Hello world"
    assert fields["user"].external_id == "U123ABC456"


def test_the_inner_message_of_a_message_changed_event_is_an_edit():
    changed = fixture("event_message_changed.json")

    fields = fields_of(with_channel(changed["message"], changed["channel"]))

    assert fields["external_id"] == "C123ABC456:1355517523.000005"
    assert fields["text"] == "Hello, world!"
    assert fields["edited_at"] == dt.datetime(2013, 1, 22, 18, 19, 15, 1, tzinfo=dt.UTC)
    assert "deleted_at" not in fields


def test_a_deletion_known_only_by_its_ts_changes_nothing_but_the_deletion():
    record = with_channel(
        {"type": "message", "ts": "1355517523.000005"}, CHANNEL, deleted_at="2024-05-01T10:00:00Z"
    )

    assert fields_of(record) == {
        "external_id": f"{CHANNEL}:1355517523.000005",
        "channel_id": CHANNEL,
        "ts": "1355517523.000005",
        "posted_at": dt.datetime(2012, 12, 14, 20, 38, 43, 5, tzinfo=dt.UTC),
        "deleted_at": dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC),
    }


# --- kinds -----------------------------------------------------------------------------------


def test_a_deploy_bots_attachment_post_is_a_deploy_notification():
    message = history_message(0)

    assert message_kind(message) == MessageKind.DEPLOY_NOTIFICATION
    assert fields_of(with_channel(message, CHANNEL))["text"] == "Deployed api v2.3.1 to production"


def test_a_bot_in_slack_deploy_bots_posts_deploy_notifications_whatever_its_text(settings):
    settings.SLACK_DEPLOY_BOTS = ["B0DEPLOY1"]
    message = {**history_message(0), "attachments": [], "text": "All green"}

    assert message_kind(message) == MessageKind.DEPLOY_NOTIFICATION


def test_deploy_patterns_match_in_any_case(settings):
    settings.SLACK_DEPLOY_PATTERNS = [r"release \d+ shipped"]
    message = {"type": "message", "user": "U1", "text": "RELEASE 42 SHIPPED", "ts": "1.000001"}

    assert message_kind(message) == MessageKind.DEPLOY_NOTIFICATION


def test_a_bot_message_that_is_not_a_deploy_is_a_bot_message():
    message = {**history_message(0), "attachments": [], "text": "Daily standup reminder"}

    assert message_kind(message) == MessageKind.BOT_MESSAGE


def test_a_message_with_a_bot_id_and_no_subtype_is_a_bot_message():
    message = {"type": "message", "user": "U1", "bot_id": "B9", "text": "hi", "ts": "1.000001"}

    assert message_kind(message) == MessageKind.BOT_MESSAGE


@pytest.mark.parametrize(
    "subtype", ["channel_join", "channel_leave", "channel_topic", "channel_purpose", "group_join"]
)
def test_joins_leaves_topics_and_purposes_are_system_messages(subtype):
    message = {"type": "message", "subtype": subtype, "user": "U1", "text": "x", "ts": "1.000001"}

    assert message_kind(message) == MessageKind.SYSTEM


def test_a_person_writing_is_a_message():
    assert message_kind(history_message(1)) == MessageKind.MESSAGE


def test_an_invalid_deploy_pattern_is_a_configuration_error_naming_the_setting(settings):
    settings.SLACK_DEPLOY_PATTERNS = ["deploy(ed"]

    with pytest.raises(ImproperlyConfigured, match="SLACK_DEPLOY_PATTERNS"):
        message_kind(history_message(1))


def test_a_bot_message_without_a_user_has_no_author():
    assert fields_of(with_channel(history_message(0), CHANNEL))["user"] is None


def test_joins_are_dropped_unless_slack_keep_joins(settings):
    join = history_message(2)

    assert is_kept(join) is False
    settings.SLACK_KEEP_JOINS = True
    assert is_kept(join) is True
    assert is_kept(history_message(1)) is True


# --- bad input ---------------------------------------------------------------------------------


def test_a_message_without_channel_context_is_rejected():
    with pytest.raises(RecordRejected, match=r"_hub\.channel_id"):
        fields_of(history_message(1))


def test_a_message_without_a_ts_is_rejected():
    record = with_channel({"type": "message", "text": "no ts"}, CHANNEL)

    with pytest.raises(RecordRejected, match="ts is missing"):
        get_stream("slack", "messages").natural_key(record)


def test_a_ts_sent_as_a_number_is_rejected_rather_than_rounded():
    record = with_channel({"type": "message", "text": "x", "ts": 1512085950.000216}, CHANNEL)

    with pytest.raises(RecordRejected, match="ts string"):
        fields_of(record)


@pytest.mark.parametrize("ts", ["yesterday", "1e9", "1700000000.1234567", "-1.000001", ""])
def test_a_malformed_ts_is_rejected(ts):
    record = with_channel({"type": "message", "text": "x", "ts": ts}, CHANNEL)

    with pytest.raises(RecordRejected, match="ts"):
        get_stream("slack", "messages").natural_key(record)


def test_a_malformed_edit_time_is_rejected():
    record = with_channel({"type": "message", "ts": "1.000001", "edited": {"ts": "x"}}, CHANNEL)

    with pytest.raises(RecordRejected, match="ts 'x'"):
        fields_of(record)


def test_a_user_that_is_not_an_id_is_rejected():
    record = with_channel({"type": "message", "user": {"id": "U1"}, "ts": "1.000001"}, CHANNEL)

    with pytest.raises(RecordRejected, match="user"):
        fields_of(record)


def test_a_negative_reply_count_is_rejected():
    record = with_channel({"type": "message", "ts": "1.000001", "reply_count": -1}, CHANNEL)

    with pytest.raises(RecordRejected, match="reply_count"):
        fields_of(record)


def test_a_deletion_time_that_is_not_iso_8601_is_rejected():
    record = with_channel(history_message(1), CHANNEL, deleted_at="last Tuesday")

    with pytest.raises(RecordRejected, match="deleted_at"):
        fields_of(record)


# --- users and channels -----------------------------------------------------------------------


def test_a_user_becomes_an_identity_linked_by_email():
    member = fixture("users_list.json")["members"][0]

    (row,) = identity_rows(member)

    assert row.model is Identity
    assert row.fields == {
        "external_id": "W012A3CDE",
        "username": "spengler",
        "display_name": "Egon Spengler",
        "email": "spengler@ghostbusters.example.com",
        "is_bot": False,
        "is_deactivated": False,
        "person": PersonRef("spengler@ghostbusters.example.com", "Egon Spengler"),
    }


def test_a_deleted_user_without_an_email_is_deactivated_and_leaves_its_person_alone():
    member = fixture("users_list.json")["members"][1]

    (row,) = identity_rows(member)

    assert row.fields["is_deactivated"] is True
    assert row.fields["email"] == ""
    assert "person" not in row.fields


@pytest.mark.parametrize("index", [2, 3])
def test_bot_users_and_slackbot_are_bots(index):
    member = fixture("users_list.json")["members"][index]

    assert identity_rows(member)[0].fields["is_bot"] is True


def test_a_user_without_an_id_is_rejected():
    with pytest.raises(RecordRejected, match="id"):
        get_stream("slack", "users").natural_key({"name": "nobody"})


def test_a_channel_becomes_its_fields():
    channel = fixture("conversations_list.json")["channels"][0]

    (row,) = channel_rows(channel)

    assert row.model is ChatChannel
    assert row.fields == {
        "external_id": "C012AB3CD",
        "name": "general",
        "is_private": False,
        "is_archived": False,
        "is_member": True,
        "topic": "Company-wide announcements and work-based matters",
        "purpose": "This channel is for team-wide communication and announcements.",
        "member_count": 4,
        "created_at": dt.datetime(2015, 12, 4, 18, 14, 49, tzinfo=dt.UTC),
    }


def test_an_archived_private_channel_says_so():
    channel = fixture("conversations_list.json")["channels"][1]

    fields = channel_rows(channel)[0].fields

    assert (fields["is_private"], fields["is_archived"], fields["is_member"]) == (True, True, False)


def test_a_channel_with_a_created_time_that_is_not_epoch_seconds_is_rejected():
    channel = {**fixture("conversations_list.json")["channels"][0], "created": "yesterday"}

    with pytest.raises(RecordRejected, match="created"):
        channel_rows(channel)
