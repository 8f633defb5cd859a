"""`manage.py import_csv`: the summary, the exit codes, the modes and the progress bar."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.ingestion.qcluster_helpers import shared_database
from tracking.models import Bug, Person, Project

pytestmark = pytest.mark.django_db

HEADER = "title,severity,project,assignee,external_id\n"
GOOD_ROWS = (
    "Checkout times out,high,Payments,ada@example.com,LEG-1\n"
    "Invoice PDF blank,low,Payments,,LEG-2\n"
)
BAD_ROW = "Search crashes,urgent,Payments,,LEG-3\n"


@dataclass
class Finished:
    exit_code: int
    stdout: str
    stderr: str


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, as a person's is."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def payments_and_ada():
    Project.objects.create(name="Payments")
    Person.objects.create(name="Ada", email="ada@example.com")


@pytest.fixture
def csv_file(tmp_path):
    def write(content: str | bytes, name: str = "bugs.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return write


def import_csv(*arguments: str, stderr: io.StringIO | None = None) -> Finished:
    """The command as `manage.py` runs it, with CommandError's exit code."""
    stdout, stderr = io.StringIO(), stderr or io.StringIO()
    exit_code = 0
    try:
        call_command("import_csv", *arguments, stdout=stdout, stderr=stderr)
    except CommandError as error:
        exit_code = error.returncode
        stderr.write(str(error))
    return Finished(exit_code, stdout.getvalue(), stderr.getvalue())


def test_a_good_file_is_imported_and_summed_up(csv_file):
    finished = import_csv("bugs", str(csv_file(HEADER + GOOD_ROWS)))

    assert finished.exit_code == 0
    assert "2 rows: 2 created, 0 updated, 0 unchanged, 0 rejected" in finished.stdout
    assert "rows/s" in finished.stdout
    assert sorted(Bug.objects.values_list("external_id", flat=True)) == ["LEG-1", "LEG-2"]


def test_importing_the_same_file_again_leaves_every_row_unchanged(csv_file):
    path = csv_file(HEADER + GOOD_ROWS)
    import_csv("bugs", str(path))

    finished = import_csv("bugs", str(path))

    assert finished.exit_code == 0
    assert "2 rows: 0 created, 0 updated, 2 unchanged, 0 rejected" in finished.stdout


def test_rejected_rows_exit_1_with_row_column_value_and_reason(csv_file):
    finished = import_csv("bugs", str(csv_file(HEADER + GOOD_ROWS + BAD_ROW)))

    assert finished.exit_code == 1
    assert (
        "row 4, column severity ('urgent'): Not one of: critical, high, medium, low."
        in finished.stdout
    )
    assert "1 row was rejected; the other rows were imported." in finished.stderr
    assert Bug.objects.count() == 2


def test_the_summary_names_the_error_report_of_the_rejected_rows(csv_file):
    finished = import_csv("bugs", str(csv_file(HEADER + BAD_ROW)))

    report = finished.stdout.split("Error report (the rejected rows, to fix and import again): ")
    assert len(report) == 2
    path = Path(report[1].strip())
    assert path.is_file()
    assert path.is_relative_to(settings.MEDIA_ROOT)


def test_only_the_first_20_row_errors_are_printed(csv_file):
    rows = "".join(f"Bug {n},urgent,Payments,,LEG-{n}\n" for n in range(1, 31))

    finished = import_csv("bugs", str(csv_file(HEADER + rows)))

    assert "Row errors (the first 20; every rejected row is in the error report):" in (
        finished.stdout
    )
    assert "row 21, column severity" in finished.stdout
    assert "row 22, column severity" not in finished.stdout
    assert "30 rows were rejected" in finished.stderr


def test_unknown_columns_are_named(csv_file):
    finished = import_csv("bugs", str(csv_file("title,colour,external_id\nA,red,LEG-1\n")))

    assert finished.exit_code == 0
    assert "Unknown columns (ignored): colour" in finished.stdout


def test_a_dry_run_writes_nothing_and_says_so(csv_file):
    finished = import_csv("bugs", str(csv_file(HEADER + GOOD_ROWS)), "--dry-run")

    assert finished.exit_code == 0
    assert "nothing was written" in finished.stdout
    assert "2 rows would be: 2 created, 0 updated, 0 unchanged, 0 rejected" in finished.stdout
    assert not Bug.objects.exists()


def test_an_atomic_import_with_a_bad_row_writes_nothing(csv_file):
    path = csv_file(HEADER + GOOD_ROWS + BAD_ROW)

    finished = import_csv("bugs", str(path), "--atomic", "--batch-size", "1")

    assert finished.exit_code == 1
    assert "1 row was rejected, so nothing was written (--atomic)." in finished.stderr
    assert "row 4, column severity ('urgent')" in finished.stdout
    assert not Bug.objects.exists()


def test_a_missing_required_column_exits_2_naming_it(csv_file):
    finished = import_csv("bugs", str(csv_file("headline,severity\nA,high\n")))

    assert finished.exit_code == 2
    assert "Missing required column: title." in finished.stderr
    assert finished.stdout == ""


def test_an_undecodable_file_exits_2_with_the_offset_of_the_bad_byte(csv_file):
    finished = import_csv("bugs", str(csv_file(b"title\nCaf\xe9 crash\n")))

    assert finished.exit_code == 2
    assert "not valid UTF-8: the first bad byte is at offset 9 (0xE9)" in finished.stderr
    assert not Bug.objects.exists()


def test_encoding_names_the_codec_of_a_file_that_is_not_utf8(csv_file):
    # An en dash and curly quotes: bytes 0x96, 0x93, 0x94 in cp1252, invalid as UTF-8.
    title = "Caf\u00e9 crash \u2013 \u201cquoted\u201d"
    path = csv_file(f"title,external_id\n{title},LEG-1\n".encode("cp1252"))

    finished = import_csv("bugs", str(path), "--encoding", "cp1252")

    assert finished.exit_code == 0
    assert Bug.objects.get().title == title


def test_an_unknown_type_is_refused():
    finished = import_csv("bugz", "bugs.csv")

    assert finished.exit_code == 2
    assert "Unknown import type 'bugz'; valid: projects, bugs, hours, people." in finished.stderr


def test_a_missing_file_is_refused(tmp_path):
    finished = import_csv("bugs", str(tmp_path / "nowhere.csv"))

    assert finished.exit_code == 2
    assert "nowhere.csv does not exist." in finished.stderr


def test_batch_size_must_be_a_positive_number(csv_file):
    with pytest.raises(CommandError, match="--batch-size: invalid positive_integer value: '0'"):
        call_command("import_csv", "bugs", str(csv_file(HEADER + GOOD_ROWS)), "--batch-size", "0")


def test_the_progress_bar_is_drawn_on_a_terminal(csv_file):
    terminal = Terminal()

    import_csv("bugs", str(csv_file(HEADER + GOOD_ROWS)), "--batch-size", "1", stderr=terminal)

    assert "100%" in terminal.getvalue()


def test_no_progress_bar_when_stderr_is_not_a_terminal(csv_file):
    finished = import_csv("bugs", str(csv_file(HEADER + GOOD_ROWS)))

    assert finished.stderr == ""


def test_no_progress_bar_on_a_terminal_with_no_progress(csv_file):
    terminal = Terminal()

    import_csv("bugs", str(csv_file(HEADER + GOOD_ROWS)), "--no-progress", stderr=terminal)

    assert terminal.getvalue() == ""


def test_the_progress_bar_counts_rows_when_the_total_is_known(csv_file):
    terminal = Terminal()
    path = csv_file('[{"title": "A", "external_id": "LEG-1"}]', name="bugs.json")

    import_csv("bugs", str(path), stderr=terminal)

    assert "1/1" in terminal.getvalue()
    assert "rows" in terminal.getvalue()


# --- A real `manage.py import_csv` process ------------------------------------------------


@pytest.fixture
def committed_database(tmp_path, django_db_setup, django_db_blocker):
    """A database another process can open, with Payments and Ada committed."""
    with django_db_blocker.unblock(), shared_database(tmp_path) as url:
        Project.objects.create(name="Payments")
        Person.objects.create(name="Ada", email="ada@example.com")
        yield url


@pytest.mark.parametrize(
    ("content", "exit_code", "shown"),
    [
        (HEADER + GOOD_ROWS, 0, "2 rows: 2 created"),
        (HEADER + GOOD_ROWS + BAD_ROW, 1, "CommandError: 1 row was rejected"),
        ("headline\nA\n", 2, "CommandError: Nothing was imported from bugs.csv: Missing"),
    ],
    ids=["imported", "rows rejected", "file failed"],
)
def test_the_exit_code_of_manage_py(
    committed_database, csv_file, tmp_path, content, exit_code, shown
):
    path = csv_file(content)
    environment = {
        **os.environ,
        "DATABASE_URL": committed_database,
        "MEDIA_ROOT": str(tmp_path / "media"),
    }

    finished = subprocess.run(
        [sys.executable, "manage.py", "import_csv", "bugs", str(path)],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == exit_code, finished.stderr
    assert shown in finished.stdout + finished.stderr
