"""Slack payloads → normalized rows. Pure: no database, no HTTP.

Shared by the polling streams and the Events API receiver, so a message read
either way is the same row, keyed by (channel, ts). A message record is the
Slack message object exactly as `conversations.history` / `conversations.replies`
return it (or an Events API `message` event, or the inner `message` of a
`message_changed` event), plus a `_hub` block built by `with_channel`:

    {"channel_id": "C…", "channel_name": "…" or "", "deleted_at": "<ISO 8601>" (optional),
     "team_url": "https://….slack.com/" (optional, for permalinks)}

Slack message objects do not always say which channel they are in, hence the
block. A row leaves out what the record does not know (an empty channel name,
a permalink without the workspace URL, `deleted_at` without a deletion), so a
late poll or an edit event never blanks a name or un-deletes a message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ingestion.errors import RecordRejected
from ingestion.parsing import parse_time
from ingestion.streams import IdentityRef, PersonRef, Row
from tracking.choices import MessageKind, Source
from tracking.models import ChatChannel, ChatMessage, Identity, slack_ts_to_datetime

SOURCE = Source.SLACK
HUB_KEY = "_hub"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# Subtypes of people joining or leaving: SLACK_KEEP_JOINS decides whether they are kept.
JOIN_SUBTYPES = frozenset({"channel_join", "channel_leave", "group_join", "group_leave"})
# Messages Slack writes about the channel itself ("group_" ones: legacy private channels).
SYSTEM_SUBTYPES = JOIN_SUBTYPES | frozenset(
    {"channel_topic", "channel_purpose", "group_topic", "group_purpose"}
)
# What tracking.models.slack_ts_to_datetime accepts, checked without converting (the
# hot path checks every ts it keys or stores, and converts only the posting time).
SLACK_TS = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,6})?")
# A message known only by its ts (a deletion event without the message): its row gets the
# deletion, and keeps the text, author and kind it had.
BARE_KEYS = frozenset({"type", "ts", HUB_KEY})
# Slackbot is a bot, though users.list says is_bot false for it.
SLACKBOT_ID = "USLACKBOT"


# --- the record -------------------------------------------------------------------------------


def with_channel(
    record: dict[str, Any],
    channel_id: str,
    channel_name: str = "",
    deleted_at: str | dt.datetime | None = None,
    *,
    team_url: str = "",
) -> dict[str, Any]:
    """The message as Slack sent it, plus the `_hub` block naming its channel.

    `deleted_at` (ISO 8601) marks the message deleted; `team_url` (the workspace
    URL `auth.test` reports) lets the row carry a permalink.
    """
    if not isinstance(channel_id, str) or not channel_id:
        raise ValueError(f"channel_id must be a Slack channel id, not {channel_id!r}")
    hub: dict[str, Any] = {"channel_id": channel_id, "channel_name": channel_name or ""}
    if deleted_at:
        if isinstance(deleted_at, dt.datetime):
            deleted_at = deleted_at.isoformat()
        hub["deleted_at"] = deleted_at
    if team_url:
        hub["team_url"] = team_url
    return {**record, HUB_KEY: hub}


def _hub(record: dict[str, Any]) -> dict[str, Any]:
    hub = record.get(HUB_KEY)
    if not isinstance(hub, dict) or not isinstance(hub.get("channel_id"), str):
        raise RecordRejected("the message has no channel context (_hub.channel_id)")
    if not hub["channel_id"]:
        raise RecordRejected("_hub.channel_id is empty")
    return hub


def _ts(record: dict[str, Any], name: str, *, required: bool = True) -> str:
    """A Slack timestamp, kept as the exact string Slack sent ("1700000000.000100")."""
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise RecordRejected(f"{name} is missing")
        return ""
    if not isinstance(value, str):
        # A float would already have lost digits: refuse rather than store a rounded key.
        raise RecordRejected(f"{name} must be Slack's ts string, not {value!r}")
    if not SLACK_TS.fullmatch(value):
        raise RecordRejected(f"{name} {value!r} is not a Slack timestamp")
    return value


def _text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordRejected(f"{name} must be text, not {type(value).__name__}")
    return value


def datetime_to_ts(moment: dt.datetime) -> str:
    """An aware time as a Slack ts ("1700000000.000100"), exact to the microsecond."""
    if moment.tzinfo is None:
        raise ValueError("a Slack ts is made from an aware time")
    elapsed = moment - EPOCH
    seconds = elapsed.days * 86_400 + elapsed.seconds
    return f"{seconds}.{elapsed.microseconds:06d}"


def permalink(team_url: str, channel_id: str, ts: str, thread_ts: str = "") -> str:
    """Slack's link to a message: …/archives/<channel>/p<ts without its dot>."""
    if not team_url:
        return ""
    link = f"{team_url.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


# --- what kind of message ---------------------------------------------------------------------


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as error:
            raise ImproperlyConfigured(
                f"SLACK_DEPLOY_PATTERNS has an invalid regular expression {pattern!r}: {error}"
            ) from None
    return tuple(compiled)


def searchable_text(message: dict[str, Any]) -> str:
    """The message's text and its attachments' texts: deploy bots often post only
    attachments, with an empty `text`."""
    parts = [message.get("text")]
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            parts.extend(attachment.get(key) for key in ("fallback", "pretext", "title", "text"))
    return "\n".join(part for part in parts if isinstance(part, str) and part)


def message_kind(
    message: dict[str, Any],
    *,
    deploy_bots: Iterable[str] | None = None,
    deploy_patterns: Iterable[str] | None = None,
) -> MessageKind:
    """The one typing rule, for polled and pushed messages alike.

    A deploy notification when the message's bot_id is one of SLACK_DEPLOY_BOTS or
    its text matches one of SLACK_DEPLOY_PATTERNS (regular expressions, any case);
    else a bot message (a bot_id, or subtype bot_message); else a system message
    for joins, leaves, topic and purpose changes; else a message.
    """
    bots = settings.SLACK_DEPLOY_BOTS if deploy_bots is None else deploy_bots
    patterns = settings.SLACK_DEPLOY_PATTERNS if deploy_patterns is None else deploy_patterns
    bot_id = message.get("bot_id") or ""
    wanted_bots = {bot.strip() for bot in bots if bot.strip()}
    if bot_id and bot_id in wanted_bots:
        return MessageKind.DEPLOY_NOTIFICATION
    compiled = _compiled(tuple(pattern for pattern in patterns if pattern.strip()))
    if compiled:
        text = searchable_text(message)
        if any(pattern.search(text) for pattern in compiled):
            return MessageKind.DEPLOY_NOTIFICATION
    subtype = message.get("subtype") or ""
    if bot_id or subtype == "bot_message":
        return MessageKind.BOT_MESSAGE
    if subtype in SYSTEM_SUBTYPES:
        return MessageKind.SYSTEM
    return MessageKind.MESSAGE


def is_kept(message: dict[str, Any], *, keep_joins: bool | None = None) -> bool:
    """False for join and leave messages unless SLACK_KEEP_JOINS: the fetch (and the
    Events API receiver) drop them before they become rows."""
    keep = settings.SLACK_KEEP_JOINS if keep_joins is None else keep_joins
    return keep or message.get("subtype") not in JOIN_SUBTYPES


# --- messages ---------------------------------------------------------------------------------


def message_key(record: dict[str, Any]) -> str:
    """`<channel>:<ts>`: one row per message, whichever path read it."""
    return ChatMessage.natural_key_for(_hub(record)["channel_id"], _ts(record, "ts"))


def is_reply(record: dict[str, Any]) -> bool:
    """A thread reply (not the thread's parent)."""
    thread_ts = record.get("thread_ts")
    return bool(thread_ts) and thread_ts != record.get("ts")


def message_time(record: dict[str, Any]) -> dt.datetime | None:
    """The posting time of a channel-level message, for the high-water mark; None for a
    thread reply, which can be newer than messages the run has not read yet."""
    if is_reply(record):
        return None
    return slack_ts_to_datetime(_ts(record, "ts"))


def author_ref(message: dict[str, Any]) -> IdentityRef | None:
    """The posting user, by Slack user id; None for a bot message without a user."""
    user = message.get("user")
    if user is None or user == "":
        return None
    if not isinstance(user, str):
        raise RecordRejected(f"user must be a Slack user id, not {user!r}")
    profile = message.get("user_profile")
    profile = profile if isinstance(profile, dict) else {}
    return IdentityRef(
        source=SOURCE,
        external_id=user,
        username=str(profile.get("name") or "")[:200],
        display_name=str(profile.get("real_name") or profile.get("display_name") or "")[:200],
        is_bot=bool(message.get("bot_id")) or user == SLACKBOT_ID,
    )


def _reply_count(message: dict[str, Any]) -> int:
    value = message.get("reply_count", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RecordRejected(f"reply_count must be a count, not {value!r}")
    return value


def _edited_at(message: dict[str, Any]) -> dt.datetime | None:
    edited = message.get("edited")
    if edited is None:
        return None
    if not isinstance(edited, dict):
        raise RecordRejected(f"edited must be an object, not {edited!r}")
    edited_ts = _ts(edited, "ts", required=False)
    return slack_ts_to_datetime(edited_ts) if edited_ts else None


def _display_text(message: dict[str, Any]) -> str:
    text = _text(message, "text")
    if text:
        return text
    # An attachments-only bot post: its fallbacks are what Slack shows in notifications.
    return "\n".join(
        attachment["fallback"]
        for attachment in message.get("attachments") or []
        if isinstance(attachment, dict) and isinstance(attachment.get("fallback"), str)
    )


def message_rows(record: dict[str, Any]) -> list[Row]:
    hub = _hub(record)
    channel_id = hub["channel_id"]
    ts = _ts(record, "ts")
    thread_ts = _ts(record, "thread_ts", required=False)
    fields: dict[str, Any] = {
        "external_id": ChatMessage.natural_key_for(channel_id, ts),
        "channel_id": channel_id,
        "ts": ts,
        "posted_at": slack_ts_to_datetime(ts),
    }
    if not set(record) <= BARE_KEYS:
        fields.update(
            thread_ts=thread_ts,
            reply_count=_reply_count(record),
            user=author_ref(record),
            kind=message_kind(record),
            subtype=_text(record, "subtype")[:50],
            text=_display_text(record),
            edited_at=_edited_at(record),
        )
    channel_name = hub.get("channel_name")
    if isinstance(channel_name, str) and channel_name:
        fields["channel_name"] = channel_name[:200]
    team_url = hub.get("team_url")
    if isinstance(team_url, str) and team_url:
        fields["permalink"] = permalink(team_url, channel_id, ts, thread_ts)[:500]
    deleted_at = parse_time(hub.get("deleted_at"), "_hub.deleted_at", required=False)
    if deleted_at is not None:
        fields["deleted_at"] = deleted_at
    return [Row(ChatMessage, fields)]


# --- users → identities -----------------------------------------------------------------------


def _slack_id(record: dict[str, Any], what: str) -> str:
    """The `id` of a users.list member or a conversations.list channel: its natural key."""
    value = record.get("id")
    if not isinstance(value, str) or not value:
        raise RecordRejected(f"a Slack {what} needs its id, not {value!r}")
    return value


def user_key(member: dict[str, Any]) -> str:
    return _slack_id(member, "user")


def identity_rows(member: dict[str, Any]) -> list[Row]:
    """A `users.list` member → its Identity; linked to the Person with the same email.

    The email is there only when the token has `users:read.email`. Identity has one
    name column besides the username: the real name, else the display name.
    """
    profile = member.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    user_id = user_key(member)
    email = str(profile.get("email") or "").strip().lower()
    real_name = profile.get("real_name") or member.get("real_name") or ""
    fields: dict[str, Any] = {
        "external_id": user_id,
        "username": str(member.get("name") or "")[:200],
        "display_name": str(real_name or profile.get("display_name") or "")[:200],
        "email": email[:254],
        "is_bot": bool(member.get("is_bot") or member.get("is_app_user")) or user_id == SLACKBOT_ID,
        "is_deactivated": bool(member.get("deleted")),
    }
    if email:
        # The Person with that email, made if nobody has it; without an email the field
        # is left out, so a person someone linked by hand stays linked.
        fields["person"] = PersonRef(email, fields["display_name"] or fields["username"])
    return [Row(Identity, fields)]


# --- channels ---------------------------------------------------------------------------------


def channel_key(channel: dict[str, Any]) -> str:
    return _slack_id(channel, "channel")


def _value_of(channel: dict[str, Any], name: str) -> str:
    """`topic` and `purpose` are objects: {"value": …, "creator": …, "last_set": …}."""
    block = channel.get(name)
    return str(block.get("value") or "") if isinstance(block, dict) else ""


def channel_rows(channel: dict[str, Any]) -> list[Row]:
    created = channel.get("created")
    if created is not None and (not isinstance(created, int) or isinstance(created, bool)):
        raise RecordRejected(f"created must be epoch seconds, not {created!r}")
    members = channel.get("num_members")
    return [
        Row(
            ChatChannel,
            {
                "external_id": channel_key(channel),
                "name": str(channel.get("name") or "")[:200],
                "is_private": bool(channel.get("is_private") or channel.get("is_group")),
                "is_archived": bool(channel.get("is_archived")),
                "is_member": bool(channel.get("is_member")),
                "topic": _value_of(channel, "topic"),
                "purpose": _value_of(channel, "purpose"),
                "member_count": members if isinstance(members, int) and members >= 0 else None,
                "created_at": dt.datetime.fromtimestamp(created, dt.UTC) if created else None,
            },
        )
    ]
