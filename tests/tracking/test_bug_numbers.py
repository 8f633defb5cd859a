"""Bugs get human numbers BUG-YYYYMM-NNNN, sequential per month (UTC), with no gaps."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.db import IntegrityError, transaction

from tests.tracking.factories import make_bug
from tracking.models import Bug, allocate_bug_numbers

pytestmark = pytest.mark.django_db

MARCH_2024 = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


def test_a_new_bug_gets_a_number_in_the_documented_format():
    bug = make_bug(created_at=MARCH_2024)

    assert re.fullmatch(r"BUG-\d{6}-\d{4}", bug.number)
    assert bug.number == "BUG-202403-0001"


def test_numbers_are_sequential_within_a_month():
    numbers = [make_bug(created_at=MARCH_2024).number for _ in range(3)]

    assert numbers == ["BUG-202403-0001", "BUG-202403-0002", "BUG-202403-0003"]


def test_the_number_is_kept_when_the_bug_is_saved_again():
    bug = make_bug(created_at=MARCH_2024)

    bug.title = "Renamed"
    bug.save()
    bug.refresh_from_db()

    assert bug.number == "BUG-202403-0001"
    assert make_bug(created_at=MARCH_2024).number == "BUG-202403-0002"


def test_numbering_restarts_when_a_new_month_begins_in_utc():
    last_second_of_january = dt.datetime(2024, 1, 31, 23, 59, 59, tzinfo=dt.UTC)
    first_moment_of_february = dt.datetime(2024, 2, 1, 0, 0, tzinfo=dt.UTC)
    make_bug(created_at=last_second_of_january)

    january = make_bug(created_at=last_second_of_january)
    february = make_bug(created_at=first_moment_of_february)

    assert january.number == "BUG-202401-0002"
    assert february.number == "BUG-202402-0001"


def test_a_time_in_another_zone_is_numbered_by_its_utc_month():
    # 01:30 on 1 February in Helsinki is still 31 January in UTC.
    helsinki = zoneinfo.ZoneInfo("Europe/Helsinki")
    early_february_in_helsinki = dt.datetime(2024, 2, 1, 1, 30, tzinfo=helsinki)
    # 20:00 on 31 March in New York is already 1 April in UTC.
    new_york = zoneinfo.ZoneInfo("America/New_York")
    late_march_in_new_york = dt.datetime(2024, 3, 31, 20, 0, tzinfo=new_york)

    assert make_bug(created_at=early_february_in_helsinki).number == "BUG-202401-0001"
    assert make_bug(created_at=late_march_in_new_york).number == "BUG-202404-0001"


def test_a_rolled_back_bug_gives_its_number_back():
    make_bug(created_at=MARCH_2024)

    with pytest.raises(RuntimeError), transaction.atomic():
        make_bug(created_at=MARCH_2024)
        raise RuntimeError("the caller's transaction fails after the bug was saved")

    assert make_bug(created_at=MARCH_2024).number == "BUG-202403-0002"
    assert list(Bug.objects.values_list("number", flat=True).order_by("number")) == [
        "BUG-202403-0001",
        "BUG-202403-0002",
    ]


def test_a_bug_that_fails_to_save_takes_no_number():
    make_bug(created_at=MARCH_2024, source="jira", external_id="10001")

    with pytest.raises(IntegrityError), transaction.atomic():
        make_bug(created_at=MARCH_2024, source="jira", external_id="10001")

    assert make_bug(created_at=MARCH_2024).number == "BUG-202403-0002"


def test_saving_again_after_a_failed_save_takes_a_fresh_number():
    make_bug(created_at=MARCH_2024, source="jira", external_id="10001")
    rejected = Bug(title="Duplicate", created_at=MARCH_2024, source="jira", external_id="10001")
    with pytest.raises(IntegrityError), transaction.atomic():
        rejected.save()

    rejected.external_id = "10002"
    rejected.save()
    following = make_bug(created_at=MARCH_2024)

    assert rejected.number == "BUG-202403-0002"
    assert following.number == "BUG-202403-0003"


def test_a_block_of_numbers_is_consecutive_and_later_bugs_follow_it():
    make_bug(created_at=MARCH_2024)

    block = allocate_bug_numbers(MARCH_2024, 3)
    following = make_bug(created_at=MARCH_2024)

    assert block == ["BUG-202403-0002", "BUG-202403-0003", "BUG-202403-0004"]
    assert following.number == "BUG-202403-0005"


def test_a_block_of_numbers_counts_in_the_month_it_is_asked_for():
    make_bug(created_at=MARCH_2024)

    block = allocate_bug_numbers(dt.datetime(2024, 4, 1, tzinfo=dt.UTC), 2)

    assert block == ["BUG-202404-0001", "BUG-202404-0002"]


def test_an_empty_block_reserves_nothing():
    assert allocate_bug_numbers(MARCH_2024, 0) == []
    assert make_bug(created_at=MARCH_2024).number == "BUG-202403-0001"


def test_a_bug_saved_with_a_number_from_a_block_keeps_it():
    (number,) = allocate_bug_numbers(MARCH_2024, 1)

    bug = Bug(title="Imported", created_at=MARCH_2024, number=number)
    bug.save()

    assert Bug.objects.get(pk=bug.pk).number == "BUG-202403-0001"
    assert make_bug(created_at=MARCH_2024).number == "BUG-202403-0002"
