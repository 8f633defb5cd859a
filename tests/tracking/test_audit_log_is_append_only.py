"""Audit log entries are written once and never changed or deleted."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from tests.tracking.factories import make_bug
from tracking.models import AuditLog, AuditLogError, Bug

pytestmark = pytest.mark.django_db


def write_entry() -> AuditLog:
    bug = make_bug(title="Crash")
    return AuditLog.objects.create(
        actor="alice",
        content_type=ContentType.objects.get_for_model(Bug),
        object_id=str(bug.pk),
        object_repr=str(bug),
        action="create",
        changes={"title": [None, "Crash"]},
    )


def test_a_new_entry_is_written():
    entry = write_entry()

    stored = AuditLog.objects.get(pk=entry.pk)
    assert (stored.actor, stored.action, stored.changes) == (
        "alice",
        "create",
        {"title": [None, "Crash"]},
    )


def test_changing_an_entry_is_refused():
    entry = AuditLog.objects.get(pk=write_entry().pk)
    entry.actor = "mallory"

    with pytest.raises(AuditLogError, match="never changed"):
        entry.save()

    assert AuditLog.objects.get(pk=entry.pk).actor == "alice"


def test_deleting_an_entry_is_refused():
    entry = write_entry()

    with pytest.raises(AuditLogError, match="never deleted"):
        entry.delete()

    assert AuditLog.objects.filter(pk=entry.pk).exists()
