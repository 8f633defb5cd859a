"""The content signature: equal content signs equal, changed content signs differently."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from tests.tracking.factories import make_repository
from tracking.models import Repository, content_signature

UTC_NOON = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)
CONTENT = {
    "title": "Crash on login",
    "status": "open",
    "labels": ["bug", "p1"],
    "story_points": Decimal("3.5"),
    "created_at": UTC_NOON,
    "due_date": dt.date(2024, 3, 20),
    "assignee_id": None,
}


def test_the_signature_does_not_depend_on_key_order():
    reordered = dict(reversed(list(CONTENT.items())))

    assert content_signature(reordered) == content_signature(CONTENT)


def test_the_same_instant_in_another_time_zone_signs_the_same():
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    same_instant = {**CONTENT, "created_at": UTC_NOON.astimezone(tokyo)}

    assert content_signature(same_instant) == content_signature(CONTENT)


def test_an_equal_decimal_written_with_more_digits_signs_the_same():
    # A DecimalField reads back "3.50" where the upstream said 3.5.
    as_read_back = {**CONTENT, "story_points": Decimal("3.50")}

    assert content_signature(as_read_back) == content_signature(CONTENT)


@pytest.mark.parametrize(
    ("field", "changed"),
    [
        ("title", "Crash on logout"),
        ("status", "closed"),
        ("labels", ["p1", "bug"]),
        ("story_points", Decimal("5")),
        ("created_at", UTC_NOON + dt.timedelta(microseconds=1)),
        ("due_date", dt.date(2024, 3, 21)),
        ("assignee_id", 7),
    ],
)
def test_a_change_in_any_content_field_changes_the_signature(field, changed):
    assert content_signature({**CONTENT, field: changed}) != content_signature(CONTENT)


def test_a_new_field_changes_the_signature():
    assert content_signature({**CONTENT, "priority": "high"}) != content_signature(CONTENT)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 42),
        ("source", "jira"),
        ("external_id", "10001"),
        ("raw_signature", "abc"),
        ("first_seen_at", UTC_NOON),
        ("last_seen_at", UTC_NOON),
    ],
)
def test_provenance_fields_do_not_take_part_in_the_signature(field, value):
    assert content_signature({**CONTENT, field: value}) == content_signature(CONTENT)


def test_a_signature_is_a_short_hex_digest_that_fits_its_column():
    signature = content_signature(CONTENT)

    assert len(signature) == Repository._meta.get_field("raw_signature").max_length
    assert int(signature, 16) >= 0


@pytest.mark.django_db
def test_a_row_read_back_from_the_database_signs_as_it_did_before_saving():
    repository = make_repository(
        full_name="acme/widget", owner="acme", name="widget", pushed_at=UTC_NOON
    )
    repository.sign()
    signed_before_saving = repository.raw_signature

    stored = Repository.objects.get(pk=repository.pk)
    stored.sign()

    assert stored.raw_signature == signed_before_saving


@pytest.mark.django_db
def test_seeing_a_row_again_does_not_change_its_signature():
    repository = make_repository()
    repository.sign()
    signature = repository.raw_signature

    repository.last_seen_at = UTC_NOON + dt.timedelta(days=1)
    repository.sign()

    assert repository.raw_signature == signature
