"""A delivery is stored once, answered, and handed to one processing job."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ingestion.choices import DeliveryStatus, JobKind, JobPriority
from ingestion.jobs import sweep
from ingestion.models import IngestionJob, WebhookDelivery
from ingestion.webhooks import delete_expired_deliveries

pytestmark = pytest.mark.django_db

PAYLOAD = {"action": "opened", "repository": {"id": 1, "full_name": "octo/hub"}}


def webhook_jobs() -> list[IngestionJob]:
    return list(IngestionJob.objects.filter(kind=JobKind.WEBHOOK))


def test_a_redelivery_is_a_no_op_answered_202(github_hook, django_capture_on_commit_callbacks):
    first = github_hook.post("issues", PAYLOAD, delivery_id="same-id")
    again = github_hook.post("issues", {**PAYLOAD, "action": "edited"}, delivery_id="same-id")

    assert (first.status_code, again.status_code) == (202, 202)
    delivery = WebhookDelivery.objects.get()
    assert delivery.action == "opened"


def test_the_same_delivery_id_from_two_sources_is_two_deliveries(github_hook, slack_hook):
    github_hook.post("issues", PAYLOAD, delivery_id="Ev1")
    slack_hook.post(
        {"type": "event_callback", "event_id": "Ev1", "event": {"type": "reaction_added"}}
    )

    assert WebhookDelivery.objects.count() == 2


def test_an_accepted_delivery_queues_a_critical_processing_job(github_hook):
    github_hook.post("issues", PAYLOAD)

    (job,) = webhook_jobs()
    assert job.priority == JobPriority.CRITICAL


def test_a_burst_of_deliveries_queues_one_job(github_hook):
    for number in range(10):
        github_hook.post("issues", PAYLOAD, delivery_id=f"burst-{number}")

    assert WebhookDelivery.objects.count() == 10
    assert len(webhook_jobs()) == 1


def test_a_delivery_after_the_job_started_queues_the_next_one(github_hook, process):
    github_hook.post("issues", PAYLOAD, delivery_id="before")
    process()  # the job clears the flag as it starts

    github_hook.post("issues", PAYLOAD, delivery_id="after")

    assert len(webhook_jobs()) == 2


def test_an_event_the_hub_does_not_use_is_stored_as_ignored(github_hook):
    response = github_hook.post("star", {"action": "created", **PAYLOAD})

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.status) == ("star", DeliveryStatus.IGNORED)
    assert delivery.processed_at is not None
    assert webhook_jobs() == []


def test_the_sweeper_queues_a_job_for_deliveries_left_pending(github_hook):
    github_hook.post("issues", PAYLOAD)
    IngestionJob.objects.all().delete()  # the job was lost (a broker that lost its task)
    WebhookDelivery.objects.update(received_at=timezone.now() - dt.timedelta(minutes=5))

    result = sweep()

    assert result.webhook_jobs == 1
    assert len(webhook_jobs()) == 1


def test_the_sweeper_leaves_fresh_deliveries_to_their_job(github_hook):
    github_hook.post("issues", PAYLOAD)

    assert sweep().webhook_jobs == 0


def test_a_delivery_claimed_by_a_dead_worker_is_taken_over(github_hook, process):
    github_hook.post("issues", PAYLOAD)
    WebhookDelivery.objects.update(
        status=DeliveryStatus.PROCESSING,
        claimed_by="dead-worker",
        claimed_at=timezone.now() - dt.timedelta(hours=1),
    )

    process()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status != DeliveryStatus.PROCESSING
    assert delivery.attempts == 1


def test_a_delivery_claimed_moments_ago_is_left_to_its_worker(github_hook, process):
    github_hook.post("issues", PAYLOAD)
    WebhookDelivery.objects.update(
        status=DeliveryStatus.PROCESSING, claimed_by="live-worker", claimed_at=timezone.now()
    )

    process()

    assert WebhookDelivery.objects.get().claimed_by == "live-worker"


def test_a_delivery_without_a_repository_fails_with_the_reason(github_hook, process):
    github_hook.post("issues", {"action": "opened", "issue": {}})

    process()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "no repository with a numeric id" in delivery.error


def test_cleanup_deletes_old_processed_and_ignored_deliveries_but_keeps_failed(settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    old = timezone.now() - dt.timedelta(days=31)
    for number, status in enumerate(
        [DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED, DeliveryStatus.FAILED]
    ):
        WebhookDelivery.objects.create(
            source="github",
            delivery_id=str(number),
            event="push",
            body="{}",
            status=status,
            received_at=old,
        )
    WebhookDelivery.objects.create(
        source="github",
        delivery_id="new",
        event="push",
        body="{}",
        status=DeliveryStatus.PROCESSED,
    )

    assert delete_expired_deliveries() == 2
    assert sorted(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == ["2", "new"]
