"""Bugs created at the same moment by many writers still get distinct, consecutive numbers.

On PostgreSQL the writers are threads of this process, each with its own
connection. On SQLite the in-memory test database cannot stand for the real one
(shared-cache locking differs from a file's), so a child process runs the same
race against an SQLite file configured exactly as `DATABASE_URL=sqlite:///…` does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tracking.models import Bug

WRITERS = 20
EXPECTED_NUMBERS = [f"BUG-202405-{n:04d}" for n in range(1, WRITERS + 1)]
PROJECT_ROOT = Path(settings.BASE_DIR)


def create_bugs_at_once(writers: int) -> tuple[list[str], list[BaseException]]:
    """Start `writers` threads that each create one bug the moment all are ready."""
    created_at = dt.datetime(2024, 5, 15, 9, 30, tzinfo=dt.UTC)
    barrier = threading.Barrier(writers, timeout=30)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create_one(index: int) -> None:
        try:
            barrier.wait()
            bug = Bug.objects.create(title=f"Race {index}", created_at=created_at)
            with lock:
                numbers.append(bug.number)
        except BaseException as error:  # reported by the test, not swallowed
            with lock:
                errors.append(error)
        finally:
            # Each thread opened its own connection; leaving it open would block
            # the test database's teardown.
            connection.close()

    threads = [threading.Thread(target=create_one, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return numbers, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bugs_created_at_the_same_moment_get_consecutive_numbers_on_postgresql():
    numbers, errors = create_bugs_at_once(WRITERS)

    assert errors == []
    assert sorted(numbers) == EXPECTED_NUMBERS
    assert sorted(Bug.objects.values_list("number", flat=True)) == EXPECTED_NUMBERS


# The child process: the hub's own settings with DATABASE_URL pointing at an
# SQLite file, tables made from the models (as pytest --nomigrations does, so a
# migration being regenerated does not matter here), then the same race.
SQLITE_CHILD = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, os.environ["HUB_PROJECT_ROOT"])
    import django
    from django.conf import settings
    import config.settings as hub_settings

    class NoMigrations(dict):
        def __contains__(self, item):
            return True
        def __getitem__(self, item):
            return None

    values = {name: getattr(hub_settings, name) for name in dir(hub_settings) if name.isupper()}
    values["MIGRATION_MODULES"] = NoMigrations()
    settings.configure(**values)
    django.setup()
    from django.core.management import call_command
    call_command("migrate", run_syncdb=True, verbosity=0)

    from tests.tracking.test_bug_numbers_concurrent import create_bugs_at_once
    numbers, errors = create_bugs_at_once(int(os.environ["WRITERS"]))
    print(json.dumps({"numbers": numbers, "errors": [repr(e) for e in errors]}))
    """
)


def test_bugs_created_at_the_same_moment_get_consecutive_numbers_on_an_sqlite_file(tmp_path):
    database = tmp_path / "race.sqlite3"
    environment = {
        key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(
        DATABASE_URL=f"sqlite:///{database}",
        HUB_PROJECT_ROOT=str(PROJECT_ROOT),
        WRITERS=str(WRITERS),
        SECRET_KEY="race-test-only",
    )

    result = subprocess.run(
        [sys.executable, "-c", SQLITE_CHILD],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["errors"] == []
    assert sorted(outcome["numbers"]) == EXPECTED_NUMBERS
