"""Deduplication: each row finds its stored twin; a changed row updates only what changed."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from tracking.choices import AuditAction
from tracking.models import AuditLog, Bug, BugNumberSequence, Person, Project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://github.com/acme/payments",
        "https://GitHub.com/ACME/Payments",
        "https://github.com/acme/payments.git",
        "https://github.com/acme/payments/",
        "git@github.com:acme/payments.git",
    ],
)
def test_a_project_is_matched_by_its_normalized_github_url(import_text, url):
    import_text("projects", "name,github_url\nPayments,https://github.com/acme/payments\n")

    csv_import = import_text("projects", f"name,github_url\nPayments renamed,{url}\n")

    assert (csv_import.created, csv_import.updated) == (0, 1)
    assert list(Project.objects.values_list("name", flat=True)) == ["Payments renamed"]


def test_a_project_without_url_is_matched_by_name_in_any_case(import_text):
    import_text("projects", "name,description\nPayments,old\n")

    csv_import = import_text("projects", "name,description\nPAYMENTS,new\n")

    assert csv_import.updated == 1
    assert Project.objects.get().description == "new"


def test_a_project_name_already_linked_to_another_url_is_rejected(import_text):
    import_text("projects", "name,github_url\nPayments,https://github.com/acme/payments\n")

    csv_import = import_text(
        "projects", "name,github_url\nPayments,https://github.com/acme/other\n"
    )

    assert csv_import.row_errors[0]["reason"].startswith("Project 'Payments' already links to")
    assert Project.objects.get().github_url == "https://github.com/acme/payments"


def test_a_bug_is_matched_by_its_number(import_text):
    import_text("bugs", "title,external_id\nOld title,LEG-1\n")
    number = Bug.objects.get().number

    csv_import = import_text("bugs", f"number,title\n{number},New title\n")

    assert (csv_import.created, csv_import.updated) == (0, 1)
    assert Bug.objects.get().title == "New title"


def test_a_bug_is_matched_by_source_and_external_id(import_text):
    import_text("bugs", "title,source,external_id\nFrom Jira,jira,10001\nFrom CSV,,10001\n")

    csv_import = import_text("bugs", "title,source,external_id\nJira again,jira,10001\n")

    assert csv_import.updated == 1
    assert Bug.objects.get(source="jira").title == "Jira again"
    assert Bug.objects.get(source="csv").title == "From CSV"


def test_a_new_bug_keeps_the_number_it_brings_and_the_counter_moves_past_it(import_text):
    import_text("bugs", "number,title,created_at\nBUG-202601-0042,Imported,2026-01-10\n")

    import_text("bugs", "title,created_at\nNew one,2026-01-11\n")

    assert sorted(Bug.objects.values_list("number", flat=True)) == [
        "BUG-202601-0042",
        "BUG-202601-0043",
    ]
    assert BugNumberSequence.objects.get(month="202601").last_value == 43


def test_a_malformed_bug_number_is_rejected(import_text):
    csv_import = import_text("bugs", "number,title\nBUG-12,Imported\n")

    assert "is not a bug number (BUG-YYYYMM-NNNN)" in csv_import.row_errors[0]["reason"]


def test_a_changed_row_updates_only_its_changed_fields_with_an_audit_entry(import_text):
    import_text("bugs", "title,severity,description,external_id\nA bug,low,Same,LEG-1\n")
    bug = Bug.objects.get()

    csv_import = import_text(
        "bugs", "title,severity,description,external_id\nA bug,high,Same,LEG-1\n"
    )

    assert csv_import.updated == 1
    entry = AuditLog.objects.get(
        content_type=ContentType.objects.get_for_model(Bug), object_id=str(bug.pk)
    )
    assert entry.action == AuditAction.UPDATE
    # The due time follows the severity's SLA, so it changes with it.
    assert set(entry.changes) == {"severity", "due_at"}
    assert entry.changes["severity"] == ["low", "high"]
    assert csv_import.updates[0]["changes"]["severity"] == ["low", "high"]


def test_columns_absent_from_the_file_are_left_alone(import_text):
    import_text("bugs", "title,description,external_id\nA bug,Kept,LEG-1\n")

    import_text("bugs", "title,external_id\nRenamed,LEG-1\n")

    assert Bug.objects.get().description == "Kept"


def test_an_empty_cell_clears_an_optional_field_but_keeps_a_defaulted_one(import_text):
    import_text("bugs", "title,description,severity,external_id\nA,Text,high,LEG-1\n")

    import_text("bugs", "title,description,severity,external_id\nA,,,LEG-1\n")

    bug = Bug.objects.get()
    assert (bug.description, bug.severity) == ("", "high")


def test_a_row_repeating_an_earlier_rows_key_is_rejected_naming_that_row(import_text):
    csv_import = import_text("bugs", "title,external_id\nFirst,LEG-1\nSecond,LEG-2\nAgain,LEG-1\n")

    assert csv_import.row_errors == [
        {
            "row": 4,
            "column": "",
            "value": "",
            "reason": "Row 2 already has this source and external id.",
        }
    ]
    assert Bug.objects.count() == 2


def test_repeated_keys_are_found_across_batches(import_text):
    rows = "".join(f"Bug {n},LEG-{n}\n" for n in range(5))
    csv_import = import_text("bugs", f"title,external_id\n{rows}Again,LEG-0\n", batch_size=2)

    assert csv_import.rejected == 1
    assert csv_import.row_errors[0]["reason"] == "Row 2 already has this source and external id."


def test_rows_without_a_key_are_created_and_the_import_warns(import_text):
    csv_import = import_text("bugs", "title\nA\nB\n")

    assert csv_import.created == 2
    assert any("importing this file again creates them again" in w for w in csv_import.warnings)


def test_people_are_matched_by_email_in_any_case(import_text):
    import_text("people", "name,email\nAda,ada@example.com\n")

    csv_import = import_text("people", "name,email\nAda Lovelace,ADA@Example.com\n")

    assert csv_import.updated == 1
    assert Person.objects.get().name == "Ada Lovelace"


def test_a_row_the_database_refuses_is_rejected_and_the_rest_of_its_batch_lands(import_text):
    import_text(
        "projects",
        "name,github_url\nAlpha,https://github.com/acme/alpha\nBeta,https://github.com/acme/beta\n",
    )

    # Alpha found by its URL and renamed onto Beta's name: only the database's
    # case-insensitive unique name index can say no.
    csv_import = import_text(
        "projects",
        "name,github_url\nbeta,https://github.com/acme/alpha\n"
        "Gamma,https://github.com/acme/gamma\n",
    )

    assert (csv_import.created, csv_import.rejected) == (1, 1)
    (error,) = csv_import.row_errors
    assert error["row"] == 2
    assert error["reason"].startswith("The database refused the row:")
    assert sorted(Project.objects.values_list("name", flat=True)) == ["Alpha", "Beta", "Gamma"]
