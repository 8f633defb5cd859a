"""Every model's admin pages render for staff, and only for staff."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.tracking import factories
from tests.tracking.admin_forms import bug_form
from tracking.models import AuditLog

pytestmark = pytest.mark.django_db

BUILDERS = {
    "person": factories.make_person,
    "identity": factories.make_identity,
    "project": factories.make_project,
    "bug": factories.make_bug,
    "engineeringhours": factories.make_hours,
    "repository": factories.make_repository,
    "commit": factories.make_commit,
    "pullrequest": factories.make_pull_request,
    "build": factories.make_build,
    "buildjob": factories.make_build_job,
    "chatchannel": factories.make_chat_channel,
    "sprint": factories.make_sprint,
    "issue": factories.make_issue,
    "chatmessage": factories.make_chat_message,
}


def test_every_tracking_model_is_in_the_admin():
    registered = {
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label == "tracking"
    }
    assert registered == {*BUILDERS, "auditlog"}


@pytest.mark.parametrize("model_name", sorted(BUILDERS))
def test_changelist_renders_with_a_row(staff_client, model_name):
    BUILDERS[model_name]()
    response = staff_client.get(reverse(f"admin:tracking_{model_name}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model_name", sorted(BUILDERS))
def test_add_page_renders(staff_client, model_name):
    response = staff_client.get(reverse(f"admin:tracking_{model_name}_add"))
    assert response.status_code == 200


@pytest.mark.parametrize("model_name", sorted(BUILDERS))
def test_change_page_renders_with_its_audit_trail(staff_client, model_name):
    obj = BUILDERS[model_name]()
    response = staff_client.get(reverse(f"admin:tracking_{model_name}_change", args=[obj.pk]))
    assert response.status_code == 200
    assert "Audit trail" in response.text


def test_audit_log_pages_render_read_only(staff_client):
    bug = factories.make_bug()
    staff_client.post(
        reverse("admin:tracking_bug_change", args=[bug.pk]),
        bug_form(bug, title="Renamed"),
    )
    entry = AuditLog.objects.get()
    assert staff_client.get(reverse("admin:tracking_auditlog_changelist")).status_code == 200
    page = staff_client.get(reverse("admin:tracking_auditlog_change", args=[entry.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert (
        "Add audit log entry"
        not in staff_client.get(reverse("admin:tracking_auditlog_changelist")).text
    )


def test_plain_user_is_sent_to_the_login_page(plain_client):
    response = plain_client.get(reverse("admin:tracking_bug_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(reverse("admin:tracking_project_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
