from __future__ import annotations

import datetime as dt
import email.utils
import random

import pytest

from ingestion.backoff import backoff_seconds, retry_after_seconds


@pytest.mark.parametrize(("attempt", "nominal"), [(1, 2), (2, 4), (3, 8), (4, 16)])
def test_backoff_doubles_from_two_seconds_with_at_most_half_again_of_jitter(attempt, nominal):
    waits = [backoff_seconds(attempt, rng=random.Random(seed)) for seed in range(50)]
    assert min(waits) >= nominal
    assert max(waits) <= nominal * 1.5
    assert len(set(waits)) > 1


def test_backoff_is_capped():
    assert backoff_seconds(40, cap=600) == 600


def test_backoff_never_comes_back_before_retry_after():
    assert backoff_seconds(1, retry_after=120) == 120


def test_backoff_ignores_a_retry_after_shorter_than_its_own_wait():
    assert backoff_seconds(3, retry_after=1, rng=random.Random(1)) >= 8


def test_backoff_counts_attempts_from_one():
    with pytest.raises(ValueError, match="counts from 1"):
        backoff_seconds(0)


def test_retry_after_in_seconds_is_read_whatever_the_header_case():
    assert retry_after_seconds({"retry-after": "42"}) == 42.0
    assert retry_after_seconds({"Retry-After": " 7 "}) == 7.0


def test_retry_after_as_a_one_item_list_is_read():
    assert retry_after_seconds({"Retry-After": ["30"]}) == 30.0


def test_retry_after_as_an_http_date_is_the_seconds_until_then():
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)

    seconds = retry_after_seconds({"Retry-After": email.utils.format_datetime(moment)})

    assert 110 <= seconds <= 120


def test_retry_after_in_the_past_or_negative_is_zero():
    assert retry_after_seconds({"Retry-After": "-5"}) == 0.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_a_missing_or_unreadable_retry_after_is_none():
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds({"Retry-After": "soon"}) is None
