"""The Slack streams: users (as identities), channels, and per channel its messages.

Every request goes through a `paging.Reader`: claimed from the shared pace,
retried, and gathered into harness pages that are handed over before any
wait, so a sync paced at one request a minute commits each answer with the
position after it and resumes there, however often it stops. Normalizing is in
`normalize.py`. Read-only: the hub never posts to Slack.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Generator, Iterator
from typing import Any

from django.conf import settings

from ingestion.errors import PermanentError, TransientError
from ingestion.streams import FetchContext, Page, Row, Stream, register
from sources.slack import normalize
from sources.slack.client import SlackError, connect
from sources.slack.paging import Reader
from tracking.choices import Source
from tracking.models import ChatChannel, ChatMessage, Identity

# users.list and conversations.list: Slack recommends pages of at most 200.
LIST_LIMIT = 200
# conversations.history takes at most 999 a page (and 15 for apps outside the Marketplace).
MAX_HISTORY_LIMIT = 999
# Public, private (C… / G… for old private channels) and shared-channel ids.
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")
REPLIES = "conversations.replies"
# With the pace off: threads whose replies are asked in the background, ahead of their turn.
PREFETCH_THREADS = 32
# A step of a fetch: yields pages (handed over before waits), returns the messages read.
Messages = Generator[Page, None, list[dict[str, Any]]]
# Errors about the channel itself: the message says what to change.
CHANNEL_ERRORS = {
    "channel_not_found": "Slack has no channel {channel} visible to the bot: fix SLACK_CHANNELS, "
    "or invite the bot if it is private",
    "not_in_channel": "the bot is not a member of {channel}: invite it (/invite @your-app) or "
    "take the channel out of SLACK_CHANNELS",
}


def history_limit() -> int:
    limit = settings.SLACK_HISTORY_LIMIT
    if not 1 <= limit <= MAX_HISTORY_LIMIT:
        raise PermanentError(
            f"SLACK_HISTORY_LIMIT is {limit}: set 1 to {MAX_HISTORY_LIMIT} messages a page "
            "(15 for apps outside the Slack Marketplace)."
        )
    return limit


def next_cursor(answer: dict[str, Any]) -> str:
    """Slack's `response_metadata.next_cursor`; "" on the last page."""
    metadata = answer.get("response_metadata")
    cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
    return cursor if isinstance(cursor, str) else ""


def listed(answer: dict[str, Any], key: str, method: str) -> list[dict[str, Any]]:
    """The objects an `ok` answer lists; a missing list is a broken answer, not an empty page."""
    items = answer.get(key)
    if not isinstance(items, list):
        raise TransientError(f"{method} answered ok without its {key!r} list")
    if not all(isinstance(item, dict) for item in items):
        raise TransientError(f"{method} answered {key!r} with an item that is not an object")
    return items


def configured_channels() -> list[str]:
    """The channels the schedule syncs, as ids: SLACK_CHANNELS (ids or names, with or without
    #), else every unarchived channel the bot is a member of. A name not known (yet) is
    kept as it is, so its sync fails saying what to do."""
    wanted = [entry.strip().lstrip("#") for entry in settings.SLACK_CHANNELS if entry.strip()]
    channels = ChatChannel.objects.filter(source=Source.SLACK)
    if not wanted:
        members = channels.filter(is_member=True, is_archived=False).order_by("name", "pk")
        return list(members.values_list("external_id", flat=True))
    ids_by_name = dict(channels.filter(name__in=wanted).values_list("name", "external_id"))
    return list(dict.fromkeys(ids_by_name.get(entry, entry) for entry in wanted))


def known_channel(scope: str) -> tuple[str, str]:
    """(id, name) of the channel a messages sync is for; the name is "" when not synced yet."""
    entry = scope.strip().lstrip("#")
    if not entry:
        raise PermanentError("slack/messages runs per channel: give a channel id or name.")
    channels = ChatChannel.objects.filter(source=Source.SLACK)
    by_id = channels.filter(external_id=entry).values_list("external_id", "name").first()
    if by_id is not None:
        return by_id
    by_name = channels.filter(name=entry).values_list("external_id", "name").first()
    if by_name is not None:
        return by_name
    if CHANNEL_ID.fullmatch(entry):
        return entry, ""
    raise PermanentError(
        f"Slack channel {scope!r} is not known: sync slack/channels first (the bot sees a "
        "private channel only once invited), or fix SLACK_CHANNELS."
    )


class SlackStream(Stream):
    source = Source.SLACK

    def reader(self, context: FetchContext) -> Reader:
        return Reader(connect(), context)


class ListStream(SlackStream):
    """A cursor-paged list (users, channels): one harness page per Slack page."""

    method: str
    key: str
    params: dict[str, Any] = {}

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        reader = self.reader(context)
        cursor = str((context.cursor or {}).get("cursor") or "")
        if not cursor:
            # Once per run, before any page: checks the token (with a clear error) and
            # keeps the workspace URL that message permalinks are made from.
            answer = yield from reader.call("auth.test", {}, None)
            reader.client.remember_workspace(answer)
        while True:
            params = {**self.params, "limit": LIST_LIMIT}
            if cursor:
                params["cursor"] = cursor
            answer = yield from reader.call(self.method, params, {"cursor": cursor})
            reader.add(listed(answer, self.key, self.method))
            cursor = next_cursor(answer)
            if not cursor:
                yield from reader.finish()
                return
            yield reader.page({"cursor": cursor})


@register
class UsersStream(ListStream):
    """`users.list` → an Identity per Slack user (bots and deactivated users included)."""

    entity = "users"
    model = Identity
    method = "users.list"
    key = "members"

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.user_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.identity_rows(record)


@register
class ChannelsStream(ListStream):
    """`conversations.list`: public channels, and the private ones the bot is in."""

    entity = "channels"
    model = ChatChannel
    method = "conversations.list"
    key = "channels"
    params = {"types": "public_channel,private_channel", "exclude_archived": False}

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.channel_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.channel_rows(record)


class HistoryPosition:
    """Where a messages sync is: the next history page, and the threads still to read.

    Stored as the run's cursor after every page. `history` is Slack's cursor for
    the next history page; `latest` the ts of the oldest message read, to go on
    from should Slack refuse an old cursor; `threads` the parents whose replies
    are still to read, `replies` Slack's cursor within the first of them.
    """

    def __init__(self, cursor: dict[str, Any] | None) -> None:
        cursor = cursor or {}
        self.history = str(cursor.get("history") or "")
        self.latest = str(cursor.get("latest") or "")
        self.history_done = bool(cursor.get("history_done", False))
        self.threads = [str(ts) for ts in cursor.get("threads") or []]
        self.replies = str(cursor.get("replies") or "")
        self.team_url = str(cursor.get("team_url") or "")

    @property
    def finished(self) -> bool:
        return self.history_done and not self.threads

    def as_cursor(self) -> dict[str, Any] | None:
        if self.finished:
            return None
        return {
            "history": self.history,
            "latest": self.latest,
            "history_done": self.history_done,
            "threads": list(self.threads),
            "replies": self.replies,
            "team_url": self.team_url,
        }


@register
class MessagesStream(SlackStream):
    """A channel's messages from `conversations.history` (newest first, from the checkpoint
    on), and the replies of each thread among them from `conversations.replies`."""

    entity = "messages"
    model = ChatMessage
    scoped = True
    # A ts is given when Slack receives a message; a minute absorbs one that becomes
    # visible a moment after a later one. Re-reads are absorbed as unchanged rows.
    overlap = dt.timedelta(minutes=1)
    # An edit older than the stored one (an Events API delivery arriving late) is skipped.
    version_field = "edited_at"

    def configured_scopes(self) -> list[str]:
        return configured_channels()

    def natural_key(self, record: dict[str, Any]) -> str:
        return normalize.message_key(record)

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        return normalize.message_rows(record)

    def record_time(self, record: dict[str, Any]) -> dt.datetime | None:
        return normalize.message_time(record)

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        channel_id, channel_name = known_channel(context.scope)
        limit = history_limit()
        reader = self.reader(context)
        try:
            yield from self._read_channel(reader, context, channel_id, channel_name, limit)
        finally:
            reader.close()

    def _read_channel(
        self, reader: Reader, context: FetchContext, channel_id: str, channel_name: str, limit: int
    ) -> Iterator[Page]:
        position = HistoryPosition(context.cursor)
        if not position.team_url:
            position.team_url = yield from self._team_url(reader)
        oldest = ""
        if context.since is not None and not context.full:
            oldest = normalize.datetime_to_ts(context.since)

        def wrap(message: dict[str, Any]) -> dict[str, Any]:
            return normalize.with_channel(
                message, channel_id, channel_name, team_url=position.team_url
            )

        while not position.finished:
            if position.threads:
                replies = yield from self._threads(reader, channel_id, position, limit)
                reader.add([wrap(message) for message in replies])
            else:
                messages = yield from self._history(reader, channel_id, position, limit, oldest)
                reader.add([wrap(message) for message in messages if normalize.is_kept(message)])
            if reader.full and not position.finished:
                yield reader.page(position.as_cursor())
        yield from reader.finish()

    @staticmethod
    def _team_url(reader: Reader) -> Generator[Page, None, str]:
        """The workspace URL for permalinks: as the channels sync kept it, else asked once."""
        workspace = reader.client.stored_workspace()
        if workspace is None:
            answer = yield from reader.call("auth.test", {}, None)
            workspace = reader.client.remember_workspace(answer)
        return workspace.url

    def _history(
        self,
        reader: Reader,
        channel_id: str,
        position: HistoryPosition,
        limit: int,
        oldest: str,
    ) -> Messages:
        """The next page of the channel's history, newest first. Moves `position` on past
        it, and queues the threads among its messages."""
        params: dict[str, Any] = {"channel": channel_id, "limit": limit}
        if oldest:
            params["oldest"] = oldest
        if position.history:
            params["cursor"] = position.history
        elif position.latest:
            params["latest"] = position.latest
        try:
            answer = yield from reader.call("conversations.history", params, position.as_cursor())
        except SlackError as error:
            if error.code == "invalid_cursor" and position.history:
                # An old cursor Slack no longer takes: go on from the oldest ts read.
                position.history = ""
                return []
            raise self._channel_error(error, channel_id) from None
        messages = listed(answer, "messages", "conversations.history")
        dated = [m for m in messages if isinstance(m.get("ts"), str)]
        if dated:
            position.latest = min(m["ts"] for m in dated)
        position.history = next_cursor(answer)
        position.history_done = not position.history and not answer.get("has_more")
        if not position.history and answer.get("has_more") and not dated:
            raise TransientError("conversations.history said has_more but sent no message")
        position.threads.extend(
            m["ts"] for m in dated if _has_replies(m) and m["ts"] not in position.threads
        )
        return messages

    def _threads(
        self, reader: Reader, channel_id: str, position: HistoryPosition, limit: int
    ) -> Messages:
        """The next page of the first queued thread. With the pace off, the first pages of
        the threads queued after it are asked meanwhile, in the background."""
        if reader.can_overlap(REPLIES):
            upcoming = position.threads[1 if position.replies else 0 : PREFETCH_THREADS]
            reader.prefetch(REPLIES, [_replies_params(channel_id, ts, limit) for ts in upcoming])
        return (yield from self._replies(reader, channel_id, position, limit))

    def _replies(
        self, reader: Reader, channel_id: str, position: HistoryPosition, limit: int
    ) -> Messages:
        """The next page of the first queued thread; its parent came with the history."""
        parent = position.threads[0]
        params = _replies_params(channel_id, parent, limit)
        if position.replies:
            params["cursor"] = position.replies
        try:
            answer = yield from reader.call("conversations.replies", params, position.as_cursor())
        except SlackError as error:
            self._refused_thread(error, parent, position, channel_id)
            return []
        return self._thread_page(answer, parent, position)

    def _refused_thread(
        self, error: SlackError, parent: str, position: HistoryPosition, channel_id: str
    ) -> None:
        """Slack refused a replies request: a thread deleted meanwhile is skipped, an old
        cursor starts the thread again; anything else fails the run."""
        if error.code == "thread_not_found":
            # The parent was deleted since the history was read: nothing to read.
            position.threads.remove(parent)
            position.replies = ""
            return
        if error.code == "invalid_cursor" and position.replies:
            position.replies = ""  # read the thread again from its start
            return
        raise self._channel_error(error, channel_id) from None

    @staticmethod
    def _thread_page(
        answer: dict[str, Any], parent: str, position: HistoryPosition
    ) -> list[dict[str, Any]]:
        """A replies page of `parent` → its replies; the position moves past it when it was
        the thread's last page, else keeps the thread first with the page's cursor."""
        messages = listed(answer, "messages", REPLIES)
        cursor = next_cursor(answer)
        position.threads.remove(parent)
        if cursor:
            position.threads.insert(0, parent)
        position.replies = cursor
        return [m for m in messages if m.get("ts") != parent]

    @staticmethod
    def _channel_error(error: SlackError, channel_id: str) -> PermanentError:
        template = CHANNEL_ERRORS.get(error.code)
        if template is None:
            return error
        return PermanentError(f"{error.method}: {template.format(channel=channel_id)}.")


def _replies_params(channel_id: str, parent: str, limit: int) -> dict[str, Any]:
    return {"channel": channel_id, "ts": parent, "limit": limit}


def _has_replies(message: dict[str, Any]) -> bool:
    """A thread parent with replies: the only messages worth a conversations.replies call."""
    count = message.get("reply_count")
    return (
        isinstance(count, int)
        and count > 0
        and message.get("thread_ts", message.get("ts")) == message.get("ts")
    )
