"""slack/channels: public channels and the private ones the bot is in, with what they are."""

from __future__ import annotations

import pytest

from tests.slack.conftest import GENERAL
from tracking.models import ChatChannel

pytestmark = pytest.mark.django_db


def test_every_channel_the_bot_can_see_is_stored(slack):
    private = slack.upstream.add_channel("leads", is_private=True)
    hidden = slack.upstream.add_channel("hr", is_private=True, is_member=False)

    run = slack.sync("channels")

    assert run.status == "succeeded"
    ids = set(ChatChannel.objects.values_list("external_id", flat=True))
    assert ids == {GENERAL, "C00000002", "C00000003", private}
    assert hidden not in ids
    assert ChatChannel.objects.get(external_id=private).is_private is True


def test_a_channel_keeps_its_topic_purpose_and_membership(slack):
    channel = slack.upstream.add_channel(
        "releases",
        is_member=False,
        topic={"value": "Ship it", "creator": "U00000001", "last_set": 1},
        purpose={"value": "Release coordination", "creator": "U00000001", "last_set": 1},
        num_members=42,
    )

    slack.sync("channels")

    stored = ChatChannel.objects.get(external_id=channel)
    assert (stored.name, stored.topic, stored.purpose) == (
        "releases",
        "Ship it",
        "Release coordination",
    )
    assert (stored.is_member, stored.member_count) == (False, 42)
    assert stored.created_at is not None


def test_an_archived_channel_is_kept_and_marked(slack):
    channel = slack.upstream.add_channel("old-project", is_archived=True)

    slack.sync("channels")

    assert ChatChannel.objects.get(external_id=channel).is_archived is True


def test_a_renamed_channel_is_updated_and_its_messages_keep_their_key(slack):
    slack.sync("channels")
    slack.upstream.channel(GENERAL).json["name"] = "announcements"

    run = slack.sync("channels")

    assert run.updated == 1
    assert ChatChannel.objects.get(external_id=GENERAL).name == "announcements"


def test_channels_are_asked_for_with_private_ones_and_archived_ones(slack):
    slack.sync("channels")

    (call,) = slack.upstream.calls_of("conversations.list")
    assert call["types"] == "public_channel,private_channel"
    assert call["exclude_archived"] == "0"
    assert call["limit"] == "200"
