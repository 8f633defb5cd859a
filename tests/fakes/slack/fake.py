"""`FakeSlack`: a workspace a test can read and change, and the Web API methods the hub calls.

Methods (all at `/api/<method>`, GET query or POST form, as slack-sdk sends them):
`auth.test`, `users.list`, `conversations.list`, `conversations.history`,
`conversations.replies`. Answers are Slack's: HTTP 200 with `ok: true` and the
method's keys, or HTTP 200 with `{"ok": false, "error": "<code>"}`; a rate
limit is HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`.

What a test can make happen:
- tokens: `revoke_token` (then `invalid_auth`); no token at all is `not_authed`;
  `missing_scopes` ("channels:history" → `missing_scope`; "users:read.email" →
  no emails in `users.list`);
- errors: `fail_next(method, error, times, after=0, **extra)` answers `ok: false`;
  `replace_next(method, payload)` answers a payload of the test's making (a broken one);
  `expire_cursors()` makes every history and replies cursor handed out so far invalid
  (`invalid_cursor`), as Slack's do in time;
- rate limits per method: `rate_limit_next(method, retry_after, times)`, and a real
  per-minute window per (token, method) with `per_minute={"conversations.history": 1}`;
- the 2025 limit of 15 messages a page for apps outside the Marketplace: `page_cap=15`;
- data: `post`, `edit`, `delete`, `add_user`, `update_user`, `add_channel`;
  the fault injection of the fakes framework (`server.faults`) applies as everywhere.

https://docs.slack.dev/reference/methods/conversations.history
https://docs.slack.dev/apis/web-api/rate-limits
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.app import HTTPError, LiveCredentialsApp, Request, Response, credentials_in
from tests.fakes.pagination import cursor_page
from tests.fakes.slack.data import (
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_NAMES,
    GENERATED_UNTIL,
    TEAM_ID,
    TEAM_URL,
    Channel,
    bot_message,
    channel_json,
    generate_messages,
    generate_users,
    summarize_thread,
    ts_of,
    user_json,
    user_message,
)

DEFAULT_TOKEN = "xoxb-test-token"
# conversations.history and .replies take at most this many a page.
MAX_LIMIT = 999


class SlackAnswer(Exception):
    """Raised by a handler: answer `{"ok": false, "error": code, **extra}` (HTTP 200)."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


def slack_error(code: str, status: int = 200, headers: dict[str, str] | None = None, **extra):
    return Response.json({"ok": False, "error": code, **extra}, status=status, headers=headers)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.lower() in ("1", "true", "yes")


def _encode_ts_cursor(ts: str) -> str:
    """Slack's history cursors look like base64("next_ts:<ts without its dot>")."""
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _decode_ts_cursor(cursor: str) -> str:
    try:
        label, _, digits = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SlackAnswer("invalid_cursor") from None
    if label != "next_ts" or not digits.isdigit() or len(digits) <= 6:
        raise SlackAnswer("invalid_cursor")
    return f"{digits[:-6]}.{digits[-6:]}"


class SlackApp(LiveCredentialsApp):
    """A FakeApp whose tokens change at run time and whose auth errors are Slack's."""

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__("slack", fake)

    def is_authorized(self, request: Request) -> bool:
        scheme, credential = credentials_in(request)
        return scheme == "bearer" and self.fake.accepts(credential)

    def unauthorized(self, request: Request) -> Response:
        # Slack answers 200 with ok: false, not 401.
        return slack_error("invalid_auth" if credentials_in(request)[1] else "not_authed")


class FakeSlack:
    """A fake Slack workspace for tests and benchmarks; every public method is thread-safe."""

    def __init__(
        self,
        *,
        channels: int = 3,
        messages: int = 30,
        thread_every: int = 10,
        replies: int = 3,
        users: int = 5,
        seed: int = 1,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        page_cap: int | None = None,
        per_minute: dict[str, int] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self.tokens: set[str] = set(tokens)
        self.missing_scopes: set[str] = set()
        self.page_cap = page_cap
        self.per_minute: dict[str, int] = dict(per_minute or {})
        self.now = GENERATED_UNTIL
        self._ticks = 0
        self.users: list[dict[str, Any]] = generate_users(users)
        people = [user["id"] for user in self.users if not user["is_bot"]]
        self.channels: dict[str, Channel] = {}
        for index in range(channels):
            name = CHANNEL_NAMES[index] if index < len(CHANNEL_NAMES) else f"channel-{index:03d}"
            channel = Channel(channel_json(f"C{index + 1:08d}", name, members=len(people)))
            generate_messages(
                channel,
                count=messages,
                thread_every=thread_every,
                replies=replies,
                user_ids=people,
                seed=seed,
                channel_index=index,
            )
            self.channels[channel.id] = channel
        # Every answered call: (method, its parameters), and counts by method.
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.counts: Counter[str] = Counter()
        # Per method, what the next calls answer instead: None (the real answer), an error
        # code and its extra keys, or a whole payload.
        self._scripted: dict[str, deque[tuple[str, Any] | None]] = defaultdict(deque)
        # History and replies cursors handed out and still valid.
        self._cursors: set[str] = set()
        self._limited: dict[str, deque[int]] = defaultdict(deque)
        self._windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.app = _build_app(self)

    # --- tokens, scopes, failures, limits ------------------------------------------------
    def accepts(self, token: str) -> bool:
        with self._lock:
            return token in self.tokens

    def revoke_token(self, token: str = DEFAULT_TOKEN) -> None:
        with self._lock:
            self.tokens.discard(token)

    def fail_next(
        self, method: str, error: str, times: int = 1, *, after: int = 0, **extra: Any
    ) -> None:
        """After `after` more calls of `method` answered for real, the next `times` answer
        `{"ok": false, "error": error, **extra}`."""
        with self._lock:
            self._script(method, after, [("error", (error, extra))] * times)

    def replace_next(self, method: str, payload: Any, times: int = 1, *, after: int = 0) -> None:
        """The next `times` calls of `method` (after `after` real ones) answer `payload` as is."""
        with self._lock:
            self._script(method, after, [("payload", payload)] * times)

    def _script(self, method: str, after: int, answers: list[tuple[str, Any]]) -> None:
        queue = self._scripted[method]
        queue.extend([None] * max(0, after - len(queue)))
        queue.extend(answers)

    def expire_cursors(self) -> None:
        with self._lock:
            self._cursors.clear()

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` answer 429 with this Retry-After."""
        with self._lock:
            self._limited[method].extend([retry_after] * times)

    def calls_of(self, method: str) -> list[dict[str, str]]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    # --- reading ---------------------------------------------------------------------------
    def channel(self, channel_id: str) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise KeyError(f"no channel {channel_id!r}") from None

    def channel_id(self, name: str) -> str:
        for channel in self.channels.values():
            if channel.json["name"] == name:
                return channel.id
        raise KeyError(f"no channel named {name!r}")

    def message(self, channel_id: str, ts: str) -> dict[str, Any]:
        with self._lock:
            found = self.channel(channel_id).find(ts)
            if found is None:
                raise KeyError(f"no message {ts} in {channel_id}")
            return found

    def threads(self, channel_id: str) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {ts: list(replies) for ts, replies in self.channel(channel_id).replies.items()}

    # --- mutators (each moves the clock a second on) ---------------------------------------
    def _tick(self) -> str:
        self.now += 1
        self._ticks += 1
        return ts_of(self.now, self._ticks % 1_000_000)

    def add_user(
        self,
        name: str,
        *,
        email: str = "",
        real_name: str = "",
        is_bot: bool = False,
        deleted: bool = False,
        display_name: str | None = None,
    ) -> str:
        with self._lock:
            user_id = f"U{len(self.users) + 1:08d}X"
            user = user_json(
                user_id,
                name,
                real_name or name,
                email,
                is_bot=is_bot,
                deleted=deleted,
                display_name=display_name,
            )
            self.users.append(user)
            return user_id

    def update_user(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """Change a user's top-level fields (`deleted=True`) or, with `profile={…}`, its profile."""
        with self._lock:
            user = next((u for u in self.users if u["id"] == user_id), None)
            if user is None:
                raise KeyError(f"no user {user_id!r}")
            user["profile"].update(fields.pop("profile", {}))
            user.update(fields)
            return user

    def add_channel(
        self, name: str, *, is_private: bool = False, is_member: bool = True, **fields: Any
    ) -> str:
        with self._lock:
            channel_id = f"C{len(self.channels) + 1:08d}"
            json_ = channel_json(channel_id, name, is_private=is_private, is_member=is_member)
            json_.update(fields)
            self.channels[channel_id] = Channel(json_)
            return channel_id

    def post(
        self,
        channel_id: str,
        text: str,
        *,
        user: str | None = "U00000001",
        bot_id: str | None = None,
        username: str = "",
        subtype: str | None = None,
        thread_ts: str | None = None,
        **extra: Any,
    ) -> str:
        """A new message now (a reply when `thread_ts`); returns its ts.

        With `bot_id` and no `user`: an integration's post (subtype bot_message).
        """
        with self._lock:
            channel = self.channel(channel_id)
            ts = self._tick()
            if bot_id and user is None:
                message = bot_message(bot_id, username or "bot", text, ts, **extra)
            else:
                message = user_message(user or "", text, ts, **extra)
                if bot_id:
                    message["bot_id"] = bot_id
            if subtype:
                message["subtype"] = subtype
            if thread_ts is None:
                channel.insert(message)
                return ts
            parent = channel.find(thread_ts)
            if parent is None or parent.get("thread_ts", thread_ts) != thread_ts:
                raise KeyError(f"no thread {thread_ts} in {channel_id}")
            message.update(thread_ts=thread_ts, parent_user_id=parent.get("user", ""))
            thread = channel.replies.setdefault(thread_ts, [])
            thread.append(message)
            summarize_thread(parent, thread)
            return ts

    def edit(self, channel_id: str, ts: str, text: str) -> str:
        """Edit a message now, as its author does; returns the edit's ts."""
        with self._lock:
            message = self.message(channel_id, ts)
            edited_ts = self._tick()
            message["text"] = text
            message["edited"] = {"user": message.get("user", ""), "ts": edited_ts}
            return edited_ts

    def delete(self, channel_id: str, ts: str) -> None:
        """Delete a message. A thread parent with replies becomes Slack's tombstone."""
        with self._lock:
            channel = self.channel(channel_id)
            for parent_ts, thread in channel.replies.items():
                kept = [reply for reply in thread if reply["ts"] != ts]
                if len(kept) != len(thread):
                    channel.replies[parent_ts] = kept
                    summarize_thread(channel.find(parent_ts) or {}, kept)
                    return
            index = bisect.bisect_left(channel.stamps, ts)
            if index >= len(channel.stamps) or channel.stamps[index] != ts:
                raise KeyError(f"no message {ts} in {channel_id}")
            if channel.replies.get(ts):
                tombstone = {
                    "type": "message",
                    "subtype": "tombstone",
                    "text": "This message was deleted.",
                    "user": "USLACKBOT",
                    "hidden": True,
                    "ts": ts,
                }
                summarize_thread(tombstone, channel.replies[ts])
                channel.messages[index] = tombstone
                return
            del channel.stamps[index]
            del channel.messages[index]

    # --- answering -------------------------------------------------------------------------
    def answer(self, request: Request, method: str) -> Response:
        params = _params(request)
        token = credentials_in(request)[1]
        with self._lock:
            self.calls.append((method, params))
            self.counts[method] += 1
            limited = self._rate_limited(token, method)
            scripted = None
            if limited is None and self._scripted[method]:
                scripted = self._scripted[method].popleft()
        if limited is not None:
            return slack_error("ratelimited", 429, {"Retry-After": str(limited)})
        if scripted is not None:
            kind, value = scripted
            if kind == "payload":
                return Response.json(value)
            return slack_error(value[0], **value[1])
        handler = HANDLERS.get(method)
        if handler is None:
            return slack_error("unknown_method", req_method=method)
        try:
            # Serialized under the lock: a test changing the data meanwhile never tears a page.
            with self._lock:
                return Response.json({"ok": True, **handler(self, params)})
        except SlackAnswer as answer:
            return slack_error(answer.code, **answer.extra)

    def _rate_limited(self, token: str, method: str) -> int | None:
        """Retry-After seconds when this call is over a limit (called with the lock held)."""
        if self._limited[method]:
            return self._limited[method].popleft()
        per_minute = self.per_minute.get(method)
        if not per_minute:
            return None
        window = self._windows[(token, method)]
        now = time.monotonic()
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= per_minute:
            return max(1, math.ceil(window[0] + 60 - now))
        window.append(now)
        return None

    def _page_limit(self, params: dict[str, str], default: int) -> int:
        limit = _limit(params, default)
        if limit < 1:
            raise SlackAnswer("invalid_limit")
        limit = min(limit, MAX_LIMIT)
        return min(limit, self.page_cap) if self.page_cap else limit

    def _readable(self, params: dict[str, str]) -> Channel:
        channel = self.channels.get(params.get("channel") or "")
        if channel is None or (channel.json["is_private"] and not channel.json["is_member"]):
            raise SlackAnswer("channel_not_found")
        if not channel.json["is_member"]:
            raise SlackAnswer("not_in_channel")
        scope = "groups:history" if channel.json["is_private"] else "channels:history"
        if scope in self.missing_scopes:
            raise SlackAnswer("missing_scope", needed=scope, provided="channels:read,users:read")
        return channel

    # auth.test
    def auth_test(self, params: dict[str, str]) -> dict[str, Any]:
        return {
            "url": TEAM_URL,
            "team": "Hub Test",
            "user": "hubbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    # users.list (cursor paging; emails only with users:read.email)
    def users_list(self, params: dict[str, str]) -> dict[str, Any]:
        page, cursor = _cursor_page(self.users, params, self._list_limit(params, 0))
        members = page
        if "users:read.email" in self.missing_scopes:
            members = [
                {**member, "profile": {k: v for k, v in member["profile"].items() if k != "email"}}
                for member in page
            ]
        return {
            "members": members,
            "cache_ts": self.now,
            "response_metadata": {"next_cursor": cursor or ""},
        }

    # conversations.list (public channels, and private ones the bot is in)
    def conversations_list(self, params: dict[str, str]) -> dict[str, Any]:
        types = set((params.get("types") or "public_channel").split(","))
        exclude_archived = _flag(params.get("exclude_archived"), False)
        chosen = []
        for channel in self.channels.values():
            json_ = channel.json
            kind = "private_channel" if json_["is_private"] else "public_channel"
            if kind not in types or (json_["is_private"] and not json_["is_member"]):
                continue
            if exclude_archived and json_["is_archived"]:
                continue
            chosen.append(json_)
        page, cursor = _cursor_page(chosen, params, self._list_limit(params, 100))
        return {"channels": page, "response_metadata": {"next_cursor": cursor or ""}}

    def _list_limit(self, params: dict[str, str], default: int) -> int:
        limit = _limit(params, default)
        # users.list with no limit answers everyone at once; a limit caps at 1000.
        return min(limit, 1000) if limit > 0 else max(len(self.users), 1)

    # conversations.history (newest first, between oldest and latest; replies left out)
    def conversations_history(self, params: dict[str, str]) -> dict[str, Any]:
        channel = self._readable(params)
        limit = self._page_limit(params, 100)
        inclusive = _flag(params.get("inclusive"), False)
        oldest = params.get("oldest") or "0"
        latest = params.get("latest") or ""
        stamps = channel.stamps
        if params.get("cursor"):
            end = bisect.bisect_right(stamps, self._position(params["cursor"]))
        elif latest:
            side = bisect.bisect_right if inclusive else bisect.bisect_left
            end = side(stamps, _ts_param(latest, "invalid_ts_latest"))
        else:
            end = len(stamps)
        oldest_ts = _ts_param(oldest, "invalid_ts_oldest")
        side = bisect.bisect_left if inclusive else bisect.bisect_right
        start = side(stamps, oldest_ts)
        first = max(start, end - limit)
        messages = channel.messages[first:end][::-1]
        answer: dict[str, Any] = {
            "messages": messages,
            "has_more": first > start,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if first > start:
            answer["response_metadata"] = {"next_cursor": self._cursor(stamps[first - 1])}
        return answer

    # conversations.replies (the parent, then its replies, oldest first)
    def conversations_replies(self, params: dict[str, str]) -> dict[str, Any]:
        channel = self._readable(params)
        parent_ts = params.get("ts") or ""
        parent = None
        index = bisect.bisect_left(channel.stamps, parent_ts)
        if index < len(channel.stamps) and channel.stamps[index] == parent_ts:
            parent = channel.messages[index]
        if parent is None:
            raise SlackAnswer("thread_not_found")
        limit = self._page_limit(params, 1000)
        thread = channel.replies.get(parent_ts, [])
        stamps = [reply["ts"] for reply in thread]
        start = 0
        items: list[dict[str, Any]] = []
        if params.get("cursor"):
            start = bisect.bisect_left(stamps, self._position(params["cursor"]))
        else:
            # The parent comes first on the first page only.
            items.append(parent)
        end = min(len(thread), start + limit - len(items))
        items.extend(thread[start:end])
        answer: dict[str, Any] = {
            "messages": items,
            "has_more": end < len(thread),
        }
        if end < len(thread):
            answer["response_metadata"] = {"next_cursor": self._cursor(stamps[end])}
        return answer

    def _cursor(self, ts: str) -> str:
        cursor = _encode_ts_cursor(ts)
        self._cursors.add(cursor)
        return cursor

    def _position(self, cursor: str) -> str:
        """The ts a history or replies cursor stands for; invalid_cursor for one never handed
        out, or handed out before `expire_cursors`."""
        if cursor not in self._cursors:
            raise SlackAnswer("invalid_cursor")
        return _decode_ts_cursor(cursor)


def _limit(params: dict[str, str], default: int) -> int:
    try:
        return int(params.get("limit") or default)
    except ValueError:
        raise SlackAnswer("invalid_limit") from None


def _cursor_page(
    items: list[dict[str, Any]], params: dict[str, str], limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A users.list / conversations.list page; a forged cursor is Slack's invalid_cursor."""
    try:
        return cursor_page(items, params.get("cursor"), limit)
    except HTTPError:
        raise SlackAnswer("invalid_cursor") from None


def _ts_param(value: str, error: str) -> str:
    whole, _, fraction = value.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 6:
        raise SlackAnswer(error)
    return ts_of(int(whole), int(fraction.ljust(6, "0") or 0))


def _params(request: Request) -> dict[str, str]:
    """Query parameters and form fields (slack-sdk POSTs a form), the last value of each."""
    params = {name: values[-1] for name, values in request.query.items()}
    content_type = request.headers.get("Content-Type", "")
    if request.body and "json" in content_type:
        body = request.json()
        if isinstance(body, dict):
            params.update({name: str(value) for name, value in body.items()})
    elif request.body:
        form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        params.update({name: values[-1] for name, values in form.items()})
    return params


HANDLERS: dict[str, Callable[[FakeSlack, dict[str, str]], dict[str, Any]]] = {
    "auth.test": FakeSlack.auth_test,
    "users.list": FakeSlack.users_list,
    "conversations.list": FakeSlack.conversations_list,
    "conversations.history": FakeSlack.conversations_history,
    "conversations.replies": FakeSlack.conversations_replies,
}


def _build_app(fake: FakeSlack) -> SlackApp:
    app = SlackApp(fake)

    def serve(request: Request) -> Response:
        return fake.answer(request, request.path_params["method"])

    for verb in ("GET", "POST"):
        app.add_route(verb, "/api/{method}", serve)
    return app
