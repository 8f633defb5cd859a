"""A real django-q2 cluster in a subprocess, sharing a real database with the test.

pytest-django keeps SQLite tests in an in-memory database no other process can
open. `shared_database` swaps the test's default connection for one to a fresh
database (an SQLite file, or a PostgreSQL database of its own) for the length of
one test, creating the tables the way pytest-django does, then swaps back: the
in-memory database stays open behind the saved connection, so the other tests
never notice. Rows the test writes are committed at once (no test transaction),
so the subprocess sees them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django.db import connections

ROOT = Path(__file__).resolve().parents[2]
BOOT = (
    "import django, os, sys;"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
    "django.setup();"
    "import tests.ingestion.job_streams;"
    "from django.core.management import call_command;"
    "call_command(*sys.argv[1:])"
)


@contextmanager
def shared_database(tmp_path: Path) -> Iterator[str]:
    """Yield the DATABASE_URL of a fresh database that the default connection now uses."""
    saved = connections["default"]
    # create_test_db renames the database in settings too: put the name back afterwards,
    # or every later use would append to it.
    original_name = saved.settings_dict["NAME"]
    settings_dict = dict(saved.settings_dict)
    if saved.vendor == "sqlite":
        name = str(tmp_path / "shared.sqlite3")
        url = f"sqlite:///{name}"
    else:
        name = f"hub_shared_{os.getpid()}"
        url = (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:"
            f"{settings_dict['PORT'] or 5432}/{name}"
        )
    settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "NAME": name}
    shared = saved.__class__(settings_dict, alias="default")
    connections["default"] = shared
    old_name = shared.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield url
    finally:
        shared.creation.destroy_test_db(old_name, verbosity=0)
        connections["default"] = saved
        saved.settings_dict["NAME"] = original_name


def django_process(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`manage.py <args>` with the test streams registered, in its own process group."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    full_env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.Popen(
        [sys.executable, "-c", BOOT, *args],
        cwd=ROOT,
        env=full_env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def qcluster(env: dict[str, str], log_path: Path, cluster: str = "") -> subprocess.Popen[bytes]:
    """`manage.py qcluster`: the default cluster, or `cluster` (a name in ALT_CLUSTERS).

    Q_CLUSTER_NAME is always set, so a value in the test's own environment never
    turns the default cluster into another one.
    """
    return django_process(["qcluster"], {**env, "Q_CLUSTER_NAME": cluster}, log_path)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the process and everything it started, and wait for it.

    SIGKILL goes to the whole process group (the cluster's workers too). SIGTERM goes
    to the main process only: a qcluster then stops its sentinel and workers itself,
    in about a second. Sent to the whole group, it kills the sentinel outright (SIGTERM
    is fatal there), maybe while it holds the lock of the stop event that the main
    process then waits on until the timeout below.
    """
    if process.poll() is None:
        if sig == signal.SIGKILL:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # Workers of a SIGKILLed cluster are orphans of the same group: reap them too.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def use_broker_here(redis_url: str, monkeypatch: Any) -> None:
    """Enqueue from this process on the broker the clusters read, as the web process does:
    Redis at `redis_url`, or the ORM broker when it is empty."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "ORM", None if redis_url else "default")
    monkeypatch.setattr(Conf, "REDIS", redis_url or Conf.REDIS)
