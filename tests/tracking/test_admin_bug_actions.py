"""Soft delete, restore and the bulk actions of the bug admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tracking import factories
from tracking.models import AuditLog, Bug, EngineeringHours

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:tracking_bug_changelist"


def run_action(client, action: str, bugs, query: str = "", **extra):
    # The action form posts to the page the person is on, filters included.
    return client.post(
        reverse(CHANGELIST) + query,
        {"action": action, "_selected_action": [bug.pk for bug in bugs], "index": 0, **extra},
        follow=True,
    )


def test_deleting_a_bug_in_the_admin_keeps_the_row_and_its_hours(staff_client):
    bug = factories.make_bug()
    factories.make_hours(bug=bug)
    confirmation = staff_client.get(reverse("admin:tracking_bug_delete", args=[bug.pk]))
    assert "kept and marked deleted" in confirmation.text
    staff_client.post(reverse("admin:tracking_bug_delete", args=[bug.pk]), {"post": "yes"})
    bug.refresh_from_db()
    assert bug.deleted_at is not None
    assert EngineeringHours.objects.filter(bug=bug).exists()


def test_deleted_bugs_are_hidden_from_the_list_until_asked_for(staff_client):
    kept, gone = factories.make_bug(title="Visible bug"), factories.make_bug(title="Deleted bug")
    gone.soft_delete()
    default = staff_client.get(reverse(CHANGELIST))
    assert "Visible bug" in default.text and "Deleted bug" not in default.text
    deleted = staff_client.get(reverse(CHANGELIST) + "?deleted=yes")
    assert "Deleted bug" in deleted.text and "Visible bug" not in deleted.text
    assert Bug.objects.live().filter(pk=kept.pk).exists()


def test_bulk_delete_then_restore(staff_client):
    bugs = [factories.make_bug(), factories.make_bug()]
    run_action(staff_client, "soft_delete_selected", bugs)
    assert Bug.objects.deleted().count() == 2
    response = run_action(staff_client, "restore_selected", bugs, query="?deleted=yes")
    assert "2 bugs restored." in response.text
    assert Bug.objects.live().count() == 2
    assert sorted(AuditLog.objects.values_list("action", flat=True)) == [
        "delete",
        "delete",
        "restore",
        "restore",
    ]


def test_bulk_status_change_sets_status_and_resolution_time(staff_client):
    bugs = [factories.make_bug(), factories.make_bug()]
    response = run_action(staff_client, "set_status", bugs, status="resolved")
    assert "2 bugs set to Resolved." in response.text
    for bug in Bug.objects.all():
        assert bug.status == "resolved"
        assert bug.resolved_at is not None
    assert AuditLog.objects.filter(action="update").count() == 2


def test_bulk_status_change_without_a_status_changes_nothing(staff_client):
    bug = factories.make_bug()
    response = run_action(staff_client, "set_status", [bug], status="")
    assert "Choose a status to set." in response.text
    bug.refresh_from_db()
    assert bug.status == "open"


def test_bulk_assign(staff_client):
    person = factories.make_person(name="Grace")
    bugs = [factories.make_bug(), factories.make_bug()]
    response = run_action(staff_client, "assign", bugs, assignee=person.pk)
    assert "2 bugs assigned to Grace" in response.text
    assert set(Bug.objects.values_list("assignee", flat=True)) == {person.pk}


def test_bulk_assign_without_a_person_is_refused(staff_client):
    bug = factories.make_bug()
    response = run_action(staff_client, "assign", [bug], assignee="")
    assert "Choose an assignee." in response.text


def test_list_shows_breached_bugs_under_the_sla_filter(staff_client):
    import datetime as dt

    from django.utils import timezone

    factories.make_bug(
        title="Late bug", severity="critical", created_at=timezone.now() - dt.timedelta(days=3)
    )
    factories.make_bug(title="Fresh bug", severity="critical")
    page = staff_client.get(reverse(CHANGELIST) + "?sla=breached")
    assert "Late bug" in page.text and "Fresh bug" not in page.text
