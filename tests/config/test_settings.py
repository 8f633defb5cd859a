"""Settings come from the environment: DATABASE_URL, DEBUG, secrets in files, UTC times.

Each case runs `config.settings` in a fresh child process, because settings are read
once at import and this test process has already imported them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

PROJECT_ROOT = Path(settings.BASE_DIR)
# Variables that would otherwise leak from the environment running the tests.
READ_BY_SETTINGS = ("DATABASE_URL", "DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "CONN_MAX_AGE")


def settings_seen_with(environment: dict[str, str], code: str) -> Any:
    """Import the hub's settings under `environment`, run `code`, return what it prints."""
    child_environment = {
        key: value for key, value in os.environ.items() if key not in READ_BY_SETTINGS
    }
    child_environment.setdefault("SECRET_KEY", "settings-test-only")
    child_environment.update(environment, DJANGO_SETTINGS_MODULE="config.settings")
    program = (
        "import json, django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from django.db import connection\n" + code
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT_ROOT,
        env=child_environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def database_seen_with(environment: dict[str, str]) -> dict[str, Any]:
    return settings_seen_with(
        environment, "print(json.dumps(settings.DATABASES['default'], default=str))"
    )


def test_a_postgres_database_url_selects_postgresql_with_its_parts():
    database = database_seen_with({"DATABASE_URL": "postgres://u:p@h:5433/db"})

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["HOST"]) == ("db", "u", "h")
    assert str(database["PORT"]) == "5433"


def test_postgresql_connections_are_kept_open_between_requests():
    database = database_seen_with({"DATABASE_URL": "postgres://u:p@h:5433/db"})

    assert database["CONN_MAX_AGE"] > 0


def test_without_a_database_url_the_hub_uses_an_sqlite_file_under_var():
    database = database_seen_with({})

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(database["NAME"]) == PROJECT_ROOT / "var" / "hub.sqlite3"


def test_an_sqlite_database_runs_in_wal_mode(tmp_path):
    database_file = tmp_path / "hub.sqlite3"

    journal_mode = settings_seen_with(
        {"DATABASE_URL": f"sqlite:///{database_file}"},
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('PRAGMA journal_mode')\n"
        "    print(json.dumps(cursor.fetchone()[0]))\n",
    )

    assert journal_mode == "wal"


def test_debug_is_off_unless_set():
    assert settings_seen_with({}, "print(json.dumps(settings.DEBUG))") is False


def test_debug_is_on_when_set():
    assert settings_seen_with({"DEBUG": "1"}, "print(json.dumps(settings.DEBUG))") is True


def test_a_secret_can_be_read_from_the_file_its_name_file_variable_points_at(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-a-mounted-file\n", encoding="utf-8")

    secret_key = settings_seen_with(
        {"SECRET_KEY": "from-the-environment", "SECRET_KEY_FILE": str(secret_file)},
        "print(json.dumps(settings.SECRET_KEY))",
    )

    assert secret_key == "from-a-mounted-file"


def test_the_admin_password_can_be_read_from_a_file(tmp_path):
    password_file = tmp_path / "admin_password"
    password_file.write_text("s3cret-from-file", encoding="utf-8")

    password = settings_seen_with(
        {"HUB_ADMIN_PASSWORD_FILE": str(password_file)},
        "print(json.dumps(settings.HUB_ADMIN_PASSWORD))",
    )

    assert password == "s3cret-from-file"


def test_times_are_timezone_aware_and_in_utc():
    assert settings.USE_TZ is True
    assert settings.TIME_ZONE == "UTC"
