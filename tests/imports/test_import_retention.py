"""Uploads and error reports are deleted after IMPORT_FILE_RETENTION_DAYS; history stays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ingestion.imports.service import (
    confirm_preview,
    delete_expired_import_files,
    start_import,
)
from ingestion.jobs import run_job
from ingestion.models import CsvImport

pytestmark = pytest.mark.django_db


def _finished_import(days_ago: int, content: bytes = b"title,severity\nA,urgent\n") -> CsvImport:
    csv_import = start_import(
        SimpleUploadedFile("bugs.csv", content), file_name="bugs.csv", import_type="bugs"
    )
    run_job(csv_import.job_id)
    finished = timezone.now() - dt.timedelta(days=days_ago)
    CsvImport.objects.filter(pk=csv_import.pk).update(finished_at=finished)
    csv_import.refresh_from_db()
    return csv_import


def test_old_uploads_and_reports_are_deleted_and_the_history_kept(settings):
    settings.IMPORT_FILE_RETENTION_DAYS = 30
    old = _finished_import(days_ago=31)
    upload_path, report_path = old.file.path, old.error_report.path

    assert delete_expired_import_files() == 2

    old.refresh_from_db()
    assert (old.file.name, old.error_report.name) == ("", "")
    assert old.file_sha256 and old.rejected == 1
    assert not Path(upload_path).exists()
    assert not Path(report_path).exists()


def test_recent_imports_keep_their_files(settings):
    settings.IMPORT_FILE_RETENTION_DAYS = 30
    recent = _finished_import(days_ago=29)

    assert delete_expired_import_files() == 0
    recent.refresh_from_db()
    assert recent.file.storage.exists(recent.file.name)


def test_an_old_previews_upload_stays_while_its_recent_confirmation_uses_it(settings):
    settings.IMPORT_FILE_RETENTION_DAYS = 30
    preview = start_import(
        SimpleUploadedFile("bugs.csv", b"title\nA\n"),
        file_name="bugs.csv",
        import_type="bugs",
        dry_run=True,
    )
    run_job(preview.job_id)
    CsvImport.objects.filter(pk=preview.pk).update(
        finished_at=timezone.now() - dt.timedelta(days=40)
    )
    preview.refresh_from_db()
    confirmation = confirm_preview(preview)

    delete_expired_import_files()

    assert confirmation.file.storage.exists(confirmation.file.name)
