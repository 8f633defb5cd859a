"""Each row is checked by the model's own rules; a bad row is reported, not written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.choices import ImportStatus
from tracking.models import Bug, EngineeringHours, Person, Project

pytestmark = pytest.mark.django_db


def _only_error(csv_import):
    assert csv_import.rejected == 1, csv_import.row_errors
    (error,) = csv_import.row_errors
    return error


def test_a_choice_is_read_by_value_or_label_in_any_case(import_text):
    import_text("bugs", "title,status,severity\nA,In progress,HIGH\nB,won't fix,Low\n")

    assert sorted(Bug.objects.values_list("status", "severity")) == [
        ("in_progress", "high"),
        ("wont_fix", "low"),
    ]


def test_an_unknown_choice_names_row_column_value_and_the_valid_ones(import_text):
    csv_import = import_text("bugs", "title,Severity\nFine,low\nBroken,urgent\n")

    assert csv_import.status == ImportStatus.REJECTED_ROWS
    assert _only_error(csv_import) == {
        "row": 3,
        "column": "Severity",
        "value": "urgent",
        "reason": "Not one of: critical, high, medium, low.",
    }
    assert list(Bug.objects.values_list("title", flat=True)) == ["Fine"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-04", dt.datetime(2026, 3, 4, tzinfo=dt.UTC)),
        ("2026-03-04T10:30:00Z", dt.datetime(2026, 3, 4, 10, 30, tzinfo=dt.UTC)),
        ("2026-03-04 12:30:00+02:00", dt.datetime(2026, 3, 4, 10, 30, tzinfo=dt.UTC)),
        ("04.03.2026", dt.datetime(2026, 3, 4, tzinfo=dt.UTC)),
        ("2026/03/04", dt.datetime(2026, 3, 4, tzinfo=dt.UTC)),
        ("25/03/2026", dt.datetime(2026, 3, 25, tzinfo=dt.UTC)),
        ("03/25/2026 09:00", dt.datetime(2026, 3, 25, 9, tzinfo=dt.UTC)),
        ("4 Mar 2026", dt.datetime(2026, 3, 4, tzinfo=dt.UTC)),
        ("March 4, 2026", dt.datetime(2026, 3, 4, tzinfo=dt.UTC)),
    ],
)
def test_dates_in_iso_8601_and_common_forms(import_text, text, expected):
    import_text("bugs", f'title,created_at\nA,"{text}"\n')

    assert Bug.objects.get().created_at == expected


def test_an_ambiguous_date_is_rejected_with_the_iso_form_suggested(import_text):
    error = _only_error(import_text("bugs", "title,created\nA,03/04/2026\n"))

    assert error["column"] == "created"
    assert "ambiguous" in error["reason"]
    assert "ISO 8601" in error["reason"]


def test_a_date_that_does_not_exist_is_rejected(import_text):
    error = _only_error(import_text("bugs", "title,created_at\nA,2026-02-30\n"))

    assert error["value"] == "2026-02-30"
    assert "not a date" in error["reason"]


def test_numbers_take_a_decimal_comma(import_text):
    import_text("people", "name,email\nAda,ada@example.com\n")
    import_text("projects", "name\nPayments\n")

    import_text("hours", 'person,date,hours,project\nada@example.com,2026-01-05,"1,5",Payments\n')

    assert EngineeringHours.objects.get().hours == Decimal("1.5")


def test_hours_out_of_range_give_the_models_message(import_text):
    import_text("people", "name,email\nAda,ada@example.com\n")
    import_text("projects", "name\nPayments\n")

    csv_import = import_text(
        "hours", "person,date,hours,project\nada@example.com,2026-01-05,25,Payments\n"
    )

    assert _only_error(csv_import)["reason"] == "No more than 24 hours fit in one entry."
    assert EngineeringHours.objects.count() == 0


def test_text_longer_than_its_field_is_rejected_by_the_fields_rule(import_text):
    error = _only_error(import_text("bugs", f"title\n{'x' * 501}\n"))

    assert error["column"] == "title"
    assert "at most 500 characters" in error["reason"]


def test_an_empty_required_cell_is_rejected(import_text):
    error = _only_error(import_text("bugs", "title,severity\n,high\n"))

    assert (error["row"], error["column"], error["reason"]) == (
        2,
        "title",
        "Required: this cell is empty.",
    )


def test_a_cross_field_rule_of_the_model_rejects_the_row(import_text):
    csv_import = import_text(
        "bugs", "title,status,created_at,resolved_at\nA,resolved,2026-05-02,2026-05-01\n"
    )

    error = _only_error(csv_import)
    assert error["column"] == "resolved_at"
    assert error["reason"] == "A bug cannot be resolved before it was created."


def test_a_bad_github_url_is_rejected_on_its_column(import_text):
    error = _only_error(
        import_text("projects", "name,github_url\nX,https://github.com/only-owner\n")
    )

    assert error["column"] == "github_url"
    assert "Enter a GitHub repository URL" in error["reason"]


def test_a_bad_email_is_rejected(import_text):
    error = _only_error(import_text("people", "name,email\nAda,not-an-email\n"))

    assert error["column"] == "email"
    assert Person.objects.count() == 0


def test_a_reference_to_a_missing_project_says_to_import_projects_first(import_text):
    error = _only_error(import_text("bugs", "title,project\nA,Nowhere\n"))

    assert error["value"] == "Nowhere"
    assert "import projects first" in error["reason"]


def test_a_person_is_found_by_email_in_any_case_or_by_a_unique_name(import_text):
    import_text("people", "name,email\nAda Lovelace,ada@example.com\n")

    import_text("bugs", "title,assignee,reporter\nA,ADA@example.com,ada lovelace\n")

    bug = Bug.objects.get()
    assert bug.assignee.email == bug.reporter.email == "ada@example.com"


def test_a_project_is_found_by_its_github_url_in_any_form(import_text):
    import_text("projects", "name,github_url\nPayments,https://github.com/acme/payments\n")

    import_text("bugs", "title,project\nA,git@github.com:Acme/Payments.git\n")

    assert Bug.objects.get().project == Project.objects.get()


def test_hours_on_a_bug_of_another_project_are_rejected(import_text):
    import_text("people", "name,email\nAda,ada@example.com\n")
    import_text("projects", "name\nPayments\nMobile\n")
    import_text("bugs", "title,project,external_id\nA,Payments,LEG-1\n")
    number = Bug.objects.get().number

    csv_import = import_text(
        "hours", f"person,date,hours,bug,project\nada@example.com,2026-01-05,2,{number},Mobile\n"
    )

    assert _only_error(csv_import)["reason"] == f"Bug {number} belongs to project Payments."


def test_hours_on_a_bug_count_on_the_bugs_project(import_text):
    import_text("people", "name,email\nAda,ada@example.com\n")
    import_text("projects", "name\nPayments\n")
    import_text("bugs", "title,project,external_id\nA,Payments,LEG-1\n")
    number = Bug.objects.get().number

    import_text("hours", f"person,date,hours,bug\nada@example.com,2026-01-05,2,{number}\n")

    assert EngineeringHours.objects.get().project.name == "Payments"
