from __future__ import annotations

import random

import pytest

from ingestion.backoff import backoff_seconds


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
