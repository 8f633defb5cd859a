"""Every change made in the admin leaves an audit entry with the field-level diff."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tracking import factories
from tests.tracking.admin_forms import bug_form
from tracking.models import AuditLog, Bug, EngineeringHours

pytestmark = pytest.mark.django_db


def test_creating_a_bug_records_who_created_it(staff_client, staff_user):
    staff_client.post(reverse("admin:tracking_bug_add"), bug_form(title="Checkout fails"))
    entry = AuditLog.objects.get()
    bug = Bug.objects.get()
    assert (entry.action, entry.object_id, entry.user, entry.actor) == (
        "create",
        str(bug.pk),
        staff_user,
        "staff",
    )
    assert entry.changes["title"] == [None, "Checkout fails"]


def test_editing_a_bug_records_only_the_changed_fields(staff_client):
    bug = factories.make_bug(title="Checkout fails", severity="low")
    form = bug_form(bug, title="Checkout fails on Safari")
    staff_client.post(reverse("admin:tracking_bug_change", args=[bug.pk]), form)
    entry = AuditLog.objects.get()
    assert entry.action == "update"
    assert entry.changes == {"title": ["Checkout fails", "Checkout fails on Safari"]}


def test_a_change_that_changes_nothing_records_nothing(staff_client):
    bug = factories.make_bug(title="Same", severity="low")
    staff_client.post(
        reverse("admin:tracking_bug_change", args=[bug.pk]),
        bug_form(bug),
    )
    assert not AuditLog.objects.exists()


def test_a_rejected_edit_records_nothing(staff_client):
    bug = factories.make_bug()
    staff_client.post(
        reverse("admin:tracking_bug_change", args=[bug.pk]),
        bug_form(bug, sla_hours="0"),
    )
    assert not AuditLog.objects.exists()


def test_hours_logged_inline_are_audited(staff_client):
    bug = factories.make_bug(title="Same", severity="low")
    person = factories.make_person()
    form = bug_form(
        bug,
        **{
            "hours-TOTAL_FORMS": "1",
            "hours-0-person": person.pk,
            "hours-0-date": "2026-11-02",
            "hours-0-hours": "1.5",
            "hours-0-note": "triage",
        },
    )
    staff_client.post(reverse("admin:tracking_bug_change", args=[bug.pk]), form)
    hours = EngineeringHours.objects.get()
    entry = AuditLog.objects.get(object_id=str(hours.pk), content_type__model="engineeringhours")
    assert entry.action == "create"
    assert entry.changes["hours"] == [None, "1.50"]


def test_deleting_a_project_records_its_last_values(staff_client):
    project = factories.make_project(name="Old")
    staff_client.post(reverse("admin:tracking_project_delete", args=[project.pk]), {"post": "yes"})
    entry = AuditLog.objects.get()
    assert entry.action == "delete"
    assert entry.changes["name"] == "Old"


def test_the_change_page_shows_the_audit_trail(staff_client):
    bug = factories.make_bug(title="Before", severity="low")
    staff_client.post(
        reverse("admin:tracking_bug_change", args=[bug.pk]),
        bug_form(
            bug,
            title="After",
            severity="low",
        ),
    )
    page = staff_client.get(reverse("admin:tracking_bug_change", args=[bug.pk]))
    assert "title: Before → After" in page.text
    assert "Full audit history" in page.text


def test_audit_entries_cannot_be_changed_or_deleted_in_the_admin(staff_client):
    bug = factories.make_bug()
    staff_client.post(reverse("admin:tracking_bug_delete", args=[bug.pk]), {"post": "yes"})
    entry = AuditLog.objects.get()
    assert (
        staff_client.post(
            reverse("admin:tracking_auditlog_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert staff_client.get(reverse("admin:tracking_auditlog_add")).status_code == 403
    assert AuditLog.objects.filter(pk=entry.pk).exists()
