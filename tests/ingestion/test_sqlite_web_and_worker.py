"""The embedded default (SQLite + ORM broker) holds a web server and a worker writing together."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from ingestion.choices import JobStatus
from ingestion.jobs import enqueue_sync
from ingestion.models import IngestionJob
from tests.ingestion import job_streams
from tests.ingestion.qcluster_helpers import django_process, shared_database, stop, wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (127.0.0.1 only)
            return response.status
    except (urllib.error.URLError, ConnectionError) as error:
        return getattr(error, "code", 0)


def log_in(base: str) -> int:
    """A full admin login: it writes a session row and the user's last_login."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base}/admin/login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "username": "viewer",
            "password": "viewer-pass-123",
            "next": "/admin/login/",
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (127.0.0.1 only)
        f"{base}/admin/login/", data=form, headers={"Referer": f"{base}/admin/login/"}
    )
    try:
        with opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_web_requests_and_a_busy_worker_share_sqlite_without_database_is_locked(
    tmp_path, django_db_setup, django_db_blocker, monkeypatch
):
    if connection.vendor != "sqlite":
        pytest.skip("this test is about SQLite")
    monkeypatch.setenv("JOBTEST_STATE_DIR", str(tmp_path / "state"))
    port = free_port()
    log = tmp_path / "processes.log"
    with django_db_blocker.unblock(), shared_database(tmp_path) as database_url:
        get_user_model().objects.create_user("viewer", password="viewer-pass-123", is_staff=True)
        env = {"DATABASE_URL": database_url, "JOBTEST_STATE_DIR": str(tmp_path / "state")}
        web = django_process(
            ["runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"], env, log
        )
        worker = django_process(["qcluster"], {**env, "INGEST_WORKERS": "2"}, log)
        try:
            # Slow pages (0.3 s each, one commit per page) keep the worker writing for
            # several seconds, so the logins below really overlap its transactions.
            jobs = [
                enqueue_sync(job_streams.SOURCE, "repositories", scope=f"slow-{n}-8")
                for n in range(6)
            ]
            wait_for(
                lambda: get(f"http://127.0.0.1:{port}/admin/login/") == 200,
                timeout=30,
                what="the web server",
            )
            statuses = []
            while IngestionJob.objects.exclude(status=JobStatus.SUCCEEDED).exists():
                statuses.append(log_in(f"http://127.0.0.1:{port}"))
                if len(statuses) > 300:
                    break
        finally:
            stop(web)
            stop(worker)
        output = log.read_text()
        assert "database is locked" not in output
        assert set(statuses) == {200}
        assert len(statuses) >= 5
        assert {job.status for job in IngestionJob.objects.filter(pk__in=[j.pk for j in jobs])} == {
            JobStatus.SUCCEEDED
        }
