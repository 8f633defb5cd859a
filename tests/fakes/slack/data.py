"""The fake Slack's data, in the shapes Slack's Web API documents, deterministic from a seed.

Users (`users.list` members), channels (`conversations.list` items) and, per
channel, its messages in `ts` order with the replies of each thread. Every
generated ts lies before `GENERATED_UNTIL`; the fake's clock starts there and
moves a second per mutation, so whatever a test posts or edits is newer than
everything generated.

Message variety, so the hub's typing and filtering are exercised: every
`thread_every`-th message is a thread parent with `replies` replies, every 50th
a deploy bot's post, every 97th a channel join, every 13th edited.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0HUBTEST"
TEAM_URL = "https://hub-test.slack.com/"
BOT_USER_ID = "U0HUBBOT0"
BOT_ID = "B0HUBBOT0"
DEPLOY_BOT_ID = "B0DEPLOY1"
# 2023-11-14T22:13:20Z: the first generated message.
EPOCH = 1_700_000_000
# Messages are a minute apart; replies follow their parent a second apart.
MESSAGE_SPACING = 60
GENERATED_UNTIL = 1_735_689_600  # 2025-01-01T00:00:00Z
MAX_REPLIES = MESSAGE_SPACING - 10

PEOPLE = (
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Ken Thompson",
    "Margaret Hamilton",
    "Radia Perlman",
    "Donald Knuth",
    "Frances Allen",
)
CHANNEL_NAMES = ("general", "random", "deploys", "eng-backend", "eng-frontend", "incidents")
TOPICS = ("the parser", "the login flow", "the cache", "the exporter", "the sync job", "the CLI")
VERBS = ("Has anyone looked at", "I am fixing", "Who owns", "Reviewing", "Shipping", "Testing")


def ts_of(seconds: int, micros: int) -> str:
    """Slack's ts: epoch seconds, a dot, six digits of microseconds (a string, always)."""
    return f"{seconds}.{micros:06d}"


def user_json(
    user_id: str,
    name: str,
    real_name: str,
    email: str,
    *,
    is_bot: bool = False,
    deleted: bool = False,
    display_name: str | None = None,
) -> dict[str, Any]:
    """A `users.list` member as Slack documents it."""
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name,
        "deleted": deleted,
        "color": "9f69e7",
        "real_name": real_name,
        "tz": "Europe/London",
        "tz_label": "Greenwich Mean Time",
        "tz_offset": 0,
        "profile": {
            "avatar_hash": "ge3b51ca72de",
            "status_text": "",
            "status_emoji": "",
            "real_name": real_name,
            "display_name": name if display_name is None else display_name,
            "real_name_normalized": real_name,
            "display_name_normalized": name if display_name is None else display_name,
            "email": email,
            "image_24": f"https://avatars.slack-edge.com/{user_id}_24.png",
            "team": TEAM_ID,
        },
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": EPOCH,
        "has_2fa": False,
    }


def channel_json(
    channel_id: str,
    name: str,
    *,
    is_private: bool = False,
    is_member: bool = True,
    is_archived: bool = False,
    members: int = 10,
    topic: str = "",
    purpose: str = "",
) -> dict[str, Any]:
    """A `conversations.list` channel as Slack documents it."""
    return {
        "id": channel_id,
        "name": name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": is_private,
        "created": EPOCH - 86_400,
        "is_archived": is_archived,
        "is_general": name == "general",
        "unlinked": 0,
        "name_normalized": name,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": TEAM_ID,
        "creator": "U00000001",
        "is_member": is_member,
        "topic": {"value": topic, "creator": "U00000001" if topic else "", "last_set": 0},
        "purpose": {"value": purpose, "creator": "U00000001" if purpose else "", "last_set": 0},
        "previous_names": [],
        "num_members": members,
    }


def user_message(user_id: str, text: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": user_id, "text": text, "ts": ts, "team": TEAM_ID, **extra}


def bot_message(bot_id: str, username: str, text: str, ts: str, **extra: Any) -> dict[str, Any]:
    """A post by an integration (no user), subtype bot_message, as Slack shows it."""
    return {
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "ts": ts,
        "username": username,
        "bot_id": bot_id,
        "icons": {"image_48": "https://a.slack-edge.com/bot_48.png"},
        **extra,
    }


def join_message(user_id: str, ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "channel_join",
        "user": user_id,
        "text": f"<@{user_id}> has joined the channel",
        "ts": ts,
    }


@dataclass
class Channel:
    """One channel's JSON and its messages (ascending ts), with each thread's replies."""

    json: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    # ts of every channel-level message, ascending (for bisect).
    stamps: list[str] = field(default_factory=list)
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.json["id"]

    def insert(self, message: dict[str, Any]) -> None:
        index = bisect.bisect_left(self.stamps, message["ts"])
        self.stamps.insert(index, message["ts"])
        self.messages.insert(index, message)

    def find(self, ts: str) -> dict[str, Any] | None:
        index = bisect.bisect_left(self.stamps, ts)
        if index < len(self.stamps) and self.stamps[index] == ts:
            return self.messages[index]
        for reply in self.replies.get(ts, []):
            if reply["ts"] == ts:
                return reply
        return None


def generate_users(count: int) -> list[dict[str, Any]]:
    """`count` people (first names as user names, emails at example.com) and a deploy bot."""
    users = []
    for index in range(count):
        real_name = PEOPLE[index % len(PEOPLE)]
        if index >= len(PEOPLE):
            real_name = f"{real_name} {index // len(PEOPLE) + 1}"
        name = real_name.lower().replace(" ", ".")
        users.append(user_json(f"U{index + 1:08d}", name, real_name, f"{name}@example.com"))
    users.append(user_json("U0DEPLOYB", "deploybot", "Deploy Bot", "", is_bot=True))
    return users


def generate_messages(
    channel: Channel,
    *,
    count: int,
    thread_every: int,
    replies: int,
    user_ids: list[str],
    seed: int,
    channel_index: int,
) -> None:
    """`count` messages a minute apart, in Slack's shapes (see the module docstring)."""
    if replies > MAX_REPLIES:
        raise ValueError(f"at most {MAX_REPLIES} replies a thread")
    chooser = random.Random(f"{seed}:{channel.id}")
    for index in range(count):
        seconds = EPOCH + index * MESSAGE_SPACING
        ts = ts_of(seconds, (index * 7919 + channel_index * 104_729) % 1_000_000)
        author = user_ids[chooser.randrange(len(user_ids))]
        threaded = thread_every > 0 and replies > 0 and index % thread_every == thread_every // 2
        if not threaded and index % 50 == 49:
            text = f"Deployed api v1.{index} to production"
            message = bot_message(DEPLOY_BOT_ID, "deploybot", text, ts)
        elif not threaded and index % 97 == 3:
            message = join_message(author, ts)
        else:
            text = f"{chooser.choice(VERBS)} {chooser.choice(TOPICS)}? (#{index})"
            message = user_message(author, text, ts)
            if index % 13 == 7:
                edited_ts = ts_of(seconds + 30, 0)
                message["edited"] = {"user": author, "ts": edited_ts}
        if threaded:
            thread = [
                user_message(
                    user_ids[chooser.randrange(len(user_ids))],
                    f"Reply {number + 1} to #{index}",
                    ts_of(seconds + number + 1, 0),
                    thread_ts=ts,
                    parent_user_id=author,
                )
                for number in range(replies)
            ]
            channel.replies[ts] = thread
            summarize_thread(message, thread)
        channel.messages.append(message)
        channel.stamps.append(ts)


def summarize_thread(parent: dict[str, Any], thread: list[dict[str, Any]]) -> None:
    """The thread fields Slack puts on a parent message with replies."""
    if not thread:
        for name in ("reply_count", "reply_users_count", "latest_reply", "reply_users"):
            parent.pop(name, None)
        return
    users = list(dict.fromkeys(reply.get("user") or "" for reply in thread))
    parent.update(
        thread_ts=parent["ts"],
        reply_count=len(thread),
        reply_users_count=len(users),
        latest_reply=thread[-1]["ts"],
        reply_users=users[:5],
        is_locked=False,
        subscribed=False,
    )
