"""Slack timestamps become exact UTC times; the ts string itself is kept as the key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from tracking.models import ChatMessage, slack_ts_to_datetime


def test_a_slack_ts_is_exact_to_the_microsecond():
    # As a float, 1700000000.123456 reads back as ...123455 or ...123457.
    assert slack_ts_to_datetime("1700000000.123456") == dt.datetime(
        2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    ("ts", "microsecond"),
    [("1700000000.000001", 1), ("1700000000.999999", 999999), ("1700000000.100000", 100000)],
)
def test_every_microsecond_survives_the_conversion(ts, microsecond):
    assert slack_ts_to_datetime(ts).microsecond == microsecond


def test_a_ts_without_a_fraction_is_a_whole_second():
    assert slack_ts_to_datetime("1700000000") == dt.datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC
    )


def test_the_time_is_timezone_aware_utc():
    assert slack_ts_to_datetime("1700000000.123456").utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "ts",
    [
        "",
        "abc",
        "1700000000.12x",
        "1700000000.1234567",
        " 1700000000.123456",
        "1700000000.123456\n",
        "1_700_000_000",
        "1e9",
        "-1700000000.1",
        "nan",
        "inf",
        "9" * 30,
        None,
    ],
)
def test_something_that_is_not_a_slack_ts_is_rejected(ts):
    with pytest.raises(ValidationError) as error:
        slack_ts_to_datetime(ts)

    assert error.value.messages == [f"{ts!r} is not a Slack timestamp."]


def test_the_message_key_keeps_the_ts_string_exactly():
    assert ChatMessage.natural_key_for("C0123", "1700000000.100000") == "C0123:1700000000.100000"
