"""Slack's Events API: POST /api/webhooks/slack.

Verified with X-Slack-Signature (`v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`
under SLACK_SIGNING_SECRET) and a timestamp within five minutes of now, so a
captured request cannot be replayed later. Slack wants an answer within three
seconds and retries otherwise (X-Slack-Retry-Num): the answer comes right after
one INSERT, and a retry carries the same event_id, so it inserts nothing.

`message` events (new, `message_changed`, `message_deleted`, thread replies) go
to slack/messages, the stream that polling fills: the same (channel, ts) row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from ingestion.errors import RecordRejected
from ingestion.webhooks import (
    IgnoredEvent,
    Receipt,
    StreamRecords,
    WebhookReceiver,
    WebhookRefused,
    json_object,
    register_receiver,
    signature_matches,
)
from sources.slack.normalize import is_kept, with_channel
from tracking.choices import Source
from tracking.models import slack_ts_to_datetime

SIGNATURE_PREFIX = "v0="
# Slack's documented replay window.
MAX_CLOCK_SKEW_SECONDS = 5 * 60


@register_receiver
class SlackEvents(WebhookReceiver):
    source = Source.SLACK
    handled_events = frozenset({"message"})
    load_order = ("slack/messages",)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        secrets = settings.SLACK_SIGNING_SECRET
        if not secrets:
            raise WebhookRefused(
                401,
                "not_configured",
                "SLACK_SIGNING_SECRET is not set: the hub accepts only signed events.",
            )
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if not timestamp or not signature:
            raise WebhookRefused(
                401,
                "no_signature",
                "X-Slack-Request-Timestamp and X-Slack-Signature are required.",
            )
        if not timestamp.isdigit():
            raise WebhookRefused(
                401, "bad_timestamp", "X-Slack-Request-Timestamp must be Unix seconds."
            )
        if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise WebhookRefused(
                401,
                "stale_timestamp",
                "X-Slack-Request-Timestamp is more than 5 minutes from now (a replay, or "
                "a clock out of sync).",
            )
        base = b"v0:" + timestamp.encode() + b":" + body
        if not signature_matches(secrets, base, signature, SIGNATURE_PREFIX):
            raise WebhookRefused(
                401,
                "bad_signature",
                "X-Slack-Signature does not match the body under SLACK_SIGNING_SECRET.",
            )

    def receipt(self, body: bytes, headers: Mapping[str, str]) -> Receipt:
        payload = json_object(body)
        kind = payload.get("type")
        if kind == "url_verification":
            # The handshake when the Request URL is saved in the app's settings.
            return Receipt(immediate={"challenge": str(payload.get("challenge", ""))})
        if kind != "event_callback":
            # app_rate_limited and the like: nothing to keep.
            return Receipt(immediate={"ok": True})
        event_id = payload.get("event_id")
        event = payload.get("event")
        if not isinstance(event_id, str) or not event_id:
            raise WebhookRefused(400, "no_delivery_id", "event_id is missing.")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise WebhookRefused(400, "no_event", "event.type is missing.")
        subtype = event.get("subtype")
        return Receipt(
            delivery_id=event_id,
            event=event["type"],
            action=subtype if isinstance(subtype, str) else "",
            body=body.decode("utf-8"),
        )

    def records(self, event: str, payload: dict[str, Any]) -> list[StreamRecords]:
        message_event = payload.get("event")
        if not isinstance(message_event, dict):
            raise RecordRejected("the payload has no event object")
        channel = message_event.get("channel")
        if not isinstance(channel, str) or not channel:
            raise RecordRejected("event.channel is missing")
        record = message_record(message_event, channel)
        return [StreamRecords(Source.SLACK, "messages", channel, [record])]


def message_record(event: dict[str, Any], channel: str) -> dict[str, Any]:
    """The slack/messages record a message event stands for."""
    subtype = event.get("subtype")
    if not is_kept(event):
        raise IgnoredEvent(f"{subtype} messages are not kept (SLACK_KEEP_JOINS)")
    if subtype in ("message_changed", "message_replied"):
        # The message as it is now: edited text, or a parent's new reply count.
        return with_channel(_inner(event, "message"), channel)
    if subtype == "message_deleted":
        previous = event.get("previous_message")
        deleted_ts = event.get("deleted_ts")
        if not isinstance(previous, dict):
            if not isinstance(deleted_ts, str):
                raise RecordRejected("message_deleted has neither previous_message nor deleted_ts")
            previous = {"type": "message", "ts": deleted_ts}
        return with_channel(previous, channel, deleted_at=_event_time(event))
    return with_channel(event, channel)


def _inner(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    if not isinstance(value, dict):
        raise RecordRejected(f"{event.get('subtype')} has no {name} object")
    return value


def _event_time(event: dict[str, Any]) -> str:
    """When the event happened (its event_ts), as ISO 8601; now if it has none."""
    try:
        return slack_ts_to_datetime(event.get("event_ts") or event.get("ts")).isoformat()
    except ValidationError:
        return timezone.now().isoformat()
