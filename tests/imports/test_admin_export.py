"""Exporting from the admin: the change list as filtered, or the selected rows, as CSV or XLSX."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ingestion.jobs import run_job
from ingestion.models import CsvImport
from tests.tracking import factories

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

CHANGELISTS = {
    "projects": "admin:tracking_project_changelist",
    "bugs": "admin:tracking_bug_changelist",
    "hours": "admin:tracking_engineeringhours_changelist",
    "people": "admin:tracking_person_changelist",
}


def export_url(file_format: str, query: str = "", model: str = "bug") -> str:
    return reverse(f"admin:tracking_{model}_export", args=[file_format]) + query


def csv_rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def xlsx_rows(response) -> list[dict[str, str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


def export_selected(client, action: str, bugs):
    return client.post(
        reverse("admin:tracking_bug_changelist"),
        {"action": action, "_selected_action": [bug.pk for bug in bugs], "index": 0},
    )


# --- The change list as filtered -------------------------------------------------------


def test_export_buttons_carry_the_change_lists_filters(staff_client):
    page = staff_client.get(reverse("admin:tracking_bug_changelist") + "?severity__exact=high")
    assert f'href="{export_url("csv", "?severity__exact=high")}"' in page.text
    assert f'href="{export_url("xlsx", "?severity__exact=high")}"' in page.text


@pytest.mark.parametrize("import_type", sorted(CHANGELISTS))
def test_export_buttons_are_on_the_change_list(staff_client, import_type):
    page = staff_client.get(reverse(CHANGELISTS[import_type]))
    assert ">Export CSV</a>" in page.text
    assert ">Export XLSX</a>" in page.text


def test_filtered_export_contains_only_the_filtered_rows(staff_client):
    factories.make_bug(title="Checkout fails", severity="high")
    factories.make_bug(title="Logo is blurry", severity="low")
    response = staff_client.get(export_url("csv", "?severity__exact=high"))
    assert response.status_code == 200
    assert [row["title"] for row in csv_rows(response)] == ["Checkout fails"]


def test_export_follows_the_change_lists_search(staff_client):
    factories.make_bug(title="Checkout fails")
    factories.make_bug(title="Logo is blurry")
    response = staff_client.get(export_url("csv", "?q=logo"))
    assert [row["title"] for row in csv_rows(response)] == ["Logo is blurry"]


def test_export_leaves_out_deleted_bugs_as_the_change_list_does(staff_client):
    factories.make_bug(title="Still here")
    factories.make_bug(title="Gone").soft_delete()
    response = staff_client.get(export_url("csv"))
    assert [row["title"] for row in csv_rows(response)] == ["Still here"]


def test_export_is_an_attachment_named_after_the_type(staff_client):
    response = staff_client.get(export_url("csv"))
    assert response["Content-Disposition"].startswith('attachment; filename="bugs-')
    assert response["Content-Disposition"].endswith('.csv"')


def test_xlsx_export_is_a_workbook_of_the_filtered_rows(staff_client):
    factories.make_bug(title="Checkout fails", severity="high")
    factories.make_bug(title="Logo is blurry", severity="low")
    response = staff_client.get(export_url("xlsx", "?severity__exact=high"))
    assert response["Content-Type"] == XLSX
    assert [row["title"] for row in xlsx_rows(response)] == ["Checkout fails"]


@pytest.mark.parametrize("model", ["project", "engineeringhours", "person"])
def test_every_change_list_exports(staff_client, model):
    factories.make_hours()
    response = staff_client.get(export_url("csv", model=model))
    assert response.status_code == 200
    assert len(csv_rows(response)) == 1


def test_an_unknown_filter_goes_back_to_the_change_list_with_its_error(staff_client):
    response = staff_client.get(export_url("csv", "?colour=red"))
    assert response.status_code == 302
    assert response.url == reverse("admin:tracking_bug_changelist") + "?e=1"


def test_an_unknown_format_is_not_found(staff_client):
    assert staff_client.get(export_url("pdf")).status_code == 404


def test_plain_user_is_sent_to_the_login_page(plain_client):
    response = plain_client.get(export_url("csv"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_staff_without_view_permission_cannot_export(client, django_user_model):
    stranger = django_user_model.objects.create_user(username="stranger", is_staff=True)
    client.force_login(stranger)
    assert client.get(export_url("csv")).status_code == 403


# --- Selected rows ---------------------------------------------------------------------


def test_export_selected_as_csv_has_only_the_selected_rows(staff_client):
    chosen = factories.make_bug(title="Checkout fails")
    factories.make_bug(title="Logo is blurry")
    response = export_selected(staff_client, "export_selected_csv", [chosen])
    assert response.status_code == 200
    assert [row["title"] for row in csv_rows(response)] == ["Checkout fails"]


def test_export_selected_as_xlsx_is_a_workbook(staff_client):
    chosen = factories.make_bug(title="Checkout fails")
    factories.make_bug(title="Logo is blurry")
    response = export_selected(staff_client, "export_selected_xlsx", [chosen])
    assert response["Content-Type"] == XLSX
    assert [row["title"] for row in xlsx_rows(response)] == ["Checkout fails"]


@pytest.mark.parametrize("import_type", sorted(CHANGELISTS))
def test_export_actions_are_offered_on_each_change_list(staff_client, import_type):
    # The action bar shows only above rows.
    factories.make_hours(bug=factories.make_bug())
    factories.make_project()
    page = staff_client.get(reverse(CHANGELISTS[import_type]))
    assert '<option value="export_selected_csv">Export selected as CSV</option>' in page.text
    assert '<option value="export_selected_xlsx">Export selected as XLSX</option>' in page.text


# --- Round trip ------------------------------------------------------------------------


def test_an_exported_file_previews_as_all_unchanged(staff_client):
    factories.make_bug(title="Checkout fails", severity="high")
    factories.make_bug(title="Logo is blurry", severity="low")
    exported = b"".join(staff_client.get(export_url("csv")).streaming_content)
    staff_client.post(
        reverse("admin:tracking_bug_import"),
        {"file": SimpleUploadedFile("bugs.csv", exported)},
    )
    preview = CsvImport.objects.get()
    run_job(preview.job_id)
    page = staff_client.get(reverse("admin:tracking_bug_import_status", args=[preview.pk]))
    assert '<td class="count-unchanged">2</td>' in page.text
    assert "Nothing to import: every row is unchanged or rejected." in page.text
