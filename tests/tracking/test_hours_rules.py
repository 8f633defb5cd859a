"""Engineering hours: more than 0 and at most 24 per entry, against a bug or a project."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms import modelform_factory

from tests.tracking.factories import make_bug, make_person, make_project
from tracking.models import EngineeringHours

pytestmark = pytest.mark.django_db


def hours_entry(**fields) -> EngineeringHours:
    fields.setdefault("person", make_person())
    fields.setdefault("date", dt.date(2024, 3, 10))
    return EngineeringHours(**fields)


def validation_errors(entry: EngineeringHours) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as error:
        entry.full_clean()
    return error.value.message_dict


@pytest.mark.parametrize("hours", [Decimal("0"), Decimal("-1"), Decimal("-0.25")])
def test_zero_or_negative_hours_are_rejected_with_a_message(hours):
    entry = hours_entry(project=make_project(), hours=hours)

    assert validation_errors(entry) == {"hours": ["Hours must be more than 0."]}


def test_more_than_24_hours_in_one_entry_are_rejected_with_a_message():
    entry = hours_entry(project=make_project(), hours=Decimal("24.5"))

    assert validation_errors(entry) == {"hours": ["No more than 24 hours fit in one entry."]}


@pytest.mark.parametrize("hours", [Decimal("0.25"), Decimal("24")])
def test_hours_at_the_edges_of_the_range_are_accepted(hours):
    entry = hours_entry(project=make_project(), hours=hours)

    entry.full_clean()
    entry.save()

    assert EngineeringHours.objects.get(pk=entry.pk).hours == hours


@pytest.mark.parametrize("hours", [Decimal("0"), Decimal("-2"), Decimal("25")])
def test_the_database_refuses_hours_out_of_range_even_without_validation(hours):
    entry = hours_entry(project=make_project(), hours=hours)

    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()


def test_the_database_refuses_an_update_that_puts_hours_out_of_range():
    entry = hours_entry(project=make_project(), hours=Decimal("8"))
    entry.save()

    with pytest.raises(IntegrityError), transaction.atomic():
        EngineeringHours.objects.filter(pk=entry.pk).update(hours=Decimal("30"))


def test_hours_without_a_bug_or_a_project_are_rejected_with_a_message():
    entry = hours_entry(hours=Decimal("2"))

    assert validation_errors(entry) == {"project": ["Log hours against a bug or a project."]}


def test_the_database_refuses_hours_without_a_bug_or_a_project():
    entry = hours_entry(hours=Decimal("2"))

    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()


def test_hours_on_a_bug_are_counted_in_the_bug_project():
    project = make_project(name="Payments")
    entry = hours_entry(bug=make_bug(project=project), hours=Decimal("2"))

    entry.full_clean()
    entry.save()

    assert EngineeringHours.objects.get(pk=entry.pk).project == project


def test_hours_saved_without_validation_still_take_the_bug_project():
    project = make_project(name="Payments")
    entry = hours_entry(bug=make_bug(project=project), hours=Decimal("2"))

    entry.save()

    assert EngineeringHours.objects.get(pk=entry.pk).project == project


def test_hours_on_a_bug_of_another_project_are_rejected_with_a_message():
    bug = make_bug(project=make_project(name="Payments"))
    entry = hours_entry(bug=bug, project=make_project(name="Search"), hours=Decimal("2"))

    assert validation_errors(entry) == {
        "project": [f"Bug {bug.number} belongs to project Payments."]
    }


def test_hours_on_a_bug_without_a_project_may_name_any_project():
    search = make_project(name="Search")
    entry = hours_entry(bug=make_bug(), project=search, hours=Decimal("2"))

    entry.full_clean()
    entry.save()

    assert EngineeringHours.objects.get(pk=entry.pk).project == search


def test_a_form_without_a_bug_or_a_project_shows_the_message_once():
    form_class = modelform_factory(
        EngineeringHours, fields=["person", "bug", "project", "date", "hours", "note"]
    )
    form = form_class(data={"person": make_person().pk, "date": "2024-03-10", "hours": "2"})

    assert not form.is_valid()
    assert form.errors.get_json_data() == {
        "project": [{"message": "Log hours against a bug or a project.", "code": "no_target"}]
    }
