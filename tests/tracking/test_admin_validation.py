"""The admin rejects bad input with a message a person can act on, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tracking import factories
from tests.tracking.admin_forms import bug_form, hours_form
from tracking.models import Bug, EngineeringHours, Project

pytestmark = pytest.mark.django_db


def test_valid_bug_is_created_with_a_number(staff_client):
    response = staff_client.post(reverse("admin:tracking_bug_add"), bug_form())
    assert response.status_code == 302
    assert Bug.objects.get().number == "BUG-202611-0001"


def test_sla_of_zero_is_rejected_with_a_message(staff_client):
    response = staff_client.post(reverse("admin:tracking_bug_add"), bug_form(sla_hours="0"))
    assert response.status_code == 200
    assert "The SLA must be at least 1 hour." in response.text
    assert not Bug.objects.exists()


def test_negative_sla_is_rejected(staff_client):
    response = staff_client.post(reverse("admin:tracking_bug_add"), bug_form(sla_hours="-5"))
    assert response.status_code == 200
    assert "errornote" in response.text
    assert not Bug.objects.exists()


def test_unknown_severity_is_rejected(staff_client):
    response = staff_client.post(
        reverse("admin:tracking_bug_add"), bug_form(severity="apocalyptic")
    )
    assert response.status_code == 200
    assert (
        "Select a valid choice. apocalyptic is not one of the available choices." in response.text
    )
    assert not Bug.objects.exists()


def test_blank_title_is_rejected(staff_client):
    response = staff_client.post(reverse("admin:tracking_bug_add"), bug_form(title="   "))
    assert response.status_code == 200
    assert not Bug.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "Hours must be more than 0."),
        ("0", "Hours must be more than 0."),
        ("24.5", "No more than 24 hours fit in one entry."),
        ("many", "Enter a number."),
    ],
)
def test_bad_hours_are_rejected_with_a_message(staff_client, value, message):
    person, project = factories.make_person(), factories.make_project()
    response = staff_client.post(
        reverse("admin:tracking_engineeringhours_add"),
        hours_form(person=person.pk, project=project.pk, hours=value),
    )
    assert response.status_code == 200
    assert message in response.text
    assert not EngineeringHours.objects.exists()


def test_hours_without_bug_or_project_are_rejected(staff_client):
    person = factories.make_person()
    response = staff_client.post(
        reverse("admin:tracking_engineeringhours_add"), hours_form(person=person.pk)
    )
    assert response.status_code == 200
    assert "Log hours against a bug or a project." in response.text
    assert not EngineeringHours.objects.exists()


def test_bad_hours_in_the_bug_inline_keep_the_bug_unchanged(staff_client):
    bug = factories.make_bug(title="Original")
    person = factories.make_person()
    form = bug_form(
        bug,
        title="Changed",
        **{
            "hours-TOTAL_FORMS": "1",
            "hours-0-person": person.pk,
            "hours-0-date": "2026-11-02",
            "hours-0-hours": "-3",
            "hours-0-note": "",
        },
    )
    response = staff_client.post(reverse("admin:tracking_bug_change", args=[bug.pk]), form)
    assert response.status_code == 200
    assert "Hours must be more than 0." in response.text
    bug.refresh_from_db()
    assert bug.title == "Original"
    assert not EngineeringHours.objects.exists()


def test_duplicate_project_name_in_another_case_is_rejected(staff_client):
    factories.make_project(name="Payments")
    response = staff_client.post(
        reverse("admin:tracking_project_add"),
        {
            "name": "PAYMENTS",
            "description": "",
            "status": "active",
            "owner": "",
            "github_url": "",
            "jira_project_key": "",
            "tags": "",
        },
    )
    assert response.status_code == 200
    assert "A project with this name already exists" in response.text
    assert Project.objects.count() == 1


def test_project_github_url_is_stored_in_canonical_form(staff_client):
    response = staff_client.post(
        reverse("admin:tracking_project_add"),
        {
            "name": "Payments",
            "description": "",
            "status": "active",
            "owner": "",
            "github_url": "git@github.com:Example-Org/Payments.git",
            "jira_project_key": "pay",
            "tags": "a, b, a",
        },
    )
    assert response.status_code == 302
    project = Project.objects.get()
    assert project.github_url == "https://github.com/example-org/payments"
    assert project.github_repository == "example-org/payments"
    assert project.jira_project_key == "PAY"
    assert project.tags == ["a", "b"]


def test_invalid_github_url_is_rejected(staff_client):
    response = staff_client.post(
        reverse("admin:tracking_project_add"),
        {
            "name": "Payments",
            "description": "",
            "status": "active",
            "owner": "",
            "github_url": "not a url",
            "jira_project_key": "",
            "tags": "",
        },
    )
    assert response.status_code == 200
    assert "Enter a GitHub repository URL" in response.text
    assert not Project.objects.exists()
