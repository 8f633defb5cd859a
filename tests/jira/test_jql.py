"""The JQL of the issue searches: the lower bound in the user's time zone, to the minute."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from sources.jira.jql import exact_minute, issues_filter, local_minute, ordered
from sources.jira.streams import next_anchor

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jira"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def test_the_bound_is_written_in_the_users_time_zone_rounded_down_to_the_minute():
    moment = utc(2024, 7, 1, 12, 34, 56)

    assert local_minute(moment, "America/Los_Angeles") == "2024-07-01 05:34"
    assert local_minute(moment, "Asia/Kolkata") == "2024-07-01 18:04"
    assert local_minute(moment, "UTC") == "2024-07-01 12:34"


def test_in_the_hour_the_clock_goes_back_the_bound_steps_before_the_repeated_hour():
    # Europe/London goes from 01:59 BST back to 01:00 GMT on 2024-10-27; 00:30 UTC is 01:30
    # BST, which Jira could read as 01:30 GMT, an hour later.
    bound = local_minute(utc(2024, 10, 27, 0, 30), "Europe/London")

    assert bound == "2024-10-27 00:30"


def test_an_unknown_time_zone_moves_the_bound_back_by_the_largest_offset():
    assert local_minute(utc(2024, 7, 1, 12, 34), "Mars/Olympus") == "2024-06-30 22:34"
    assert local_minute(utc(2024, 7, 1, 12, 34), "") == "2024-06-30 22:34"


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        local_minute(dt.datetime(2024, 7, 1), "UTC")


def test_the_filter_names_the_project_and_the_bound():
    jql = issues_filter("ALPHA", utc(2024, 7, 1, 12, 34, 56), "Europe/Berlin")

    assert jql == 'project = "ALPHA" AND updated >= "2024-07-01 14:34"'
    assert ordered(jql) == f"{jql} ORDER BY updated ASC, key ASC"


def test_a_full_read_has_no_bound():
    assert issues_filter("ALPHA", None, "UTC") == 'project = "ALPHA"'


def test_new_sprints_are_searched_whatever_their_issues_change_time():
    jql = issues_filter("ALPHA", utc(2024, 7, 1, 12, 0), "UTC", ["12", "3"])

    assert jql == ('project = "ALPHA" AND (updated >= "2024-07-01 12:00" OR sprint in (3, 12))')


@pytest.mark.parametrize("key", ["alpha", "AL PHA", 'A"B', "1ABC", ""])
def test_a_project_key_that_is_not_one_is_refused(key):
    with pytest.raises(ValueError, match="is not a Jira project key"):
        issues_filter(key, None, "UTC")


def test_the_exact_minute_is_unknown_in_the_repeated_hour():
    assert exact_minute(utc(2024, 10, 27, 1, 45), "Europe/London") is None
    assert exact_minute(utc(2024, 10, 27, 2, 45), "Europe/London") == "2024-10-27 02:45"
    assert exact_minute(utc(2024, 10, 27, 2, 45), "Mars/Olympus") is None


def issue(updated: str) -> dict:
    return {"id": "1", "fields": {"updated": updated}}


def test_a_data_center_page_re_anchors_on_the_minute_of_its_last_issue():
    issues = [
        issue("2024-07-01T10:00:10.000+0000"),
        issue("2024-07-01T10:05:01.000+0000"),
        issue("2024-07-01T10:05:40.000+0000"),
    ]

    assert next_anchor(issues, None, 0, "UTC") == ("2024-07-01 10:05", 2)


def test_a_page_within_the_anchor_minute_moves_the_offset_on():
    issues = [issue("2024-07-01T10:05:01.000+0000"), issue("2024-07-01T10:05:40.000+0000")]

    assert next_anchor(issues, "2024-07-01 10:05", 2, "UTC") == ("2024-07-01 10:05", 4)


def test_an_ambiguous_last_minute_keeps_the_offset_paging():
    # The first issue of the recorded page was updated at 01:45 GMT on the night
    # London's clocks went back.
    issues = json.loads((FIXTURES / "data_center_search.json").read_text())["issues"]

    assert next_anchor(issues[:1], "2024-10-20 09:00", 5, "Europe/London") == (
        "2024-10-20 09:00",
        6,
    )
