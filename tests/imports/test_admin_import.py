"""Importing through the admin: upload → preview → confirm → summary, and every refusal."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ingestion.choices import ImportStatus
from ingestion.jobs import run_job
from ingestion.models import CsvImport
from tests.tracking import factories
from tracking.models import Bug

pytestmark = pytest.mark.django_db

BUGS_WITH_ONE_BAD_ROW = (
    b"title,severity,status\n"
    b"Login page is slow,high,open\n"
    b"Export crashes,urgent,open\n"
    b"Typo on the pricing page,low,open\n"
)

CHANGELISTS = {
    "projects": "admin:tracking_project_changelist",
    "bugs": "admin:tracking_bug_changelist",
    "hours": "admin:tracking_engineeringhours_changelist",
    "people": "admin:tracking_person_changelist",
}


def upload(client, content: bytes, file_name: str = "bugs.csv", **fields):
    return client.post(
        reverse("admin:tracking_bug_import"),
        {"file": SimpleUploadedFile(file_name, content), **fields},
    )


def page_of(csv_import: CsvImport) -> str:
    return reverse("admin:tracking_bug_import_status", args=[csv_import.pk])


def finished_preview(client, content: bytes = BUGS_WITH_ONE_BAD_ROW, **fields) -> CsvImport:
    upload(client, content, **fields)
    preview = CsvImport.objects.latest("id")
    run_job(preview.job_id)
    preview.refresh_from_db()
    return preview


def confirmed_import(client, preview: CsvImport) -> CsvImport:
    client.post(reverse("admin:tracking_bug_import_confirm", args=[preview.pk]))
    csv_import = CsvImport.objects.get(preview_of=preview)
    run_job(csv_import.job_id)
    csv_import.refresh_from_db()
    return csv_import


# --- The upload page -------------------------------------------------------------------


def test_import_page_lists_the_accepted_columns_and_how_rows_are_matched(staff_client):
    page = staff_client.get(reverse("admin:tracking_bug_import"))
    assert page.status_code == 200
    for column in ("title", "severity", "assignee", "external_id"):
        assert f"<code>{column}</code>" in page.text
    assert "<code>summary</code>" in page.text  # an alias of title
    assert "One of: critical, high, medium, low." in page.text
    assert "by bug number, then by (source, external id)" in page.text


def test_import_page_links_the_template(staff_client):
    page = staff_client.get(reverse("admin:tracking_bug_import"))
    assert reverse("admin:tracking_bug_import_template") in page.text
    assert "bugs-template.csv" in page.text


@pytest.mark.parametrize("import_type", sorted(CHANGELISTS))
def test_import_button_is_on_the_change_list(staff_client, import_type):
    page = staff_client.get(reverse(CHANGELISTS[import_type]))
    import_url = reverse(CHANGELISTS[import_type].replace("_changelist", "_import"))
    assert f'href="{import_url}"' in page.text
    assert ">Import</a>" in page.text


# --- Upload → progress → preview → confirm → summary -----------------------------------


def test_upload_redirects_to_the_import_page_which_shows_the_progress(staff_client):
    response = upload(staff_client, BUGS_WITH_ONE_BAD_ROW)
    preview = CsvImport.objects.get()
    assert response.status_code == 302
    assert response.url == page_of(preview)
    page = staff_client.get(response.url)
    assert preview.dry_run and preview.status == ImportStatus.QUEUED
    assert 'id="import-progress"' in page.text
    assert reverse("admin:tracking_bug_import_progress", args=[preview.pk]) in page.text
    assert "imports/progress.js" in page.text
    assert "Queued" in page.text


def test_preview_shows_what_would_be_created_and_each_rejected_row(staff_client):
    preview = finished_preview(staff_client)
    page = staff_client.get(page_of(preview))
    assert '<td class="count-created">2</td>' in page.text
    assert '<td class="count-rejected">1</td>' in page.text
    row_error = preview.row_errors[0]
    assert (row_error["row"], row_error["column"], row_error["value"]) == (3, "severity", "urgent")
    assert (
        f"<tr><td>3</td><td>severity</td><td>urgent</td><td>{row_error['reason']}</td></tr>"
        in page.text.replace("&#x27;", "'")
    )
    assert "Confirm import" in page.text


def test_preview_writes_nothing(staff_client):
    finished_preview(staff_client)
    assert not Bug.objects.exists()


def test_preview_shows_the_fields_an_update_would_change(staff_client):
    bug = factories.make_bug(title="Old title", severity="low")
    content = f"number,title,severity\n{bug.number},New title,low\n".encode()
    preview = finished_preview(staff_client, content)
    page = staff_client.get(page_of(preview))
    assert '<td class="count-updated">1</td>' in page.text
    assert "<code>title</code>: Old title → New title" in page.text
    assert reverse("admin:tracking_bug_change", args=[bug.pk]) in page.text


def test_preview_shows_unknown_columns(staff_client):
    preview = finished_preview(staff_client, b"title,colour\nA bug,red\n")
    page = staff_client.get(page_of(preview))
    assert "Ignored unknown column: colour." in page.text
    assert "The accepted columns are listed on the" in page.text


def test_a_preview_that_failed_as_a_whole_shows_why_and_offers_no_confirm(staff_client):
    preview = finished_preview(staff_client, b"severity,status\nhigh,open\n")
    page = staff_client.get(page_of(preview))
    assert preview.status == ImportStatus.FAILED
    assert preview.message in page.text.replace("&#x27;", "'").replace("&quot;", '"')
    assert "Confirm import" not in page.text
    assert "Upload a corrected file" in page.text


def test_all_or_nothing_preview_with_rejected_rows_cannot_be_confirmed(staff_client):
    preview = finished_preview(staff_client, atomic="on")
    page = staff_client.get(page_of(preview))
    assert "All or nothing is on and 1 rows are rejected" in page.text
    assert "Confirm import" not in page.text


def test_a_preview_whose_file_was_cleaned_up_cannot_be_confirmed(staff_client):
    preview = finished_preview(staff_client)
    CsvImport.objects.filter(pk=preview.pk).update(file="")  # what the cleanup job does
    page = staff_client.get(page_of(preview))
    assert "The file of this preview is not kept" in page.text
    assert "Confirm import" not in page.text


def test_confirming_a_preview_redirects_to_the_new_import(staff_client):
    preview = finished_preview(staff_client)
    response = staff_client.post(reverse("admin:tracking_bug_import_confirm", args=[preview.pk]))
    csv_import = CsvImport.objects.get(preview_of=preview)
    assert response.status_code == 302
    assert response.url == page_of(csv_import)
    assert not csv_import.dry_run
    assert csv_import.user.username == "staff"


def test_confirmed_import_writes_the_good_rows(staff_client):
    confirmed_import(staff_client, finished_preview(staff_client))
    assert sorted(Bug.objects.values_list("title", flat=True)) == [
        "Login page is slow",
        "Typo on the pricing page",
    ]


def test_finished_import_shows_the_summary_and_the_error_report_link(staff_client):
    csv_import = confirmed_import(staff_client, finished_preview(staff_client))
    page = staff_client.get(page_of(csv_import))
    assert '<td class="count-created">2</td>' in page.text
    assert '<td class="count-rejected">1</td>' in page.text
    assert "Outcome: Succeeded with rejected rows" in page.text
    assert reverse("admin:tracking_bug_import_report", args=[csv_import.pk]) in page.text
    assert reverse("admin:tracking_bug_changelist") in page.text
    assert 'id="import-progress"' not in page.text


def test_error_report_download_lists_the_rejected_rows_with_an_error_column(staff_client):
    csv_import = confirmed_import(staff_client, finished_preview(staff_client))
    response = staff_client.get(reverse("admin:tracking_bug_import_report", args=[csv_import.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="bugs-errors.csv"' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert "error" in rows[0]
    assert [row["title"] for row in rows] == ["Export crashes"]


def test_import_without_rejected_rows_has_no_report(staff_client):
    preview = finished_preview(staff_client, b"title\nA good bug\n")
    csv_import = confirmed_import(staff_client, preview)
    response = staff_client.get(reverse("admin:tracking_bug_import_report", args=[csv_import.pk]))
    assert response.status_code == 404


def test_confirming_twice_imports_the_file_once(staff_client):
    preview = finished_preview(staff_client)
    url = reverse("admin:tracking_bug_import_confirm", args=[preview.pk])
    first = staff_client.post(url)
    second = staff_client.post(url)
    assert first.url == second.url
    assert CsvImport.objects.filter(preview_of=preview).count() == 1


def test_confirm_needs_a_post(staff_client):
    preview = finished_preview(staff_client)
    response = staff_client.get(reverse("admin:tracking_bug_import_confirm", args=[preview.pk]))
    assert response.status_code == 405


def test_an_unfinished_preview_cannot_be_confirmed(staff_client):
    upload(staff_client, BUGS_WITH_ONE_BAD_ROW)
    preview = CsvImport.objects.get()
    staff_client.post(reverse("admin:tracking_bug_import_confirm", args=[preview.pk]))
    assert not CsvImport.objects.filter(preview_of=preview).exists()


def test_import_of_another_type_is_not_found_under_this_change_list(staff_client):
    preview = finished_preview(staff_client)
    response = staff_client.get(reverse("admin:tracking_project_import_status", args=[preview.pk]))
    assert response.status_code == 404


# --- Progress --------------------------------------------------------------------------


def test_progress_endpoint_reports_a_queued_import(staff_client):
    upload(staff_client, BUGS_WITH_ONE_BAD_ROW)
    preview = CsvImport.objects.get()
    progress = staff_client.get(
        reverse("admin:tracking_bug_import_progress", args=[preview.pk])
    ).json()
    assert progress["status"] == "queued"
    assert progress["finished"] is False
    assert progress["rows_done"] == 0


def test_progress_endpoint_reports_the_counts_when_finished(staff_client):
    preview = finished_preview(staff_client)
    progress = staff_client.get(
        reverse("admin:tracking_bug_import_progress", args=[preview.pk])
    ).json()
    assert progress["finished"] is True
    assert progress["percent"] == 100
    assert (progress["rows_done"], progress["created"], progress["rejected"]) == (3, 2, 1)


# --- Refusals --------------------------------------------------------------------------


def test_zip_disguised_as_csv_is_refused_with_the_reason(staff_client):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("bugs.csv", "title\nA bug\n")
    response = upload(staff_client, archive.getvalue(), "bugs.csv")
    assert response.status_code == 200
    assert "ZIP archive" in response.text
    assert not CsvImport.objects.exists()


def test_upload_over_the_limit_names_the_limit(staff_client, settings):
    settings.IMPORT_MAX_BYTES = 10
    response = upload(staff_client, BUGS_WITH_ONE_BAD_ROW)
    assert response.status_code == 200
    assert "larger than the upload limit of 10 bytes" in response.text
    assert not CsvImport.objects.exists()


def test_upload_without_a_file_asks_for_one(staff_client):
    response = staff_client.post(reverse("admin:tracking_bug_import"), {})
    assert response.status_code == 200
    assert "Choose a file to import." in response.text


def test_upload_with_an_unknown_encoding_is_refused(staff_client):
    response = upload(staff_client, BUGS_WITH_ONE_BAD_ROW, encoding="klingon")
    assert 'Unknown encoding "klingon"' in response.text.replace("&quot;", '"')
    assert not CsvImport.objects.exists()


@pytest.mark.parametrize(
    "url_name, args",
    [
        ("admin:tracking_bug_import", []),
        ("admin:tracking_bug_import_template", []),
        ("admin:tracking_bug_import_status", [1]),
        ("admin:tracking_bug_import_progress", [1]),
        ("admin:tracking_bug_import_report", [1]),
    ],
)
def test_plain_user_is_sent_to_the_login_page(plain_client, url_name, args):
    response = plain_client.get(reverse(url_name, args=args))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_plain_user_cannot_upload(plain_client):
    upload(plain_client, BUGS_WITH_ONE_BAD_ROW)
    assert not CsvImport.objects.exists()


def test_staff_without_add_permission_cannot_import(client, django_user_model):
    viewer = django_user_model.objects.create_user(username="viewer", is_staff=True)
    client.force_login(viewer)
    response = client.get(reverse("admin:tracking_bug_import"))
    assert response.status_code == 403


# --- Templates -------------------------------------------------------------------------


def test_bugs_template_downloads_the_repository_fixture(staff_client, settings):
    response = staff_client.get(reverse("admin:tracking_bug_import_template"))
    assert response.status_code == 200
    assert 'filename="bugs-template.csv"' in response["Content-Disposition"]
    expected = (settings.BASE_DIR / "fixtures" / "bugs-template.csv").read_bytes()
    assert b"".join(response.streaming_content) == expected


def test_projects_template_downloads_the_repository_fixture(staff_client):
    response = staff_client.get(reverse("admin:tracking_project_import_template"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"name,github_url,")


def test_without_a_fixture_the_template_is_the_header_row(staff_client, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    response = staff_client.get(reverse("admin:tracking_engineeringhours_import_template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content == b"person,date,hours,bug,project,note,external_id\r\n"


# --- The history -----------------------------------------------------------------------


def test_history_lists_each_import_with_links_to_its_page_and_report(staff_client):
    csv_import = confirmed_import(staff_client, finished_preview(staff_client))
    page = staff_client.get(reverse("admin:ingestion_csvimport_changelist"))
    assert page.status_code == 200
    assert "bugs.csv" in page.text
    assert csv_import.file_sha256[:12] in page.text
    assert page_of(csv_import) in page.text
    assert reverse("admin:tracking_bug_import_report", args=[csv_import.pk]) in page.text


def test_history_is_read_only(staff_client):
    csv_import = finished_preview(staff_client)
    page = staff_client.get(reverse("admin:ingestion_csvimport_change", args=[csv_import.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert staff_client.get(reverse("admin:ingestion_csvimport_add")).status_code == 403
