"""SIGKILL at random points, ten times, then resume: the tables equal an uninterrupted run's.

Every sync runs in a subprocess (`manage.py sync` through `call_command`) against a
database of its own: an SQLite file, or a fresh PostgreSQL database when the
suite runs on PostgreSQL. One database gets an uninterrupted sync; the other is
killed ten times mid-run and resumed; their rows are then compared field by field.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
COMMITS = 50_000
KILLS = 10

# Runs in the subprocess: Django without migrations (the tables come from the
# models, as with pytest --nomigrations), the in-memory test streams registered.
BOOTSTRAP = """
import json, os, sys
sys.path.insert(0, os.environ["HUB_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from django.conf import settings

class NoMigrations:
    def __contains__(self, item):
        return True
    def __getitem__(self, item):
        return None

settings.MIGRATION_MODULES = NoMigrations()
import django
django.setup()
from django.core.management import call_command
import tests.ingestion.memory_streams  # registers test/repositories and test/commits

command = sys.argv[1]
if command == "migrate":
    call_command("migrate", run_syncdb=True, verbosity=0)
elif command == "sync":
    call_command("sync", "test", sys.argv[2])
elif command == "dump":
    from ingestion.models import RawRecord, RejectedRecord, SyncState
    from tracking.models import Commit, Identity, Repository
    commits = [
        [c.external_id, c.raw_signature, c.repository.external_id, c.author.external_id,
         c.author.person.email, c.sha, c.branches, c.message, c.committed_at.isoformat(),
         c.additions, c.deletions]
        for c in Commit.objects.select_related("repository", "author__person").order_by(
            "external_id")
    ]
    print(json.dumps({
        "commits": commits,
        "repositories": list(Repository.objects.order_by("external_id").values_list(
            "external_id", "raw_signature")),
        "identities": list(Identity.objects.order_by("external_id").values_list(
            "external_id", "username", "person__email")),
        "raw": list(RawRecord.objects.filter(entity="commits").order_by(
            "external_id").values_list("external_id", "payload_signature")),
        "rejected": RejectedRecord.objects.count(),
        "cursor": SyncState.objects.get(entity="commits").cursor,
    }))
"""


def subprocess_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUB_ROOT": str(ROOT),
        "HUB_MEMORY_STREAM_COMMITS": str(COMMITS),
        "PYTHONUNBUFFERED": "1",
    }


def hub(database_url: str, *args: str) -> str:
    finished = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, *args],
        env=subprocess_env(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


def prepared_database(database_url: str) -> str:
    hub(database_url, "migrate")
    hub(database_url, "sync", "repositories")
    return database_url


@pytest.fixture
def new_database(tmp_path) -> Iterator:
    """Makes empty databases of the kind the suite runs on; drops them afterwards."""
    default = settings.DATABASES["default"]
    created: list[str] = []

    def make(label: str) -> str:
        if default["ENGINE"].endswith("sqlite3"):
            return f"sqlite:///{tmp_path / label}.sqlite3"
        import psycopg

        name = f"hub_crash_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(**server_params(default), dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        password = f":{default['PASSWORD']}" if default.get("PASSWORD") else ""
        return f"postgres://{default['USER']}{password}@{default['HOST']}:{default['PORT']}/{name}"

    yield make
    if created:
        import psycopg

        with psycopg.connect(**server_params(default), dbname="postgres", autocommit=True) as c:
            for name in created:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_params(default: dict) -> dict:
    params = {"user": default["USER"], "host": default["HOST"], "port": default["PORT"] or 5432}
    if default.get("PASSWORD"):
        params["password"] = default["PASSWORD"]
    return params


def kill_mid_run(database_url: str, rng: random.Random) -> bool:
    """Start a sync, let it commit a page or two, SIGKILL it; True if it was still running."""
    process = subprocess.Popen(
        [sys.executable, "-c", BOOTSTRAP, "sync", "commits"],
        env=subprocess_env(database_url),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        pages_to_see = rng.randint(1, 2)
        seen = 0
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("page "):
                seen += 1
                if seen == pages_to_see:
                    break
        # A random moment inside the next page: fetching, normalizing, or mid-transaction.
        time.sleep(rng.uniform(0, 0.15))
        was_running = process.poll() is None
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)  # reaped, so the lock's holder is seen as dead at once
    return was_running


@pytest.mark.slow
def test_sync_killed_ten_times_ends_with_the_rows_of_an_uninterrupted_sync(new_database):
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    reference = prepared_database(new_database("reference"))
    crashed = prepared_database(new_database("crashed"))
    hub(reference, "sync", "commits")
    expected = json.loads(hub(reference, "dump"))

    interrupted = [kill_mid_run(crashed, rng) for _ in range(KILLS)]
    summary = hub(crashed, "sync", "commits")
    actual = json.loads(hub(crashed, "dump"))

    assert all(interrupted), f"a sync finished before its kill (seed {seed})"
    assert "succeeded" in summary
    assert len(actual["commits"]) == COMMITS
    assert len({row[0] for row in actual["commits"]}) == COMMITS  # no duplicate
    assert actual == expected, f"tables differ after resuming (seed {seed})"
