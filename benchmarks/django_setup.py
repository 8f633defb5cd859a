"""What every benchmark does before it measures: a fresh database and Django on it.

    from benchmarks.django_setup import fresh_django, prepare_database, setup_django

Tables come straight from the models (as `pytest --nomigrations` makes them), so a
benchmark measures the hub, not the migrations.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare_database(kind: str, postgres_url: str, folder: str) -> None:
    """Point DATABASE_URL at an empty database: an SQLite file in `folder`, or the
    PostgreSQL database of `postgres_url`, dropped and created again."""
    if kind == "sqlite":
        # config/settings.py opens SQLite files in WAL mode with synchronous=NORMAL.
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        return
    import psycopg

    server, _, name = postgres_url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = postgres_url


def setup_django(**environment: str) -> None:
    """Set `environment`, start Django and create its tables (and the cache table)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update(environment)
    from django.conf import settings

    class NoMigrations:
        def __contains__(self, item: str) -> bool:
            return True

        def __getitem__(self, item: str) -> None:
            return None

    settings.MIGRATION_MODULES = NoMigrations()
    settings.LOGGING_CONFIG = None
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)
    call_command("createcachetable", verbosity=0)


@contextmanager
def fresh_django(kind: str, postgres_url: str, **environment: str) -> Iterator[None]:
    """Django set up with `environment` on an empty database (`prepare_database`; an
    SQLite file lasts as long as the block)."""
    with tempfile.TemporaryDirectory() as folder:
        prepare_database(kind, postgres_url, folder)
        setup_django(**environment)
        yield
