"""Exporting projects, bugs, hours and people as CSV or XLSX, ready to import back."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.http import StreamingHttpResponse

from ingestion.imports.engine import import_file
from ingestion.imports.export import (
    escape_cell,
    export_headers,
    export_response,
    export_rows,
    value_text,
)
from tracking.models import Bug, EngineeringHours, Identity, Person, Project

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MODELS = {"projects": Project, "bugs": Bug, "hours": EngineeringHours, "people": Person}


def exported(import_type: str, file_format: str = "csv") -> bytes:
    queryset = MODELS[import_type].objects.all()
    response = export_response(import_type, queryset, file_format, f"export.{file_format}")
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content)
    return response.content


def only_row(import_type: str) -> dict[str, str]:
    (row,) = export_rows(import_type, MODELS[import_type].objects.all())
    return dict(zip(export_headers(import_type), row, strict=True))


@pytest.fixture
def ada():
    return Person.objects.create(name="Ada Lovelace", email="ada@example.com")


@pytest.fixture
def payments(ada):
    return Project.objects.create(
        name="Payments",
        github_url="https://github.com/acme/payments",
        description="Card payments",
        status="archived",
        jira_project_key="PAY",
        owner=ada,
        tags=["backend", "payments"],
    )


# --- Headers ----------------------------------------------------------------------------


def test_project_headers_are_the_schema_columns_in_order():
    assert export_headers("projects") == [
        "name",
        "github_url",
        "description",
        "status",
        "jira_project_key",
        "owner",
        "tags",
        "external_id",
    ]


def test_bug_headers_are_the_schema_columns_in_order():
    assert export_headers("bugs") == [
        "number",
        "title",
        "description",
        "severity",
        "priority",
        "status",
        "project",
        "assignee",
        "reporter",
        "sla_hours",
        "created_at",
        "resolved_at",
        "url",
        "source",
        "external_id",
    ]


def test_hours_headers_are_the_schema_columns_in_order():
    assert export_headers("hours") == [
        "person",
        "date",
        "hours",
        "bug",
        "project",
        "note",
        "external_id",
    ]


def test_people_headers_are_the_schema_columns_in_order():
    assert export_headers("people") == ["name", "email", "github", "jira", "slack"]


def test_an_unknown_import_type_is_refused():
    with pytest.raises(ValueError, match="valid: projects, bugs, hours, people"):
        export_headers("tickets")


def test_a_queryset_of_another_model_is_refused():
    with pytest.raises(ValueError, match="needs Bug rows, not Person rows"):
        export_rows("bugs", Person.objects.all())


# --- Values -----------------------------------------------------------------------------


def test_a_project_exports_its_fields_owner_and_tags(payments):
    assert only_row("projects") == {
        "name": "Payments",
        "github_url": "https://github.com/acme/payments",
        "description": "Card payments",
        "status": "archived",
        "jira_project_key": "PAY",
        "owner": "ada@example.com",
        "tags": "backend, payments",
        "external_id": "",
    }


def test_a_choice_is_written_as_its_stored_value_not_its_label():
    Bug.objects.create(title="Slow", status="in_progress")

    assert only_row("bugs")["status"] == "in_progress"


def test_a_datetime_is_written_in_iso_8601_utc():
    paris = dt.timezone(dt.timedelta(hours=2))
    Bug.objects.create(title="Slow", created_at=dt.datetime(2026, 3, 1, 11, 30, 5, tzinfo=paris))

    assert only_row("bugs")["created_at"] == "2026-03-01T09:30:05+00:00"


def test_a_datetime_keeps_its_microseconds():
    Bug.objects.create(title="Slow", created_at=dt.datetime(2026, 3, 1, 9, 30, 5, 123456, UTC))

    assert only_row("bugs")["created_at"] == "2026-03-01T09:30:05.123456+00:00"


def test_empty_values_are_empty_cells():
    Bug.objects.create(title="Slow")

    row = only_row("bugs")

    assert [row["project"], row["assignee"], row["sla_hours"], row["resolved_at"]] == [""] * 4


def test_a_bug_exports_its_number_source_external_id_and_sla(payments, ada):
    bug = Bug.objects.create(
        title="Declined cards",
        source="jira",
        external_id="10042",
        sla_hours=48,
        project=payments,
        assignee=ada,
        url="https://jira.example.com/browse/PAY-1",
    )

    row = only_row("bugs")

    assert (row["number"], row["source"], row["external_id"], row["sla_hours"]) == (
        bug.number,
        "jira",
        "10042",
        "48",
    )
    assert (row["project"], row["assignee"], row["url"]) == (
        "Payments",
        "ada@example.com",
        "https://jira.example.com/browse/PAY-1",
    )


def test_a_person_without_email_is_named_by_their_name():
    Bug.objects.create(title="Slow", reporter=Person.objects.create(name="Sam Rivers"))

    assert only_row("bugs")["reporter"] == "Sam Rivers"


def test_a_project_whose_name_has_a_slash_is_named_by_its_github_url():
    project = Project.objects.create(name="acme/api", github_url="https://github.com/acme/api")
    Bug.objects.create(title="Slow", project=project)

    assert only_row("bugs")["project"] == "https://github.com/acme/api"


def test_hours_export_date_decimal_bug_and_project(payments, ada):
    bug = Bug.objects.create(title="Declined cards", project=payments)
    EngineeringHours.objects.create(
        person=ada, date=dt.date(2026, 3, 2), hours=Decimal("1.5"), bug=bug, note="Call"
    )

    assert only_row("hours") == {
        "person": "ada@example.com",
        "date": "2026-03-02",
        "hours": "1.50",
        "bug": bug.number,
        "project": "Payments",
        "note": "Call",
        "external_id": "",
    }


def test_hours_entered_by_hand_leave_out_their_external_id(payments, ada):
    # The import matches hours by external id only among the rows it created itself.
    EngineeringHours.objects.create(person=ada, hours=1, project=payments, external_id="X-1")

    assert only_row("hours")["external_id"] == ""


def test_imported_hours_keep_their_external_id(payments, ada):
    EngineeringHours.objects.create(
        person=ada, hours=1, project=payments, source="csv", external_id="H-1"
    )

    assert only_row("hours")["external_id"] == "H-1"


def test_a_decimal_is_written_without_an_exponent():
    assert value_text(Decimal("1E+1")) == "10"


def test_people_export_the_first_account_of_each_source(ada):
    for external_id, source, username in [
        ("1", "github", "ada-l"),
        ("2", "github", "ada-old"),
        ("3", "slack", "ada"),
    ]:
        Identity.objects.create(
            source=source, external_id=external_id, username=username, person=ada
        )

    assert only_row("people") == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "github": "ada-l",
        "jira": "",
        "slack": "ada",
    }


def test_an_account_without_a_username_is_named_by_its_email(ada):
    Identity.objects.create(source="jira", external_id="j1", email="ada@corp.example", person=ada)

    assert only_row("people")["jira"] == "ada@corp.example"


# --- Formula injection ------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(start):
    assert escape_cell(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"


@pytest.mark.parametrize("text", ["Crash on login", "a=b", "", "'quoted"])
def test_a_harmless_cell_is_left_alone(text):
    assert escape_cell(text) == text


def test_exported_rows_are_escaped():
    Bug.objects.create(title='=HYPERLINK("http://evil.example")')

    assert only_row("bugs")["title"] == '\'=HYPERLINK("http://evil.example")'


# --- Responses --------------------------------------------------------------------------


def test_the_csv_response_streams_an_attachment(payments):
    response = export_response("projects", Project.objects.all(), "csv", "projects.csv")

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="projects.csv"'


def test_the_csv_response_reads_no_row_until_it_is_streamed(payments, django_assert_num_queries):
    with django_assert_num_queries(0):
        export_response("projects", Project.objects.all(), "csv", "projects.csv")


def test_the_csv_starts_with_a_bom_and_the_header_row(payments):
    content = exported("projects")

    assert content.startswith(b"\xef\xbb\xbfname,github_url,description,status,")
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert lines[0] == export_headers("projects")
    assert lines[1][:2] == ["Payments", "https://github.com/acme/payments"]


def test_accents_survive_the_csv():
    Person.objects.create(name="Zoë Ångström", email="zoe@example.com")

    text = exported("people").decode("utf-8-sig")

    assert "Zoë Ångström" in text


def test_the_download_name_gets_the_format_extension(payments):
    response = export_response("projects", Project.objects.all(), "xlsx", "projects")

    assert response["Content-Disposition"] == 'attachment; filename="projects.xlsx"'


def test_the_xlsx_response_is_a_workbook_with_the_rows(payments):
    response = export_response("projects", Project.objects.all(), "xlsx", "projects.xlsx")

    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == export_headers("projects")
    assert rows[1][:4] == [
        "Payments",
        "https://github.com/acme/payments",
        "Card payments",
        "archived",
    ]
    assert len(rows) == 2


def test_the_xlsx_holds_an_escaped_formula_as_text():
    Bug.objects.create(title="=1+1")

    content = exported("bugs", "xlsx")

    title = openpyxl.load_workbook(io.BytesIO(content)).active["B2"]
    assert (title.value, title.data_type) == ("'=1+1", "s")


def test_control_characters_xlsx_cannot_hold_are_left_out():
    Bug.objects.create(title="Bell\x07 rings")

    content = exported("bugs", "xlsx")

    assert openpyxl.load_workbook(io.BytesIO(content)).active["B2"].value == "Bell rings"


def test_an_unknown_format_is_refused_naming_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown export format 'pdf'; valid: csv, xlsx\."):
        export_response("bugs", Bug.objects.all(), "pdf", "bugs.pdf")


# --- Queries ----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 20])
def test_bugs_export_in_one_query_whatever_their_number(
    count, payments, ada, django_assert_num_queries
):
    sam = Person.objects.create(name="Sam Rivers")
    for index in range(count):
        Bug.objects.create(title=f"Bug {index}", project=payments, assignee=ada, reporter=sam)

    with django_assert_num_queries(1):
        content = exported("bugs")

    assert content.count(b"\r\n") == count + 1


@pytest.mark.parametrize("count", [1, 20])
def test_people_export_in_two_queries_whatever_their_number(count, django_assert_num_queries):
    for index in range(count):
        person = Person.objects.create(name=f"Person {index}", email=f"p{index}@example.com")
        Identity.objects.create(
            source="github", external_id=str(index), username=f"p{index}", person=person
        )

    with django_assert_num_queries(2):
        content = exported("people")

    assert content.count(b"\r\n") == count + 1


@pytest.mark.parametrize("count", [1, 20])
def test_hours_export_in_one_query_whatever_their_number(
    count, payments, ada, django_assert_num_queries
):
    bug = Bug.objects.create(title="Declined cards", project=payments)
    for index in range(count):
        EngineeringHours.objects.create(person=ada, hours=1, bug=bug, note=f"Entry {index}")

    with django_assert_num_queries(1):
        content = exported("hours")

    assert content.count(b"\r\n") == count + 1


# --- Round trip -------------------------------------------------------------------------


@pytest.fixture
def tracked_work():
    """Rows of every type, with every kind of value and reference the import reads."""
    ada = Person.objects.create(name="Ada Lovelace", email="ada@example.com")
    grace = Person.objects.create(name="Grace Hopper", email="grace@example.com")
    sam = Person.objects.create(name="Sam Rivers")  # no email: found by name
    Person.objects.create(name="Zoë Ångström", email="zoe@example.com")
    for external_id, source, username, email, person in [
        ("g1", "github", "ada-l", "", ada),
        ("g2", "github", "ada-old", "", ada),
        ("s1", "slack", "grace", "", grace),
        ("j1", "jira", "", "sam@corp.example", sam),
    ]:
        Identity.objects.create(
            source=source, external_id=external_id, username=username, email=email, person=person
        )
    payments = Project.objects.create(
        name="Payments",
        github_url="https://github.com/acme/payments",
        description="=Card payments\nand refunds",
        status="archived",
        jira_project_key="PAY",
        owner=ada,
        tags=["backend", "payments"],
    )
    mobile = Project.objects.create(name="Mobile App", owner=sam, source="csv", external_id="P-7")
    Project.objects.create(name="acme/api", github_url="https://github.com/acme/api")
    declined = Bug.objects.create(
        title="Declined cards",
        description="-1 on every retry",
        severity="critical",
        priority="high",
        status="resolved",
        project=payments,
        assignee=ada,
        reporter=sam,
        sla_hours=48,
        created_at=dt.datetime(2026, 3, 1, 9, 30, 5, 123456, UTC),
        resolved_at=dt.datetime(2026, 3, 2, 17, 0, tzinfo=UTC),
        url="https://jira.example.com/browse/PAY-1",
        source="jira",
        external_id="10042",
    )
    Bug.objects.create(
        title="@here the app crashes",
        status="in_progress",
        project=mobile,
        reporter=grace,
        created_at=dt.datetime(2026, 2, 28, 23, 59, tzinfo=UTC),
    )
    Bug.objects.create(title="Unsorted", created_at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    EngineeringHours.objects.create(
        person=ada, date=dt.date(2026, 3, 2), hours=Decimal("1.5"), bug=declined, note="Call"
    )
    EngineeringHours.objects.create(
        person=sam, date=dt.date(2026, 3, 3), hours=8, project=mobile, external_id="manual-1"
    )
    EngineeringHours.objects.create(
        person=grace,
        date=dt.date(2026, 3, 3),
        hours=Decimal("0.25"),
        project=payments,
        note="+review",
        source="csv",
        external_id="H-1",
    )


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize("import_type", ["projects", "bugs", "hours", "people"])
def test_an_exported_file_imports_back_unchanged(tracked_work, import_type, file_format):
    rows = MODELS[import_type].objects.count()
    data = exported(import_type, file_format)

    outcome, report = import_file(io.BytesIO(data), f"export.{file_format}", import_type)
    report.close()

    assert outcome.row_errors == []
    assert (outcome.rows, outcome.unchanged) == (rows, rows)
    assert (outcome.created, outcome.updated, outcome.rejected) == (0, 0, 0)
