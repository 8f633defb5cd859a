"""Helpers for import tests: write a file, import it the way the CLI does, read the outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from ingestion.imports.service import import_path
from ingestion.models import CsvImport

TEMPLATES = Path(settings.BASE_DIR) / "fixtures"


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def import_text(tmp_path):
    """import_text("bugs", "title\\nA bug\\n") → the finished CsvImport."""

    def run(
        import_type: str,
        content: str | bytes,
        *,
        name: str = "upload.csv",
        file_encoding: str = "utf-8",
        **options,
    ) -> CsvImport:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(file_encoding))
        return import_path(path, import_type, **options)

    return run


@pytest.fixture
def import_template():
    def run(name: str, import_type: str, **options) -> CsvImport:
        return import_path(TEMPLATES / name, import_type, **options)

    return run


@pytest.fixture
def template_people_and_projects(import_template):
    import_template("people-template.csv", "people")
    import_template("projects-template.csv", "projects")
