"""Default, all-or-nothing and dry-run imports; whole-file failures; the error report."""

from __future__ import annotations

import csv
import io

import pytest

from ingestion.choices import ImportStatus
from tracking.models import AuditLog, Bug

pytestmark = pytest.mark.django_db

MIXED = (
    "title,severity,external_id\nGood one,high,LEG-1\nBad one,urgent,LEG-2\nGood two,low,LEG-3\n"
)


def test_by_default_valid_rows_land_and_rejected_rows_are_reported(import_text):
    csv_import = import_text("bugs", MIXED)

    assert csv_import.status == ImportStatus.REJECTED_ROWS
    assert (csv_import.created, csv_import.rejected, csv_import.rows_done) == (2, 1, 3)
    assert sorted(Bug.objects.values_list("external_id", flat=True)) == ["LEG-1", "LEG-3"]


def test_atomic_import_writes_nothing_when_one_row_is_bad(import_text):
    csv_import = import_text("bugs", MIXED, atomic=True, batch_size=1)

    assert csv_import.status == ImportStatus.FAILED
    assert "1 of 3 rows were rejected" in csv_import.message
    assert Bug.objects.count() == 0
    assert not AuditLog.objects.exists()


def test_atomic_import_of_good_rows_lands_them_all(import_text):
    csv_import = import_text("bugs", "title\nA\nB\n", atomic=True)

    assert csv_import.status == ImportStatus.SUCCEEDED
    assert Bug.objects.count() == 2


def test_a_dry_run_counts_what_would_happen_and_writes_nothing(import_text):
    import_text("bugs", "title,external_id\nStored,LEG-1\n")

    preview = import_text(
        "bugs", "title,external_id\nStored,LEG-1\nNew,LEG-2\nBad,\nBad,LEG-2\n", dry_run=True
    )

    assert (preview.created, preview.unchanged, preview.rejected) == (2, 1, 1)
    assert list(Bug.objects.values_list("external_id", flat=True)) == ["LEG-1"]


def test_the_error_report_holds_the_rejected_rows_with_an_error_column(import_text):
    csv_import = import_text("bugs", MIXED)

    with csv_import.error_report.open("rb") as report:
        rows = list(csv.reader(io.StringIO(report.read().decode("utf-8-sig"))))
    assert rows == [
        ["title", "severity", "external_id", "error"],
        ["Bad one", "urgent", "LEG-2", "severity: Not one of: critical, high, medium, low."],
    ]


def test_a_fixed_error_report_imports_back(import_text):
    csv_import = import_text("bugs", MIXED)
    with csv_import.error_report.open("rb") as report:
        fixed = report.read().decode("utf-8-sig").replace("urgent", "critical")

    again = import_text("bugs", fixed, name="fixed.csv")

    assert (again.created, again.rejected, again.unknown_columns) == (1, 0, [])


def test_each_batch_commits_on_its_own(import_text):
    rows = "".join(f"Bug {n},LEG-{n}\n" for n in range(7))

    csv_import = import_text("bugs", f"title,external_id\n{rows}", batch_size=3)

    assert (csv_import.created, csv_import.rows_done, csv_import.rows_total) == (7, 7, 7)


def test_an_import_is_recorded_with_its_file_name_hash_and_size(import_text):
    csv_import = import_text("bugs", "title\nA\n", name="backlog.csv", created_by="alice")

    assert csv_import.file_name == "backlog.csv"
    assert len(csv_import.file_sha256) == 64
    assert csv_import.file_size == len(b"title\nA\n")
    assert csv_import.created_by == "alice"
    assert csv_import.finished_at is not None


# --- Encodings and formats ------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_utf8_with_or_without_bom_and_utf16_with_bom_import(import_text, encoding):
    import_text("bugs", "title\nCafé crème\n", file_encoding=encoding)

    assert Bug.objects.get().title == "Café crème"


def test_undecodable_input_names_the_first_bad_byte_and_writes_nothing(import_text):
    csv_import = import_text("bugs", "title\nCafé\n".encode("cp1252"))

    assert csv_import.status == ImportStatus.FAILED
    assert "offset 9" in csv_import.message
    assert Bug.objects.count() == 0


def test_a_declared_encoding_is_used_when_the_file_is_not_utf8(import_text):
    csv_import = import_text("bugs", "title\nCafé\n".encode("cp1252"), encoding="cp1252")

    assert csv_import.status == ImportStatus.SUCCEEDED
    assert Bug.objects.get().title == "Café"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_sniffed(import_text, delimiter):
    import_text("bugs", f'title{delimiter}severity\n"A, with comma"{delimiter}high\n')

    assert Bug.objects.get().title == "A, with comma"


def test_a_zip_disguised_as_csv_is_refused(import_text):
    csv_import = import_text("bugs", b"PK\x03\x04" + b"\x00" * 100, name="bugs.csv")

    assert csv_import.status == ImportStatus.FAILED
    assert "ZIP" in csv_import.message


def test_json_imports_like_csv(import_text):
    import_text("bugs", '[{"title": "From JSON", "severity": "high"}]', name="bugs.json")

    assert Bug.objects.get().severity == "high"


def test_xlsx_imports_like_csv(import_text):
    import tablib

    data = tablib.Dataset(headers=["title", "sla_hours", "created_at"])
    data.append(["From Excel", 12, "2026-01-02T03:04:05Z"])

    import_text("bugs", data.export("xlsx"), name="bugs.xlsx")

    bug = Bug.objects.get()
    assert (bug.title, bug.sla_hours) == ("From Excel", 12)
