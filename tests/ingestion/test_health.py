"""GET /api/health: open to all, 200 with each check, 503 when the database or broker is down."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from ingestion.breaker import record_failure
from ingestion.choices import JobKind, JobStatus
from ingestion.models import IngestionJob
from tests.ingestion.memory_streams import SOURCE  # registers the "test" source's streams

pytestmark = pytest.mark.django_db

PROJECT = Path(__file__).resolve().parents[2]
# Nothing listens on port 1 of the loopback: connections are refused at once.
CLOSED_PORT_URL = "127.0.0.1:1"


def health(client) -> tuple[int, dict]:
    response = client.get("/api/health")
    return response.status_code, response.json()


def health_in_a_fresh_process(database_url: str) -> tuple[int, dict]:
    """The health endpoint of a hub process started with `database_url`, through
    Django's test client (no server needed)."""
    script = (
        "import django, json\n"
        "django.setup()\n"
        "from django.test import Client\n"
        "response = Client().get('/api/health')\n"
        "print(json.dumps({'status': response.status_code, 'body': response.json()}))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "testserver",
        "REDIS_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["status"], answer["body"]


def test_healthy_hub_answers_200_without_authentication(client):
    status, body = health(client)

    assert status == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    expected_kind = "redis" if django_settings.REDIS_URL else "orm"
    assert body["checks"]["broker"] == {"status": "ok", "kind": expected_kind}


def test_each_sources_breaker_is_shown_closed_by_default(client):
    _, body = health(client)

    breakers = {b["key"]: b for b in body["checks"]["breakers"]["breakers"]}
    assert breakers[SOURCE]["state"] == "closed"


def test_an_open_breaker_degrades_health_but_keeps_200(client, settings):
    settings.INGEST_BREAKER_FAILURES = 5
    for _ in range(5):
        record_failure(SOURCE)

    status, body = health(client)

    assert status == 200
    assert body["status"] == "degraded"
    breakers = {b["key"]: b for b in body["checks"]["breakers"]["breakers"]}
    assert breakers[SOURCE]["state"] == "open"
    assert breakers[SOURCE]["consecutive_failures"] == 5
    assert breakers[SOURCE]["seconds_until_half_open"] > 0


def test_redis_broker_that_answers_ping_is_up(client, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": "redis://127.0.0.1:6379/15"}

    status, body = health(client)

    assert status == 200
    assert body["checks"]["broker"] == {"status": "ok", "kind": "redis"}


def test_unreachable_redis_broker_makes_health_503(client, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": f"redis://{CLOSED_PORT_URL}/0"}

    status, body = health(client)

    assert status == 503
    assert body["status"] == "down"
    assert body["checks"]["broker"]["status"] == "down"
    assert "ConnectionError" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


def test_redis_password_never_appears_in_the_broker_error(client, settings):
    settings.Q_CLUSTER = {
        **settings.Q_CLUSTER,
        "redis": f"redis://:hunter2-redis-password@{CLOSED_PORT_URL}/0",
    }

    response = client.get("/api/health")

    assert response.status_code == 503
    assert b"hunter2" not in response.content


def test_unreachable_postgres_database_makes_health_503():
    status, body = health_in_a_fresh_process(f"postgres://postgres@{CLOSED_PORT_URL}/hub")

    assert status == 503
    assert body["checks"]["database"]["status"] == "down"
    assert "OperationalError" in body["checks"]["database"]["error"]
    assert body["checks"]["worker"]["status"] == "skipped"


def test_unopenable_sqlite_database_makes_health_503(tmp_path):
    missing = tmp_path / "no-such-directory" / "hub.sqlite3"

    status, body = health_in_a_fresh_process(f"sqlite:///{missing}")

    assert status == 503
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["broker"]["status"] == "down"


def test_worker_with_a_fresh_job_heartbeat_is_ok(client):
    IngestionJob.objects.create(
        kind=JobKind.SYNC, status=JobStatus.RUNNING, heartbeat_at=timezone.now()
    )

    _, body = health(client)

    assert body["checks"]["worker"]["status"] == "ok"


def test_running_job_with_an_old_heartbeat_shows_a_stale_worker(client):
    IngestionJob.objects.create(
        kind=JobKind.SYNC,
        status=JobStatus.RUNNING,
        heartbeat_at=timezone.now() - dt.timedelta(minutes=10),
    )

    status, body = health(client)

    assert status == 200
    assert body["checks"]["worker"]["status"] == "stale"
    assert body["status"] == "degraded"


def test_idle_worker_is_unknown_not_down(client):
    IngestionJob.objects.create(
        kind=JobKind.SYNC, status=JobStatus.SUCCEEDED, finished_at=timezone.now()
    )

    status, body = health(client)

    assert status == 200
    assert body["checks"]["worker"]["status"] == "unknown"
    assert body["checks"]["worker"]["last_job_finished_at"] is not None


def test_health_is_get_only(client):
    assert client.post("/api/health").status_code == 405


def test_health_shows_no_configured_secret(client, settings):
    settings.GITHUB_TOKEN = "ghp_" + "x" * 36

    response = client.get("/api/health")

    assert settings.GITHUB_TOKEN.encode() not in response.content
    assert django_settings.SECRET_KEY.encode() not in response.content
