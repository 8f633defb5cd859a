"""The fake Slack (tests/fakes/slack) answers as Slack documents, for slack-sdk's WebClient.

The hub's Slack source is tested against this fake; these tests pin the fake
itself to Slack's shapes and behaviours: cursor paging (slack-sdk's own
iteration follows it), history bounds, threads, `ok: false` errors, token
checks and 429s with Retry-After.
"""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler

from tests.fakes.slack import DEFAULT_TOKEN, FakeSlack
from tests.slack.conftest import fixture

CHANNEL = "C00000001"


@pytest.fixture
def fake() -> FakeSlack:
    return FakeSlack(channels=2, messages=40, thread_every=10, replies=3, users=3)


@pytest.fixture
def client(fake, fake_server) -> WebClient:
    server = fake_server(fake.app)
    return WebClient(token=DEFAULT_TOKEN, base_url=f"{server.url}/api/", retry_handlers=[])


def error_of(call) -> tuple[int, dict]:
    with pytest.raises(SlackApiError) as failure:
        call()
    return failure.value.response.status_code, failure.value.response.data


def test_history_is_newest_first_and_slack_sdk_pages_through_it(fake, client):
    # slack-sdk's response is one object that each step of the iteration refills.
    pages = [dict(page.data) for page in client.conversations_history(channel=CHANNEL, limit=15)]

    messages = [message for page in pages for message in page["messages"]]
    assert len(pages) == 3
    assert [page["has_more"] for page in pages] == [True, True, False]
    assert [m["ts"] for m in messages] == sorted(fake.channel(CHANNEL).stamps, reverse=True)


def test_history_leaves_thread_replies_out(fake, client):
    answer = client.conversations_history(channel=CHANNEL, limit=999)

    assert all("parent_user_id" not in message for message in answer["messages"])
    parents = [m for m in answer["messages"] if m.get("reply_count")]
    assert len(parents) == 4
    assert all(parent["thread_ts"] == parent["ts"] for parent in parents)


def test_history_keeps_to_oldest_and_latest_exclusively_by_default(fake, client):
    stamps = fake.channel(CHANNEL).stamps

    answer = client.conversations_history(channel=CHANNEL, oldest=stamps[10], latest=stamps[20])
    inclusive = client.conversations_history(
        channel=CHANNEL, oldest=stamps[10], latest=stamps[20], inclusive=True
    )

    assert [m["ts"] for m in answer["messages"]] == stamps[11:20][::-1]
    assert [m["ts"] for m in inclusive["messages"]] == stamps[10:21][::-1]


def test_a_page_cap_holds_pages_to_15_messages_whatever_the_limit(fake, client):
    fake.page_cap = 15

    answer = client.conversations_history(channel=CHANNEL, limit=200)

    assert len(answer["messages"]) == 15
    assert answer["has_more"] is True


def test_replies_give_the_parent_first_then_the_replies_oldest_first(fake, client):
    parent_ts, replies = next(iter(fake.threads(CHANNEL).items()))

    answer = client.conversations_replies(channel=CHANNEL, ts=parent_ts)

    assert [m["ts"] for m in answer["messages"]] == [parent_ts] + [r["ts"] for r in replies]
    assert answer["has_more"] is False


def test_a_long_thread_is_paged_and_later_pages_leave_the_parent_out(fake, client):
    parent = fake.post(CHANNEL, "long")
    for number in range(10):
        fake.post(CHANNEL, f"reply {number}", thread_ts=parent)

    pages = [
        dict(page.data)
        for page in client.conversations_replies(channel=CHANNEL, ts=parent, limit=4)
    ]

    assert [len(page["messages"]) for page in pages] == [4, 4, 3]
    assert pages[0]["messages"][0]["ts"] == parent
    assert all(m["ts"] != parent for page in pages[1:] for m in page["messages"])


def test_an_unknown_thread_is_thread_not_found(client):
    assert error_of(lambda: client.conversations_replies(channel=CHANNEL, ts="1.000001")) == (
        200,
        {"ok": False, "error": "thread_not_found"},
    )


def test_a_forged_or_expired_cursor_is_invalid_cursor(fake, client):
    first = client.conversations_history(channel=CHANNEL, limit=10)
    fake.expire_cursors()
    cursor = first["response_metadata"]["next_cursor"]

    expired = error_of(lambda: client.conversations_history(channel=CHANNEL, cursor=cursor))
    forged = error_of(lambda: client.conversations_history(channel=CHANNEL, cursor="bm9wZQ=="))

    assert expired == forged == (200, {"ok": False, "error": "invalid_cursor"})


def test_a_bad_token_is_invalid_auth_and_none_is_not_authed(fake, fake_server):
    server = fake_server(fake.app)
    url = f"{server.url}/api/"

    bad = error_of(lambda: WebClient(token="xoxb-wrong", base_url=url).auth_test())
    none = error_of(lambda: WebClient(base_url=url).auth_test())

    assert bad == (200, {"ok": False, "error": "invalid_auth"})
    assert none == (200, {"ok": False, "error": "not_authed"})


def test_auth_test_answers_the_keys_of_slacks_example(client):
    answer = client.auth_test()

    assert set(answer.data) == set(fixture("auth_test.json"))


def test_a_missing_scope_names_the_scope_needed(fake, client):
    fake.missing_scopes.add("channels:history")

    status, data = error_of(lambda: client.conversations_history(channel=CHANNEL))

    assert (status, data["error"], data["needed"]) == (200, "missing_scope", "channels:history")
    assert data == fixture("error_missing_scope.json")


def test_a_channel_the_bot_is_not_in_is_not_in_channel(fake, client):
    channel = fake.add_channel("elsewhere", is_member=False)

    assert error_of(lambda: client.conversations_history(channel=channel))[1]["error"] == (
        "not_in_channel"
    )


def test_scripted_errors_and_payloads_answer_in_order(fake, client):
    fake.fail_next("auth.test", "internal_error", after=1)
    fake.replace_next("auth.test", {"ok": True, "odd": 1})

    first = client.auth_test()
    failed = error_of(client.auth_test)
    replaced = client.auth_test()

    assert first["team_id"] == "T0HUBTEST"
    assert failed == (200, {"ok": False, "error": "internal_error"})
    assert replaced.data == {"ok": True, "odd": 1}


def test_a_rate_limit_is_429_with_retry_after_and_slack_sdk_can_wait_it_out(fake, fake_server):
    server = fake_server(fake.app)
    fake.rate_limit_next("conversations.history", retry_after=1)
    client = WebClient(
        token=DEFAULT_TOKEN,
        base_url=f"{server.url}/api/",
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    started = time.monotonic()

    answer = client.conversations_history(channel=CHANNEL)

    assert answer["ok"] is True
    assert time.monotonic() - started >= 1.0
    (limited,) = [r for r in server.requests if r.status == 429]
    assert limited.path == "/api/conversations.history"


def test_a_per_minute_window_limits_each_method_apart(fake, client):
    fake.per_minute = {"conversations.history": 2}

    client.conversations_history(channel=CHANNEL)
    client.conversations_history(channel=CHANNEL)
    status, data = error_of(lambda: client.conversations_history(channel=CHANNEL))
    other = client.conversations_replies(channel=CHANNEL, ts=fake.channel(CHANNEL).stamps[0])

    assert (status, data) == (429, fixture("error_ratelimited.json"))
    assert other["ok"] is True


def test_users_list_pages_with_cursors(fake, client):
    pages = [dict(page.data) for page in client.users_list(limit=2)]

    assert [len(page["members"]) for page in pages] == [2, 2]
    assert pages[-1]["response_metadata"]["next_cursor"] == ""


def test_an_unknown_method_is_unknown_method(client):
    assert error_of(lambda: client.api_call("chat.postMessage"))[1]["error"] == "unknown_method"
