"""A change made by hand is a change: `changed_since` extraction sees admin and API edits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.tracking.factories import make_bug

pytestmark = pytest.mark.django_db


def test_saving_an_edit_moves_last_seen_at():
    bug = make_bug(last_seen_at=timezone.now() - dt.timedelta(days=30))
    before = timezone.now()

    bug.title = "Edited by hand"
    bug.save()

    bug.refresh_from_db()
    assert bug.last_seen_at >= before


def test_a_hand_edit_is_listed_by_changed_since(staff_client):
    bug = make_bug(last_seen_at=timezone.now() - dt.timedelta(days=30))
    since = timezone.now()
    bug.soft_delete()

    response = staff_client.get(
        "/api/fetch/all/bugs", {"changed_since": since.isoformat().replace("+00:00", "Z")}
    )

    assert [item["id"] for item in response.json()["data"]] == [bug.pk]
