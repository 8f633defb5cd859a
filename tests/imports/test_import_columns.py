"""Headers: aliases in any case and spacing, required and unknown columns."""

from __future__ import annotations

import pytest

from ingestion.choices import ImportStatus
from tracking.models import Bug, Project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("header", ["GitHub URL", "github_url", "Repo URL", " repo-url ", "GITHUB"])
def test_github_url_column_is_found_by_any_alias(import_text, header):
    import_text("projects", f"Name,{header}\nPayments,https://github.com/acme/payments\n")

    assert Project.objects.get().github_url == "https://github.com/acme/payments"


def test_a_missing_required_column_stops_the_import_before_any_row(import_text):
    csv_import = import_text("bugs", "severity,external_id\nhigh,LEG-1\n")

    assert csv_import.status == ImportStatus.FAILED
    assert "Missing required column: title" in csv_import.message
    assert "'severity', 'external_id'" in csv_import.message
    assert Bug.objects.count() == 0


def test_unknown_columns_are_reported_and_ignored(import_text):
    csv_import = import_text("bugs", "title,Colour,Votes\nA bug,red,3\n")

    assert csv_import.status == ImportStatus.SUCCEEDED
    assert csv_import.unknown_columns == ["Colour", "Votes"]
    assert "Ignored unknown columns: Colour, Votes." in csv_import.warnings
    assert Bug.objects.get().title == "A bug"


def test_two_headers_for_one_column_stop_the_import(import_text):
    csv_import = import_text("bugs", "title,Summary\nA,B\n")

    assert csv_import.status == ImportStatus.FAILED
    assert "'title' and 'Summary' both give the title" in csv_import.message


def test_an_error_column_of_a_fixed_report_is_not_called_unknown(import_text):
    csv_import = import_text("bugs", "title,error\nA bug,title: was too long\n")

    assert csv_import.unknown_columns == []
    assert csv_import.created == 1


def test_columns_are_recorded_with_the_field_they_fill(import_text):
    csv_import = import_text("bugs", "Summary,Issue Key\nA bug,LEG-1\n")

    assert csv_import.columns == {"Summary": "title", "Issue Key": "external_id"}
