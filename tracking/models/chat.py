"""Chat messages (Slack), written alike by polling and by the Events API."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models

from tracking.choices import MessageKind, Source
from tracking.models.base import Provenance, natural_key_constraint
from tracking.models.people import Identity

# Seconds since the epoch, then up to six digits of microseconds. Decimal() alone
# would also take "nan", "1e3" and "1_700", and a seventh digit would be cut silently.
_SLACK_TS = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,6})?")


def slack_ts_to_datetime(ts: str) -> dt.datetime:
    """Slack's "1700000000.123456" as an aware UTC datetime, without float rounding."""
    if not isinstance(ts, str) or not _SLACK_TS.fullmatch(ts):
        raise ValidationError(f"{ts!r} is not a Slack timestamp.", code="invalid_ts")
    seconds = Decimal(ts)
    whole = int(seconds)
    micros = int((seconds - whole) * 1_000_000)
    # Eleven digits of seconds stay below year 5200, well inside datetime's range.
    return dt.datetime.fromtimestamp(whole, tz=dt.UTC) + dt.timedelta(microseconds=micros)


class ChatChannel(Provenance):
    """A Slack conversation (public or private channel) the hub reads; its id is the key."""

    source = models.CharField(max_length=20, choices=Source.choices, default=Source.SLACK)
    name = models.CharField(max_length=200, blank=True, default="", db_index=True)
    is_private = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False)
    is_member = models.BooleanField(
        default=False, help_text="The bot is in the channel, so its history can be read."
    )
    topic = models.TextField(blank=True, default="")
    purpose = models.TextField(blank=True, default="")
    member_count = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "chat channel"
        constraints = [natural_key_constraint("tracking_chatchannel")]
        indexes = [
            models.Index(fields=["last_seen_at", "id"], name="tracking_channel_seen"),
        ]

    def __str__(self) -> str:
        return f"#{self.name or self.external_id}"


class ChatMessage(Provenance):
    """One message in one channel; (channel, ts) is the key, ts kept as Slack's exact string."""

    source = models.CharField(max_length=20, choices=Source.choices, default=Source.SLACK)
    channel_id = models.CharField(max_length=50, db_index=True)
    channel_name = models.CharField(max_length=200, blank=True, default="")
    ts = models.CharField(max_length=32)
    thread_ts = models.CharField(max_length=32, blank=True, default="")
    reply_count = models.PositiveIntegerField(default=0)
    user = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    kind = models.CharField(max_length=30, choices=MessageKind.choices, default=MessageKind.MESSAGE)
    subtype = models.CharField(max_length=50, blank=True, default="")
    text = models.TextField(blank=True, default="")
    permalink = models.URLField(max_length=500, blank=True, default="")
    posted_at = models.DateTimeField(help_text="The ts as a time.")
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-posted_at", "-id"]
        verbose_name = "chat message"
        constraints = [natural_key_constraint("tracking_chatmessage")]
        indexes = [
            models.Index(fields=["posted_at", "id"], name="tracking_message_posted"),
            models.Index(fields=["channel_id", "thread_ts"], name="tracking_message_thread"),
            models.Index(fields=["last_seen_at", "id"], name="tracking_message_seen"),
        ]

    def __str__(self) -> str:
        channel = self.channel_name or self.channel_id
        return f"#{channel} {self.ts}: {self.text[:60]}"

    @staticmethod
    def natural_key_for(channel_id: str, ts: str) -> str:
        return f"{channel_id}:{ts}"
