"""POST /api/webhooks/slack: Slack's Events API, verified, deduplicated, into chat messages."""

from __future__ import annotations

import json

import pytest

from ingestion.choices import DeliveryStatus
from ingestion.models import WebhookDelivery, WebhookRefusal
from tests.webhooks.conftest import SLACK_SECRET
from tests.webhooks.payloads import slack_example, slack_signature, slack_timestamp
from tracking.choices import MessageKind
from tracking.models import ChatMessage

pytestmark = pytest.mark.django_db


def message_event(**changes) -> dict:
    payload = slack_example("event_callback.message")
    payload["event"].update(changes)
    return payload


def test_the_url_verification_challenge_is_answered(slack_hook):
    payload = slack_example("url_verification")

    response = slack_hook.post(payload)

    assert response.status_code == 200
    assert response.json() == {"challenge": payload["challenge"]}
    assert not WebhookDelivery.objects.exists()


def test_an_unsigned_url_verification_is_refused(slack_hook):
    response = slack_hook.post(slack_example("url_verification"), secret="wrong")

    assert response.status_code == 401


def test_a_message_event_is_stored_and_answered_202(slack_hook):
    payload = slack_example("event_callback.message")

    response = slack_hook.post(payload)

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert (delivery.source, delivery.delivery_id, delivery.event) == (
        "slack",
        payload["event_id"],
        "message",
    )


def test_a_message_event_becomes_a_chat_message_keyed_by_channel_and_ts(slack_hook, process):
    slack_hook.post(slack_example("event_callback.message"))
    process()

    message = ChatMessage.objects.get()
    assert message.external_id == "C123ABC456:1355517523.000005"
    assert (message.channel_id, message.ts) == ("C123ABC456", "1355517523.000005")
    assert message.text == "Live long and prospect."
    assert message.user.external_id == "U123ABC456"
    assert message.kind == MessageKind.MESSAGE


def test_slacks_retry_of_an_event_is_a_no_op(slack_hook, process):
    payload = slack_example("event_callback.message")
    slack_hook.post(payload)

    retry = slack_hook.post(
        payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )

    assert retry.status_code == 202
    assert WebhookDelivery.objects.count() == 1
    process()
    assert ChatMessage.objects.count() == 1


def test_an_edit_updates_the_message(slack_hook, process):
    slack_hook.post(slack_example("event_callback.message"))
    process()
    changed = slack_example("event_callback.message_changed")
    changed["event_id"] = "Ev-edit"

    slack_hook.post(changed)
    process()

    message = ChatMessage.objects.get()
    assert message.text == "Hello, world!"
    assert message.edited_at is not None


def test_a_deletion_marks_the_message_deleted(slack_hook, process):
    deleted = slack_example("event_callback.message_deleted")
    original = message_event(ts=deleted["event"]["deleted_ts"], text="Oops")
    slack_hook.post(original)
    process()
    deleted["event_id"] = "Ev-delete"

    slack_hook.post(deleted)
    process()

    message = ChatMessage.objects.get()
    assert message.deleted_at is not None
    assert message.text == "Oops"


def test_a_thread_reply_keeps_its_thread(slack_hook, process):
    slack_hook.post(slack_example("event_callback.thread_reply"))
    process()

    message = ChatMessage.objects.get()
    assert message.thread_ts == "1485913694.000025"


def test_a_bot_message_matching_a_deploy_pattern_is_a_deploy_notification(
    slack_hook, process, settings
):
    settings.SLACK_DEPLOY_PATTERNS = [r"deployed .* to production"]
    payload = slack_example("event_callback.bot_message")
    payload["event"].update(channel="C0DEPLOYS", text="api v1.2.3 deployed by ci to production")

    slack_hook.post(payload)
    process()

    assert ChatMessage.objects.get().kind == MessageKind.DEPLOY_NOTIFICATION


def test_a_bot_message_from_a_deploy_bot_is_a_deploy_notification(slack_hook, process, settings):
    settings.SLACK_DEPLOY_PATTERNS = []
    settings.SLACK_DEPLOY_BOTS = ["BB12033"]
    payload = slack_example("event_callback.bot_message")
    payload["event"]["channel"] = "C0DEPLOYS"

    slack_hook.post(payload)
    process()

    assert ChatMessage.objects.get().kind == MessageKind.DEPLOY_NOTIFICATION


def test_a_join_message_is_ignored_unless_joins_are_kept(slack_hook, process, settings):
    settings.SLACK_KEEP_JOINS = False
    slack_hook.post(message_event(subtype="channel_join", text="<@U1> has joined"))
    process()

    assert WebhookDelivery.objects.get().status == DeliveryStatus.IGNORED
    assert not ChatMessage.objects.exists()


def test_an_event_type_the_hub_does_not_use_is_stored_as_ignored(slack_hook):
    payload = slack_example("event_callback.message")
    payload["event"] = {"type": "reaction_added", "user": "U1", "reaction": "tada"}

    slack_hook.post(payload)

    assert WebhookDelivery.objects.get().status == DeliveryStatus.IGNORED


def test_a_timestamp_more_than_five_minutes_old_is_refused(slack_hook):
    response = slack_hook.post(
        slack_example("event_callback.message"), timestamp=slack_timestamp(-301)
    )

    assert response.status_code == 401
    assert "more than 5 minutes" in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()
    assert WebhookRefusal.objects.get(source="slack").reason == "stale_timestamp"


def test_a_timestamp_from_the_future_is_refused(slack_hook):
    response = slack_hook.post(
        slack_example("event_callback.message"), timestamp=slack_timestamp(+301)
    )

    assert response.status_code == 401


def test_a_timestamp_within_the_window_is_accepted(slack_hook):
    response = slack_hook.post(
        slack_example("event_callback.message"), timestamp=slack_timestamp(-240)
    )

    assert response.status_code == 202


def test_a_wrong_signing_secret_is_refused(slack_hook):
    response = slack_hook.post(slack_example("event_callback.message"), secret="wrong")

    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_an_altered_body_is_refused(slack_hook):
    body = json.dumps(slack_example("event_callback.message")).encode()
    timestamp = slack_timestamp()
    signature = slack_signature(SLACK_SECRET, timestamp, body)

    response = slack_hook.post(
        None,
        body=body.replace(b"prospect", b"prosper"),
        timestamp=timestamp,
        headers={"X-Slack-Signature": signature},
    )

    assert response.status_code == 401


def test_missing_signature_headers_are_refused(slack_hook):
    response = slack_hook.post(
        slack_example("event_callback.message"), headers={"X-Slack-Signature": None}
    )

    assert response.status_code == 401
    assert "are required" in response.json()["detail"]


def test_a_timestamp_that_is_not_a_number_is_refused(slack_hook):
    response = slack_hook.post(slack_example("event_callback.message"), timestamp="yesterday")

    assert response.status_code == 401


def test_a_signed_body_that_is_not_json_is_refused_with_400(slack_hook):
    response = slack_hook.post(None, body=b"token=abc&team_id=T1")

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_an_event_callback_without_an_event_id_is_refused(slack_hook):
    payload = slack_example("event_callback.message")
    del payload["event_id"]

    response = slack_hook.post(payload)

    assert response.status_code == 400
    assert response.json()["detail"] == "event_id is missing."


def test_without_a_signing_secret_every_event_is_refused(slack_hook, settings):
    settings.SLACK_SIGNING_SECRET = []

    response = slack_hook.post(slack_example("event_callback.message"))

    assert response.status_code == 401
    assert "SLACK_SIGNING_SECRET is not set" in response.json()["detail"]
