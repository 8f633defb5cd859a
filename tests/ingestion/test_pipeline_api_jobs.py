"""The jobs API: sync now, list/filter/page jobs, one job, create a job."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ingestion.choices import JobKind, JobStatus
from ingestion.models import IngestionJob
from tests.ingestion.memory_streams import SOURCE  # registers test/repositories, test/commits

pytestmark = pytest.mark.django_db


def make_job(**fields) -> IngestionJob:
    defaults = {"kind": JobKind.SYNC, "source": SOURCE, "entity": "commits"}
    return IngestionJob.objects.create(**{**defaults, **fields})


# --- POST /api/sync/<source>/<entity> ------------------------------------------------


def test_sync_now_queues_a_critical_job_and_answers_202_with_its_url(staff_client):
    response = staff_client.post(
        f"/api/sync/{SOURCE}/commits",
        {"scope": "acme/widget", "full": True},
        content_type="application/json",
    )

    assert response.status_code == 202
    job = IngestionJob.objects.get(pk=response.json()["job_id"])
    assert response.json()["url"].endswith(f"/api/pipeline/jobs/{job.pk}")
    assert (job.kind, job.source, job.entity, job.scope) == (
        "sync",
        SOURCE,
        "commits",
        "acme/widget",
    )
    assert job.params["full"] is True
    assert job.priority == "critical"
    assert job.created_by == "staff"


def test_sync_of_an_unknown_stream_is_404_listing_the_known_ones(staff_client):
    response = staff_client.post("/api/sync/nosuch/things", {}, content_type="application/json")

    assert response.status_code == 404
    assert "nosuch/things" in response.json()["detail"]
    assert f"{SOURCE}/commits" in response.json()["streams"]
    assert not IngestionJob.objects.exists()


def test_sync_with_an_invalid_priority_names_the_field(staff_client):
    response = staff_client.post(
        f"/api/sync/{SOURCE}/commits", {"priority": "urgent"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "priority" in response.json()


def test_sync_needs_staff(plain_client):
    response = plain_client.post(f"/api/sync/{SOURCE}/commits", {}, content_type="application/json")

    assert response.status_code == 403
    assert not IngestionJob.objects.exists()


def test_sync_needs_a_signed_in_user(client):
    response = client.post(f"/api/sync/{SOURCE}/commits", {}, content_type="application/json")

    assert response.status_code == 403


# --- GET /api/pipeline/jobs ----------------------------------------------------------


def test_any_signed_in_user_can_list_jobs_newest_first(plain_client):
    older = make_job(created_at=timezone.now() - dt.timedelta(minutes=5))
    newer = make_job()

    response = plain_client.get("/api/pipeline/jobs")

    assert response.status_code == 200
    assert [job["id"] for job in response.json()["results"]] == [newer.pk, older.pk]


def test_listing_jobs_needs_a_signed_in_user(client):
    assert client.get("/api/pipeline/jobs").status_code == 403


def test_jobs_filter_by_status_kind_and_source(plain_client):
    wanted = make_job(status=JobStatus.DEAD)
    make_job(status=JobStatus.SUCCEEDED)
    make_job(status=JobStatus.DEAD, kind=JobKind.CLEANUP, source="")
    make_job(status=JobStatus.DEAD, source="other")

    response = plain_client.get(
        "/api/pipeline/jobs", {"status": "dead", "kind": "sync", "source": SOURCE}
    )

    assert [job["id"] for job in response.json()["results"]] == [wanted.pk]


def test_unknown_status_filter_is_a_400_naming_the_field(plain_client):
    response = plain_client.get("/api/pipeline/jobs", {"status": "exploded"})

    assert response.status_code == 400
    assert "status" in response.json()


def test_jobs_page_with_a_cursor_and_no_count(plain_client):
    now = timezone.now()
    jobs = [make_job(created_at=now - dt.timedelta(seconds=n)) for n in range(5)]

    first = plain_client.get("/api/pipeline/jobs", {"limit": 2}).json()
    second = plain_client.get(first["next"]).json()
    third = plain_client.get(second["next"]).json()

    seen = [job["id"] for page in (first, second, third) for job in page["results"]]
    assert seen == [job.pk for job in jobs]
    assert "count" not in first
    assert third["next"] is None


def test_jobs_created_in_the_same_instant_are_paged_without_loss(plain_client):
    instant = timezone.now()
    jobs = [make_job(created_at=instant) for _ in range(5)]

    first = plain_client.get("/api/pipeline/jobs", {"limit": 2}).json()
    seen = [job["id"] for job in first["results"]]
    page = first
    while page["next"]:
        page = plain_client.get(page["next"]).json()
        seen += [job["id"] for job in page["results"]]

    assert sorted(seen) == sorted(job.pk for job in jobs)
    assert len(seen) == 5


# --- GET /api/pipeline/jobs/<id> -----------------------------------------------------


def test_one_job_shows_its_status_attempts_counts_and_error(plain_client):
    job = make_job(
        status=JobStatus.RETRYING, attempts=2, fetched=10, created=7, last_error="503 upstream"
    )

    body = plain_client.get(f"/api/pipeline/jobs/{job.pk}").json()

    assert body["status"] == "retrying"
    assert body["attempts"] == 2
    assert (body["fetched"], body["created"]) == (10, 7)
    assert body["last_error"] == "503 upstream"


def test_unknown_job_is_404(plain_client):
    assert plain_client.get("/api/pipeline/jobs/999999").status_code == 404


# --- POST /api/pipeline/jobs ---------------------------------------------------------


def test_creating_a_sync_job_validates_the_stream_and_answers_202(staff_client):
    response = staff_client.post(
        "/api/pipeline/jobs",
        {"kind": "sync", "params": {"source": SOURCE, "entity": "repositories"}, "priority": "low"},
        content_type="application/json",
    )

    assert response.status_code == 202
    job = IngestionJob.objects.get(pk=response.json()["job_id"])
    assert (job.source, job.entity, job.priority) == (SOURCE, "repositories", "low")


def test_creating_a_cleanup_job(staff_client):
    response = staff_client.post(
        "/api/pipeline/jobs", {"kind": "cleanup"}, content_type="application/json"
    )

    assert response.status_code == 202
    assert IngestionJob.objects.get().kind == "cleanup"


def test_creating_a_sync_job_of_an_unknown_stream_names_params_entity(staff_client):
    response = staff_client.post(
        "/api/pipeline/jobs",
        {"kind": "sync", "params": {"source": SOURCE, "entity": "nothing"}},
        content_type="application/json",
    )

    assert response.status_code == 400
    error = response.json()["params"]["entity"][0]
    assert f"No stream {SOURCE}/nothing" in error
    assert f"{SOURCE}/commits" in error


def test_creating_a_sync_job_without_a_source_names_the_missing_field(staff_client):
    response = staff_client.post(
        "/api/pipeline/jobs",
        {"kind": "sync", "params": {"entity": "commits"}},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["params"]["source"] == ["This field is required."]


def test_creating_a_job_of_an_unknown_kind_names_the_field(staff_client):
    response = staff_client.post(
        "/api/pipeline/jobs", {"kind": "launch_rockets"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "kind" in response.json()


def test_params_must_be_an_object(staff_client):
    response = staff_client.post(
        "/api/pipeline/jobs", {"kind": "cleanup", "params": [1, 2]}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["params"] == ["Must be a JSON object."]


def test_creating_a_job_needs_staff(plain_client):
    response = plain_client.post(
        "/api/pipeline/jobs", {"kind": "cleanup"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert not IngestionJob.objects.exists()
