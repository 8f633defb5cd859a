"""Bad credentials fail at once, saying what to fix; 429 and 5xx go to the pipeline's backoff."""

from __future__ import annotations

import pytest
from django.utils import timezone

from ingestion import jobs
from ingestion.choices import JobStatus
from ingestion.errors import Deferred, PermanentError, TransientError
from ingestion.health import run_checks
from ingestion.models import SyncRun
from sources.jira.models import JiraSite
from tracking.models import Issue

pytestmark = pytest.mark.django_db

SEARCH = "^/rest/api/3/search/jql$"


def test_a_wrong_cloud_api_token_fails_at_the_first_request_naming_the_variables(jira, settings):
    settings.JIRA_API_TOKEN = "revoked-token"

    with pytest.raises(PermanentError) as failure:
        jira.sync("issues", "ALPHA")

    message = str(failure.value)
    assert "refused the credentials of hub@example.com" in message
    assert "401" in message
    assert "JIRA_EMAIL and JIRA_API_TOKEN" in message
    assert "revoked-token" not in message
    assert len(jira.server.requests) == 1  # no retry: it would be refused again


def test_a_wrong_data_center_token_fails_naming_jira_pat(jira_data_center, settings):
    settings.JIRA_PAT = "expired-pat"

    with pytest.raises(PermanentError, match="JIRA_PAT") as failure:
        jira_data_center.sync("sprints", "1")

    assert "expired-pat" not in str(failure.value)
    assert len(jira_data_center.server.requests) == 1


def test_the_run_keeps_the_reason_without_the_secret(jira, settings):
    settings.JIRA_API_TOKEN = "revoked-token"

    with pytest.raises(PermanentError):
        jira.sync("issues", "ALPHA")

    run = SyncRun.objects.get()
    assert run.status == "failed"
    assert "JIRA_API_TOKEN" in run.error
    assert "revoked-token" not in run.error


def test_a_job_with_bad_credentials_fails_without_retrying(jira, settings, empty_broker):
    settings.JIRA_API_TOKEN = "revoked-token"
    job = jobs.enqueue_sync("jira", "issues", scope="ALPHA")

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert "JIRA_API_TOKEN" in job.last_error


def test_refused_credentials_make_the_hub_degraded_until_they_are_accepted(jira, settings):
    settings.JIRA_API_TOKEN = "revoked-token"
    with pytest.raises(PermanentError):
        jira.sync("issues", "ALPHA")

    _, report = run_checks()
    assert report["checks"]["jira_site"]["status"] == "degraded"
    assert "401" in report["checks"]["jira_site"]["refused_reason"]

    settings.JIRA_API_TOKEN = "jira-api-token"
    jira.sync("issues", "ALPHA")

    _, report = run_checks()
    assert report["checks"]["jira_site"]["status"] == "ok"
    assert report["checks"]["jira_site"]["deployment_type"] == "Cloud"


def test_missing_settings_fail_before_any_request_naming_what_to_set(jira, settings):
    settings.JIRA_API_TOKEN = ""

    with pytest.raises(PermanentError, match="JIRA_API_TOKEN is not set"):
        jira.sync("issues", "ALPHA")

    settings.JIRA_EMAIL = ""
    with pytest.raises(PermanentError, match=r"JIRA_EMAIL and JIRA_API_TOKEN .* or JIRA_PAT"):
        jira.sync("issues", "ALPHA")

    settings.JIRA_BASE_URL = ""
    with pytest.raises(PermanentError, match="Jira is not configured: set JIRA_BASE_URL"):
        jira.sync("issues", "ALPHA")
    assert jira.server.requests == []


def test_a_base_url_without_a_scheme_is_refused(jira, settings):
    settings.JIRA_BASE_URL = "your-site.atlassian.net"

    with pytest.raises(PermanentError, match="JIRA_BASE_URL must start with https://"):
        jira.sync("issues", "ALPHA")


def test_a_429_is_raised_at_once_with_its_retry_after_for_the_pipeline(jira):
    jira.sync("issues", "ALPHA")
    jira.server.clear_requests()
    jira.server.faults.set(rate=1.0, kinds=["http_429"], path=SEARCH, retry_after=42)

    with pytest.raises(TransientError) as failure:
        jira.sync("issues", "ALPHA")

    assert failure.value.retry_after == 42
    assert len(jira.server.requests) == 1  # the library did not retry it


def test_a_503_is_transient(any_jira):
    path = f"^{any_jira.search_path}$"
    any_jira.server.faults.set(rate=1.0, kinds=["http_503"], path=path, limit=1)

    with pytest.raises(TransientError, match="503"):
        any_jira.sync("issues", "ALPHA")


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_a_broken_connection_is_transient(jira, kind):
    jira.server.faults.set(rate=1.0, kinds=[kind], path=SEARCH, limit=1)

    with pytest.raises(TransientError, match=r"failed: .* talking to 127.0.0.1"):
        jira.sync("issues", "ALPHA")


def test_a_job_rate_limited_by_jira_waits_its_retry_after_and_then_resumes(jira, empty_broker):
    jira.server.faults.set(rate=1.0, kinds=["http_429"], path=SEARCH, retry_after=120, limit=1)
    job = jobs.enqueue_sync("jira", "issues", scope="ALPHA")

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.RETRYING
    assert (job.next_attempt_at - timezone.now()).total_seconds() >= 115
    assert "429" in job.last_error

    jobs.IngestionJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert Issue.objects.count() == 30


def test_transient_failures_count_against_the_hosts_circuit_breaker(jira, settings):
    from ingestion.models import CircuitBreaker

    settings.INGEST_BREAKER_FAILURES = 2
    jira.server.faults.set(rate=1.0, kinds=["http_503"], path=SEARCH)
    for _ in range(2):
        with pytest.raises(TransientError):
            jira.sync("issues", "ALPHA")
    requests = len(jira.server.requests)

    with pytest.raises(Deferred, match=r"Circuit breaker for 127.0.0.1 is open"):
        jira.sync("issues", "ALPHA")

    assert len(jira.server.requests) == requests
    assert CircuitBreaker.objects.get(key="host:127.0.0.1").state == "open"


def test_the_site_is_read_once_and_recalled_by_the_next_syncs(jira):
    jira.sync("sprints", "1")
    jira.sync("issues", "ALPHA")

    assert jira.count("/rest/api/2/serverInfo") == 1
    assert jira.count("/rest/api/3/myself") == 1
    assert jira.count("/rest/api/3/field") == 1
    site = JiraSite.objects.get()
    assert (site.deployment_type, site.time_zone) == ("Cloud", "America/Los_Angeles")


def test_other_credentials_read_the_site_again(jira, settings):
    jira.sync("issues", "ALPHA")
    jira.upstream.email = settings.JIRA_EMAIL = "other@example.com"

    jira.sync("issues", "ALPHA")

    assert jira.count("/rest/api/3/myself") == 2
