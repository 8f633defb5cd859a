"""The dead-letter queue API, and pause/resume."""

from __future__ import annotations

import pytest

from ingestion.choices import JobKind, JobStatus
from ingestion.jobs import is_paused
from ingestion.models import IngestionJob

pytestmark = pytest.mark.django_db


def make_job(status: str, **fields) -> IngestionJob:
    return IngestionJob.objects.create(
        kind=JobKind.SYNC, source="github", entity="commits", status=status, **fields
    )


def test_dlq_lists_only_dead_jobs(plain_client):
    dead = make_job(JobStatus.DEAD, attempts=5, last_error="Gave up after 5 attempts.")
    make_job(JobStatus.FAILED)
    make_job(JobStatus.QUEUED)

    response = plain_client.get("/api/pipeline/dlq")

    assert response.status_code == 200
    [job] = response.json()["results"]
    assert job["id"] == dead.pk
    assert job["last_error"] == "Gave up after 5 attempts."


def test_dlq_needs_a_signed_in_user(client):
    assert client.get("/api/pipeline/dlq").status_code == 403


def test_retrying_named_dead_jobs_queues_them_with_fresh_attempts(staff_client):
    first = make_job(JobStatus.DEAD, attempts=5)
    second = make_job(JobStatus.DEAD, attempts=5)

    response = staff_client.post(
        "/api/pipeline/dlq/retry", {"ids": [first.pk]}, content_type="application/json"
    )

    assert response.status_code == 202
    assert response.json() == {"retried": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts) == (JobStatus.QUEUED, 0)
    assert second.status == JobStatus.DEAD


def test_retrying_all_dead_jobs(staff_client):
    jobs = [make_job(JobStatus.DEAD) for _ in range(3)]
    succeeded = make_job(JobStatus.SUCCEEDED)

    response = staff_client.post(
        "/api/pipeline/dlq/retry", {"all": True}, content_type="application/json"
    )

    assert response.json() == {"retried": 3}
    assert {job.status for job in IngestionJob.objects.filter(pk__in=[j.pk for j in jobs])} == {
        JobStatus.QUEUED
    }
    succeeded.refresh_from_db()
    assert succeeded.status == JobStatus.SUCCEEDED


def test_retry_with_an_empty_body_retries_nothing_and_says_what_to_give(staff_client):
    make_job(JobStatus.DEAD)

    response = staff_client.post("/api/pipeline/dlq/retry", {}, content_type="application/json")

    assert response.status_code == 400
    assert '"all": true' in response.json()["ids"][0]
    assert IngestionJob.objects.get().status == JobStatus.DEAD


def test_retry_ids_must_be_positive_integers(staff_client):
    response = staff_client.post(
        "/api/pipeline/dlq/retry", {"ids": ["abc", -1]}, content_type="application/json"
    )

    assert response.status_code == 400
    assert set(response.json()["ids"]) == {"0", "1"}


def test_retry_needs_staff(plain_client):
    make_job(JobStatus.DEAD)

    response = plain_client.post(
        "/api/pipeline/dlq/retry", {"all": True}, content_type="application/json"
    )

    assert response.status_code == 403
    assert IngestionJob.objects.get().status == JobStatus.DEAD


def test_pause_then_resume(staff_client):
    paused = staff_client.post("/api/pipeline/pause")
    assert paused.status_code == 200
    assert paused.json() == {"paused": True}
    assert is_paused()

    resumed = staff_client.post("/api/pipeline/resume")

    assert resumed.status_code == 200
    assert resumed.json()["paused"] is False
    assert not is_paused()


def test_pause_needs_staff(plain_client):
    assert plain_client.post("/api/pipeline/pause").status_code == 403
    assert not is_paused()


def test_pause_is_post_only(staff_client):
    assert staff_client.get("/api/pipeline/pause").status_code == 405
