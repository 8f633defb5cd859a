"""The people list shows how many accounts each person has."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tracking import factories

pytestmark = pytest.mark.django_db


def account_cell(page: str) -> str:
    return page.split('class="field-identity_count">', 1)[1].split("<", 1)[0]


def test_people_list_counts_each_persons_accounts(staff_client):
    grace = factories.make_person(name="Grace")
    factories.make_identity(person=grace, username="grace-gh")
    factories.make_identity(person=grace, source="slack", username="grace-slack")
    page = staff_client.get(reverse("admin:tracking_person_changelist")).text
    assert account_cell(page) == "2"


def test_searching_by_an_account_keeps_the_count_whole(staff_client):
    grace = factories.make_person(name="Grace")
    factories.make_identity(person=grace, username="grace-gh")
    factories.make_identity(person=grace, source="slack", username="grace-slack")
    page = staff_client.get(reverse("admin:tracking_person_changelist") + "?q=grace").text
    assert account_cell(page) == "2"
    assert page.count('class="field-identity_count"') == 1
