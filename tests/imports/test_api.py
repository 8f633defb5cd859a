"""The import API: upload, follow the progress, confirm a preview, history, error report,
and every refusal (size, format, fields, permissions)."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ingestion.choices import ImportStatus
from ingestion.imports.service import start_import
from ingestion.jobs import run_job
from ingestion.models import CsvImport, IngestionJob
from tracking.models import Bug

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/api/ingest/csv"
HISTORY_URL = "/api/ingest/csv/history"
BUGS_CSV = b"title,severity,external_id\nLogin fails,high,LEG-1\nExport hangs,low,LEG-2\n"
ONE_BAD_ROW_CSV = (
    b"title,severity,external_id\nLogin fails,high,LEG-1\nReport broken,apocalyptic,LEG-2\n"
)


def csv_file(content: bytes = BUGS_CSV, name: str = "bugs.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def upload(client: Client, content: bytes = BUGS_CSV, name: str = "bugs.csv", **fields):
    return client.post(UPLOAD_URL, {"type": "bugs", "file": csv_file(content, name), **fields})


def progress_of(client: Client, import_id: int) -> dict:
    response = client.get(f"/api/ingest/csv/progress/{import_id}")
    assert response.status_code == 200
    return response.json()


def uploaded_and_run(client: Client, content: bytes = BUGS_CSV, **fields) -> dict:
    """POST the file, run its job as a worker would, return the finished progress."""
    accepted = upload(client, content, **fields).json()
    run_job(accepted["job_id"])
    return progress_of(client, accepted["id"])


def stored_import(content: bytes = BUGS_CSV, **options) -> CsvImport:
    return start_import(csv_file(content), file_name="bugs.csv", import_type="bugs", **options)


def nothing_stored() -> bool:
    return not CsvImport.objects.exists() and not IngestionJob.objects.exists()


# --- The whole flow ------------------------------------------------------------------


def test_upload_preview_confirm_and_import_with_progress_polling(staff_client):
    preview = upload(staff_client, dry_run="true")
    assert preview.status_code == 202
    preview_id = preview.json()["id"]
    assert progress_of(staff_client, preview_id)["status"] == "queued"

    run_job(preview.json()["job_id"])
    previewed = progress_of(staff_client, preview_id)
    assert (previewed["status"], previewed["percent"]) == ("succeeded", 100)
    assert previewed["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert not Bug.objects.exists()

    confirmation = staff_client.post(UPLOAD_URL, {"preview_id": preview_id})
    assert confirmation.status_code == 202
    assert confirmation.json()["dry_run"] is False
    run_job(confirmation.json()["job_id"])

    imported = progress_of(staff_client, confirmation.json()["id"])
    assert imported["status"] == "succeeded"
    assert imported["counts"]["created"] == 2
    assert sorted(Bug.objects.values_list("title", flat=True)) == ["Export hangs", "Login fails"]


# --- POST /api/ingest/csv ------------------------------------------------------------


def test_an_upload_answers_202_with_the_import_its_job_and_where_to_follow_it(staff_client):
    response = upload(staff_client, dry_run="true")

    body = response.json()
    csv_import = CsvImport.objects.get(pk=body["id"])
    assert response.status_code == 202
    assert (body["job_id"], body["status"], body["dry_run"]) == (csv_import.job_id, "queued", True)
    assert body["progress_url"].endswith(f"/api/ingest/csv/progress/{csv_import.pk}")
    assert response["Location"] == body["progress_url"]
    assert body["links"]["job"].endswith(f"/api/pipeline/jobs/{csv_import.job_id}")
    assert body["links"]["history"].endswith(HISTORY_URL)


def test_an_upload_is_stored_with_its_name_hash_and_uploader(staff_client):
    body = upload(staff_client).json()

    csv_import = CsvImport.objects.get(pk=body["id"])
    assert csv_import.file_name == "bugs.csv"
    assert csv_import.file_sha256 == hashlib.sha256(BUGS_CSV).hexdigest()
    assert csv_import.created_by == "staff"
    assert csv_import.file.read() == BUGS_CSV


def test_an_import_of_bugs_creates_the_rows(staff_client):
    finished = uploaded_and_run(staff_client)

    assert finished["status"] == "succeeded"
    assert Bug.objects.filter(external_id="LEG-1", title="Login fails").exists()


def test_a_finished_dry_run_shows_what_would_happen_and_writes_nothing(staff_client):
    finished = uploaded_and_run(staff_client, dry_run="true")

    assert finished["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert (finished["rows_done"], finished["rows_total"]) == (2, 2)
    assert not Bug.objects.exists()


def test_an_atomic_import_with_one_bad_row_fails_and_writes_nothing(staff_client):
    finished = uploaded_and_run(staff_client, ONE_BAD_ROW_CSV, atomic="true")

    assert finished["status"] == ImportStatus.FAILED
    assert finished["atomic"] is True
    assert "wrote nothing" in finished["message"]
    assert not Bug.objects.exists()


def test_an_import_with_a_bad_row_keeps_the_good_rows(staff_client):
    finished = uploaded_and_run(staff_client, ONE_BAD_ROW_CSV)

    assert finished["status"] == ImportStatus.REJECTED_ROWS
    assert list(Bug.objects.values_list("external_id", flat=True)) == ["LEG-1"]


def test_confirming_a_preview_keeps_its_atomic_choice(staff_client):
    preview = uploaded_and_run(staff_client, ONE_BAD_ROW_CSV, dry_run="true", atomic="true")

    confirmation = staff_client.post(UPLOAD_URL, {"preview_id": preview["id"]}).json()
    run_job(confirmation["job_id"])

    assert confirmation["atomic"] is True
    assert progress_of(staff_client, confirmation["id"])["status"] == ImportStatus.FAILED
    assert not Bug.objects.exists()


def test_confirming_a_preview_that_has_not_finished_is_a_400(staff_client):
    preview = upload(staff_client, dry_run="true").json()

    response = staff_client.post(UPLOAD_URL, {"preview_id": preview["id"]})

    assert response.status_code == 400
    assert "finished" in response.json()["preview_id"][0]


def test_confirming_an_import_that_was_not_a_preview_is_a_400(staff_client):
    finished = uploaded_and_run(staff_client)

    response = staff_client.post(UPLOAD_URL, {"preview_id": finished["id"]})

    assert response.status_code == 400
    assert "not a preview" in response.json()["preview_id"][0]


def test_confirming_an_unknown_preview_is_a_400_naming_the_field(staff_client):
    response = staff_client.post(UPLOAD_URL, {"preview_id": 999999})

    assert response.status_code == 400
    assert response.json()["preview_id"] == ["No import 999999."]


def test_an_upload_without_a_file_is_a_400_naming_the_field(staff_client):
    response = staff_client.post(UPLOAD_URL, {"type": "bugs"})

    assert response.status_code == 400
    assert "No file was submitted" in response.json()["file"][0]
    assert nothing_stored()


def test_an_unknown_type_is_a_400_listing_the_valid_ones(staff_client):
    response = staff_client.post(UPLOAD_URL, {"type": "tickets", "file": csv_file()})

    assert response.status_code == 400
    assert response.json()["type"] == [
        '"tickets" is not an import type; valid: projects, bugs, hours, people.'
    ]
    assert nothing_stored()


def test_a_dry_run_that_is_not_a_boolean_is_a_400_naming_the_field(staff_client):
    response = upload(staff_client, dry_run="maybe")

    assert response.status_code == 400
    assert "dry_run" in response.json()
    assert nothing_stored()


def test_an_unknown_encoding_is_a_400_naming_the_field(staff_client):
    response = upload(staff_client, encoding="klingon-8")

    assert response.status_code == 400
    assert "klingon-8" in response.json()["encoding"][0]
    assert nothing_stored()


def test_a_zip_archive_named_csv_is_a_400_on_the_file(staff_client):
    response = upload(staff_client, b"PK\x03\x04" + b"\x00" * 200, name="bugs.csv")

    assert response.status_code == 400
    assert "ZIP archive" in response.json()["file"][0]
    assert nothing_stored()


def test_a_file_with_an_extension_the_hub_does_not_import_is_a_400(staff_client):
    response = upload(staff_client, name="bugs.pdf")

    assert response.status_code == 400
    assert ".pdf" in response.json()["file"][0]
    assert nothing_stored()


# --- Size limit ----------------------------------------------------------------------


def test_an_upload_declared_larger_than_the_limit_is_refused_before_its_body_is_read(
    staff_client, settings
):
    settings.IMPORT_MAX_BYTES = 1000

    # The test client's payload fails loudly if read past its real (small) size, so a
    # parsed body would not come back as a 413.
    response = staff_client.post(
        UPLOAD_URL,
        {"type": "bugs", "file": csv_file()},
        CONTENT_LENGTH=str(2 * 1024**3),
    )

    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["detail"]
    assert "IMPORT_MAX_BYTES" in response.json()["detail"]
    assert "MiB" in response.json()["detail"]
    assert nothing_stored()


def test_the_size_check_comes_before_the_csrf_check_that_would_read_the_body(staff_user, settings):
    settings.IMPORT_MAX_BYTES = 1000
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)

    response = browser.post(
        UPLOAD_URL, {"type": "bugs", "file": csv_file()}, CONTENT_LENGTH=str(2 * 1024**3)
    )

    assert response.status_code == 413
    assert nothing_stored()


def test_an_upload_whose_body_exceeds_the_limit_is_a_413_and_stores_nothing(staff_client, settings):
    settings.IMPORT_MAX_BYTES = 1000
    large = b"title\n" + b"A bug\n" * 20_000

    response = upload(staff_client, large)

    assert response.status_code == 413
    assert "IMPORT_MAX_BYTES" in response.json()["detail"]
    assert nothing_stored()


def test_a_file_just_over_the_limit_is_a_413_naming_the_limit(staff_client, settings):
    settings.IMPORT_MAX_BYTES = len(BUGS_CSV) - 1

    response = upload(staff_client)

    assert response.status_code == 413
    assert f"{len(BUGS_CSV) - 1:,} bytes" in response.json()["detail"]
    assert "IMPORT_MAX_BYTES" in response.json()["detail"]
    assert nothing_stored()


def test_a_file_of_exactly_the_limit_is_accepted(staff_client, settings):
    settings.IMPORT_MAX_BYTES = len(BUGS_CSV)

    assert upload(staff_client).status_code == 202


# --- Who may upload ------------------------------------------------------------------


def test_an_anonymous_upload_is_refused(client):
    response = upload(client)

    assert response.status_code == 403
    assert nothing_stored()


def test_a_plain_user_may_not_upload(plain_client):
    response = upload(plain_client)

    assert response.status_code == 403
    assert "tracking.add_bug" in response.json()["detail"]
    assert nothing_stored()


@pytest.fixture
def bug_adder_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="triager", password="triage-pass-1")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="tracking", codename="add_bug")
    )
    client.force_login(user)
    return client


def test_a_user_who_may_add_bugs_may_import_bugs(bug_adder_client):
    assert upload(bug_adder_client).status_code == 202


def test_a_user_who_may_add_bugs_may_not_import_projects(bug_adder_client):
    response = bug_adder_client.post(UPLOAD_URL, {"type": "projects", "file": csv_file()})

    assert response.status_code == 403
    assert "tracking.add_project" in response.json()["detail"]
    assert nothing_stored()


# --- GET /api/ingest/csv/progress/<id> -----------------------------------------------


def test_a_plain_user_can_read_the_progress_of_a_queued_import(plain_client):
    csv_import = stored_import()

    progress = progress_of(plain_client, csv_import.pk)

    assert (progress["status"], progress["percent"], progress["rows_done"]) == ("queued", 0, 0)
    assert progress["job"] == {
        "id": csv_import.job_id,
        "status": "queued",
        "attempts": 0,
        "last_error": "",
    }
    assert progress["error_report_url"] is None


def test_progress_of_a_finished_import_shows_its_times_in_utc(plain_client):
    csv_import = stored_import()
    run_job(csv_import.job_id)

    progress = progress_of(plain_client, csv_import.pk)

    assert progress["job"]["status"] == "succeeded"
    for moment in ("created_at", "started_at", "finished_at"):
        assert progress[moment].endswith("Z")


def test_progress_shows_each_rejected_row_with_its_column_and_reason(plain_client):
    csv_import = stored_import(ONE_BAD_ROW_CSV)
    run_job(csv_import.job_id)

    progress = progress_of(plain_client, csv_import.pk)

    assert progress["counts"]["rejected"] == 1
    [row_error] = progress["row_errors"]
    assert (row_error["row"], row_error["column"], row_error["value"]) == (
        3,
        "severity",
        "apocalyptic",
    )
    assert progress["error_report_url"].endswith(f"/api/ingest/csv/{csv_import.pk}/report")


def test_progress_of_an_unknown_import_is_a_404(plain_client):
    assert plain_client.get("/api/ingest/csv/progress/999999").status_code == 404


def test_progress_needs_a_signed_in_user(client):
    csv_import = stored_import()

    assert client.get(f"/api/ingest/csv/progress/{csv_import.pk}").status_code == 403


# --- GET /api/ingest/csv/history -----------------------------------------------------


def test_history_lists_a_preview_and_its_confirmation_newest_first_with_hashes(staff_client):
    preview = uploaded_and_run(staff_client, dry_run="true")
    confirmation = staff_client.post(UPLOAD_URL, {"preview_id": preview["id"]}).json()
    run_job(confirmation["job_id"])

    results = staff_client.get(HISTORY_URL).json()["results"]

    assert [entry["id"] for entry in results] == [confirmation["id"], preview["id"]]
    assert {entry["file_sha256"] for entry in results} == {hashlib.sha256(BUGS_CSV).hexdigest()}
    assert [entry["dry_run"] for entry in results] == [False, True]
    assert results[0]["created_by"] == "staff"
    assert results[0]["file_name"] == "bugs.csv"
    assert results[0]["counts"]["created"] == 2
    assert results[0]["status"] == "succeeded"
    assert results[0]["created_at"].endswith("Z")


def test_history_links_the_error_report_of_an_import_with_rejected_rows(plain_client):
    csv_import = stored_import(ONE_BAD_ROW_CSV)
    run_job(csv_import.job_id)

    [entry] = plain_client.get(HISTORY_URL).json()["results"]

    assert entry["error_report_url"].endswith(f"/api/ingest/csv/{csv_import.pk}/report")


def test_history_filters_by_type_status_and_dry_run(plain_client):
    wanted = stored_import(dry_run=True)
    run_job(wanted.job_id)
    stored_import(dry_run=True)  # still queued
    finished_import = stored_import()
    run_job(finished_import.job_id)

    response = plain_client.get(
        HISTORY_URL, {"type": "bugs", "status": "succeeded", "dry_run": "true"}
    )

    assert [entry["id"] for entry in response.json()["results"]] == [wanted.pk]


def test_history_with_an_unknown_status_is_a_400_naming_the_field(plain_client):
    response = plain_client.get(HISTORY_URL, {"status": "exploded"})

    assert response.status_code == 400
    assert "status" in response.json()


def test_history_pages_with_a_cursor(plain_client):
    imports = [stored_import() for _ in range(3)]

    first = plain_client.get(HISTORY_URL, {"limit": 2}).json()
    second = plain_client.get(first["next"]).json()

    listed = [entry["id"] for entry in first["results"] + second["results"]]
    assert listed == [csv_import.pk for csv_import in reversed(imports)]
    assert "count" not in first
    assert second["next"] is None


def test_history_needs_a_signed_in_user(client):
    assert client.get(HISTORY_URL).status_code == 403


# --- GET /api/ingest/csv/<id>/report -------------------------------------------------


def test_the_error_report_is_a_csv_of_the_rejected_rows_with_an_error_column(plain_client):
    csv_import = stored_import(ONE_BAD_ROW_CSV)
    run_job(csv_import.job_id)

    response = plain_client.get(f"/api/ingest/csv/{csv_import.pk}/report")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="bugs-errors.csv"' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == ["title", "severity", "external_id", "error"]
    [row] = rows
    assert row[:3] == ["Report broken", "apocalyptic", "LEG-2"]
    assert "severity" in row[3]


def test_the_error_report_downloads_when_the_client_asks_for_csv(plain_client):
    csv_import = stored_import(ONE_BAD_ROW_CSV)
    run_job(csv_import.job_id)

    response = plain_client.get(
        f"/api/ingest/csv/{csv_import.pk}/report", headers={"accept": "text/csv"}
    )

    assert response.status_code == 200
    b"".join(response.streaming_content)  # read to the end, which closes the file


def test_an_import_without_rejected_rows_has_no_error_report(plain_client):
    csv_import = stored_import()
    run_job(csv_import.job_id)

    response = plain_client.get(f"/api/ingest/csv/{csv_import.pk}/report")

    assert response.status_code == 404
    assert "no row was rejected" in response.json()["detail"]


def test_the_error_report_of_an_unknown_import_is_a_404(plain_client):
    assert plain_client.get("/api/ingest/csv/999999/report").status_code == 404


def test_the_error_report_needs_a_signed_in_user(client):
    csv_import = stored_import(ONE_BAD_ROW_CSV)
    run_job(csv_import.job_id)

    assert client.get(f"/api/ingest/csv/{csv_import.pk}/report").status_code == 403
