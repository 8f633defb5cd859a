"""A bug's SLA: its due time, whether it was breached, and when it was resolved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.tracking.factories import make_bug
from tracking.models import DEFAULT_SLA_HOURS, Bug

pytestmark = pytest.mark.django_db

REPORTED = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


def test_due_time_is_the_report_time_plus_the_sla_hours():
    bug = make_bug(created_at=REPORTED, sla_hours=10)

    assert Bug.objects.get(pk=bug.pk).due_at == REPORTED + dt.timedelta(hours=10)


@pytest.mark.parametrize(
    ("severity", "hours"), [("critical", 24), ("high", 72), ("medium", 168), ("low", 720)]
)
def test_without_an_sla_the_severity_sets_the_due_time(severity, hours):
    bug = make_bug(created_at=REPORTED, severity=severity)

    assert DEFAULT_SLA_HOURS[severity] == hours
    assert Bug.objects.get(pk=bug.pk).due_at == REPORTED + dt.timedelta(hours=hours)


def test_changing_the_severity_moves_the_due_time():
    bug = make_bug(created_at=REPORTED, severity="low")

    bug.severity = "critical"
    bug.save()

    assert Bug.objects.get(pk=bug.pk).due_at == REPORTED + dt.timedelta(hours=24)


def test_an_open_bug_past_its_due_time_is_breached():
    bug = make_bug(created_at=timezone.now() - dt.timedelta(hours=5), sla_hours=4)

    assert bug.is_breached
    assert list(Bug.objects.breached()) == [bug]


def test_an_open_bug_before_its_due_time_is_not_breached():
    bug = make_bug(created_at=timezone.now() - dt.timedelta(hours=3), sla_hours=4)

    assert not bug.is_breached
    assert list(Bug.objects.breached()) == []


def test_a_bug_resolved_after_its_due_time_stays_breached():
    bug = make_bug(created_at=REPORTED, sla_hours=4)
    bug.status = "resolved"
    bug.resolved_at = REPORTED + dt.timedelta(hours=5)
    bug.save()

    assert bug.is_breached
    assert list(Bug.objects.breached()) == [bug]


def test_a_bug_resolved_in_time_is_not_breached_even_long_after():
    bug = make_bug(created_at=REPORTED, sla_hours=4)
    bug.status = "closed"
    bug.resolved_at = REPORTED + dt.timedelta(hours=3)
    bug.save()

    assert not bug.is_breached
    assert list(Bug.objects.breached()) == []


def test_breached_bugs_can_be_listed_as_of_a_given_time():
    bug = make_bug(created_at=REPORTED, sla_hours=4)

    assert list(Bug.objects.breached(now=REPORTED + dt.timedelta(hours=3))) == []
    assert list(Bug.objects.breached(now=REPORTED + dt.timedelta(hours=5))) == [bug]


def test_a_deleted_bug_is_not_listed_as_breached():
    bug = make_bug(created_at=REPORTED, sla_hours=4)
    bug.soft_delete()

    assert list(Bug.objects.breached()) == []


@pytest.mark.parametrize("done_status", ["resolved", "closed", "wont_fix"])
def test_resolution_time_is_set_when_a_bug_is_finished(done_status):
    bug = make_bug(created_at=REPORTED)
    before = timezone.now()

    bug.status = done_status
    bug.save()

    resolved_at = Bug.objects.get(pk=bug.pk).resolved_at
    assert resolved_at is not None
    assert before <= resolved_at <= timezone.now()


def test_a_resolution_time_given_by_the_source_is_kept():
    resolved_upstream = REPORTED + dt.timedelta(hours=2)

    bug = make_bug(created_at=REPORTED, status="resolved", resolved_at=resolved_upstream)

    assert Bug.objects.get(pk=bug.pk).resolved_at == resolved_upstream


def test_reopening_a_bug_clears_its_resolution_time():
    bug = make_bug(created_at=REPORTED, status="resolved")

    bug.status = "open"
    bug.save()

    assert Bug.objects.get(pk=bug.pk).resolved_at is None


def test_an_open_bug_has_no_resolution_time():
    bug = make_bug(created_at=REPORTED, status="in_progress", resolved_at=REPORTED)

    assert Bug.objects.get(pk=bug.pk).resolved_at is None
