"""The templates in fixtures/ import cleanly, and importing them again changes nothing."""

from __future__ import annotations

import pytest

from ingestion.choices import ImportStatus
from tracking.models import AuditLog, Bug, EngineeringHours, Person, Project

pytestmark = pytest.mark.django_db


def _import_all(import_template):
    return [
        import_template("people-template.csv", "people"),
        import_template("projects-template.csv", "projects"),
        import_template("bugs-template.csv", "bugs"),
        import_template("hours-template.csv", "hours"),
    ]


def test_every_template_imports_without_a_rejected_row(import_template):
    imports = _import_all(import_template)

    assert [i.status for i in imports] == [ImportStatus.SUCCEEDED] * 4
    assert [i.created for i in imports] == [4, 5, 10, 3]
    assert (Person.objects.count(), Project.objects.count()) == (4, 5)
    assert (Bug.objects.count(), EngineeringHours.objects.count()) == (10, 3)


def test_reimporting_the_templates_leaves_every_row_unchanged(import_template):
    _import_all(import_template)
    audit_entries = AuditLog.objects.count()

    again = _import_all(import_template)

    assert [(i.created, i.updated, i.rejected) for i in again] == [(0, 0, 0)] * 4
    assert [i.unchanged for i in again] == [4, 5, 10, 3]
    assert AuditLog.objects.count() == audit_entries


def test_template_values_land_as_typed(import_template):
    _import_all(import_template)

    mobile = Project.objects.get(name="Mobile App")
    assert mobile.github_url == "https://github.com/acme/mobile-app"
    assert mobile.github_repository == "acme/mobile-app"
    assert mobile.tags == ["mobile", "ios", "android"]
    assert mobile.owner.email == "grace@example.com"
    crash = Bug.objects.get(external_id="LEG-103")
    assert (crash.severity, crash.status, crash.project) == ("critical", "resolved", mobile)
    assert crash.source == "csv"
    assert crash.number.startswith("BUG-")
    assert crash.resolved_at.isoformat() == "2026-09-21T10:00:00+00:00"
    assert crash.due_at.isoformat() == "2026-09-21T08:30:00+00:00"  # created + 24 h SLA
