"""Deleting a bug keeps its row: it is marked deleted and can be restored."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.tracking.factories import make_bug, make_hours, make_person
from tracking.models import Bug, EngineeringHours

pytestmark = pytest.mark.django_db


def test_soft_delete_keeps_the_row_and_marks_when_it_was_deleted():
    bug = make_bug(title="Login fails")
    before = timezone.now()

    bug.soft_delete()

    stored = Bug.objects.get(pk=bug.pk)
    assert stored.title == "Login fails"
    assert stored.is_deleted
    assert before <= stored.deleted_at <= timezone.now()


def test_live_lists_only_bugs_that_are_not_deleted():
    kept = make_bug()
    make_bug().soft_delete()

    assert list(Bug.objects.live()) == [kept]


def test_deleted_lists_only_deleted_bugs():
    make_bug()
    gone = make_bug()
    gone.soft_delete()

    assert list(Bug.objects.deleted()) == [gone]


def test_deleting_twice_keeps_the_first_deletion_time():
    bug = make_bug()
    bug.soft_delete()
    first_deletion = Bug.objects.get(pk=bug.pk).deleted_at

    bug.soft_delete()

    assert Bug.objects.get(pk=bug.pk).deleted_at == first_deletion


def test_restore_brings_a_deleted_bug_back_with_its_number():
    bug = make_bug()
    number = bug.number
    bug.soft_delete()

    Bug.objects.get(pk=bug.pk).restore()

    stored = Bug.objects.get(pk=bug.pk)
    assert stored.deleted_at is None
    assert stored.number == number
    assert list(Bug.objects.live()) == [stored]


def test_hours_logged_on_a_bug_stay_when_it_is_deleted():
    bug = make_bug()
    make_hours(bug=bug, person=make_person(), hours=Decimal("3"))

    bug.soft_delete()

    assert EngineeringHours.objects.filter(bug=bug).count() == 1
    assert EngineeringHours.objects.get(bug=bug).hours == Decimal("3")
