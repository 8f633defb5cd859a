"""Invariant 3: no token, secret or Authorization header in logs, errors, API responses or admin.

Known secrets are configured, then fed through failing runs the way real
failures carry them: an upstream error message quoting the token, a client
error echoing the request's Authorization header, a crash whose traceback holds
the token, a rejected record whose error names it. Every output a person can see
is then searched for the secrets.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from ingestion import streams
from ingestion.errors import PermanentError, RecordRejected, TransientError
from ingestion.jobs import enqueue_sync, run_job
from ingestion.logging import JsonFormatter, RedactSecretsFilter, TextFormatter
from ingestion.models import IngestionJob, RejectedRecord, SyncRun
from ingestion.streams import FetchContext, Page, Row, Stream
from tracking.models import Repository

pytestmark = pytest.mark.django_db

SECRETS = {
    "GITHUB_TOKEN": "ghp_" + "Q" * 30 + "leak01",
    "JIRA_API_TOKEN": "jira-api-token-leak-02",
    "JIRA_PAT": "NzE2MjM4OTk0NjY0OkleakPat03",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-leakSlackBot04",
    "SLACK_SIGNING_SECRET": "slack-signing-secret-leak-05",
    "GITHUB_WEBHOOK_SECRET": "github-webhook-secret-leak-06",
    "HUB_ENCRYPTION_KEY": "hub-encryption-key-leak-07",
    "SOCIAL_AUTH_GITHUB_SECRET": "social-auth-secret-leak-08",
}
# A token nobody configured, recognisable only by its shape.
UNCONFIGURED_TOKEN = "github_pat_11AAAAAAA0leak09_" + "z" * 40
SOURCE = "leaky"

# What each failing stream raises; the messages carry the secrets as real
# client libraries would (an echoed header, a URL with a token, a repr).
FAILURES = {
    "transient": lambda: TransientError(
        f"GET https://api.example.test/x?access_token={SECRETS['GITHUB_TOKEN']} answered 503"
    ),
    "permanent": lambda: PermanentError(
        "401 Bad credentials; request headers: "
        f"{{'Authorization': 'token {SECRETS['GITHUB_TOKEN']}', 'Accept': 'json'}} "
        f"jira={SECRETS['JIRA_API_TOKEN']} pat={SECRETS['JIRA_PAT']}"
    ),
    "crash": lambda: RuntimeError(
        f"client bug with {SECRETS['SLACK_BOT_TOKEN']} and {UNCONFIGURED_TOKEN} and "
        f"Authorization: Bearer {SECRETS['SLACK_SIGNING_SECRET']}"
    ),
}


class FailingStream(Stream):
    source = SOURCE
    model = Repository
    failure: str = ""

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        raise FAILURES[self.failure]()
        yield  # a generator, like every stream

    def natural_key(self, record: dict[str, Any]) -> str:
        return str(record["id"])


class RejectingStream(Stream):
    source = SOURCE
    entity = "rejecting"
    model = Repository

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        yield Page(records=[{"id": 1}], next_cursor=None)

    def natural_key(self, record: dict[str, Any]) -> str:
        return str(record["id"])

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        raise RecordRejected(
            f"payload echoed Authorization: token {SECRETS['GITHUB_WEBHOOK_SECRET']} "
            f"and key {SECRETS['HUB_ENCRYPTION_KEY']} {SECRETS['SOCIAL_AUTH_GITHUB_SECRET']}"
        )


def failing_stream_class(failure: str) -> type[Stream]:
    return type(
        f"Failing{failure.title()}Stream", (FailingStream,), {"entity": failure, "failure": failure}
    )


@pytest.fixture
def leaky_streams() -> Iterator[list[str]]:
    classes = [failing_stream_class(name) for name in FAILURES] + [RejectingStream]
    for stream_class in classes:
        streams.register(stream_class)
    yield [stream_class.entity for stream_class in classes]
    for stream_class in classes:
        streams._registry.pop(f"{SOURCE}/{stream_class.entity}", None)


@pytest.fixture(autouse=True)
def configured_secrets(settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    settings.INGEST_MAX_ATTEMPTS = 1  # the transient failure goes straight to the DLQ


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every record at DEBUG, through the handler setup settings.LOGGING uses, in both formats."""
    output = io.StringIO()
    root = logging.getLogger()
    handlers = []
    for formatter in (TextFormatter(), JsonFormatter()):
        handler = logging.StreamHandler(output)
        handler.addFilter(RedactSecretsFilter())
        handler.setFormatter(formatter)
        handler.setLevel(logging.DEBUG)
        root.addHandler(handler)
        handlers.append(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    yield output
    root.setLevel(previous_level)
    for handler in handlers:
        root.removeHandler(handler)


@pytest.fixture
def failed_runs(leaky_streams, captured_logs) -> list[IngestionJob]:
    jobs = []
    for entity in leaky_streams:
        job = enqueue_sync(SOURCE, entity, created_by="test")
        run_job(job.pk)
        job.refresh_from_db()
        jobs.append(job)
    return jobs


def leaked_in(text: str) -> list[str]:
    candidates = [*SECRETS.values(), UNCONFIGURED_TOKEN]
    return [secret for secret in candidates if secret in text]


def test_the_failing_runs_really_failed_with_their_errors_recorded(failed_runs):
    statuses = {job.entity: job.status for job in failed_runs}

    assert statuses == {
        "transient": "dead",
        "permanent": "failed",
        "crash": "dead",
        "rejecting": "succeeded",
    }
    assert all(job.last_error for job in failed_runs if job.entity != "rejecting")
    assert RejectedRecord.objects.filter(source=SOURCE).count() == 1


def test_no_secret_in_the_logs(failed_runs, captured_logs):
    logs = captured_logs.getvalue()

    assert "Traceback" in logs  # the crash was logged with its traceback
    assert leaked_in(logs) == []


def test_no_secret_in_job_errors(failed_runs):
    errors = "\n".join(IngestionJob.objects.values_list("last_error", flat=True))

    assert "[REDACTED]" in errors
    assert leaked_in(errors) == []


def test_no_secret_in_run_errors(failed_runs):
    errors = "\n".join(SyncRun.objects.filter(source=SOURCE).values_list("error", flat=True))

    assert errors.strip()
    assert leaked_in(errors) == []


def test_no_secret_in_rejected_record_errors(failed_runs):
    errors = "\n".join(RejectedRecord.objects.values_list("error", flat=True))

    assert errors.strip()
    assert leaked_in(errors) == []


@pytest.mark.parametrize(
    "url",
    [
        "/api/pipeline/jobs",
        "/api/pipeline/dlq",
        "/api/pipeline/stats",
        "/api/metrics",
        "/api/health",
        "/metrics",
    ],
)
def test_no_secret_in_api_responses(failed_runs, staff_client, url):
    response = staff_client.get(url)

    assert response.status_code == 200
    assert leaked_in(response.content.decode()) == []


def test_no_secret_in_any_job_detail(failed_runs, staff_client):
    for job in failed_runs:
        response = staff_client.get(f"/api/pipeline/jobs/{job.pk}")

        assert leaked_in(response.content.decode()) == []


def test_no_secret_in_a_validation_error_echoing_the_input(staff_client):
    response = staff_client.post(
        "/api/pipeline/jobs",
        {"kind": "sync", "params": {"source": SECRETS["GITHUB_TOKEN"], "entity": "x"}},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert leaked_in(response.content.decode()) == []


@pytest.mark.parametrize(
    "model", [IngestionJob, SyncRun, RejectedRecord], ids=lambda model: model.__name__
)
def test_no_secret_in_admin_pages(failed_runs, staff_client, model):
    opts = model._meta
    base = f"/admin/{opts.app_label}/{opts.model_name}/"
    pages = [base] + [f"{base}{pk}/change/" for pk in model.objects.values_list("pk", flat=True)]

    for page in pages:
        response = staff_client.get(page)

        assert response.status_code == 200, page
        assert leaked_in(response.content.decode()) == [], page
