"""Webhook deliveries, kept durably before they are answered, and the refusals counted."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from ingestion.choices import DeliveryStatus

__all__ = ["WebhookDelivery", "WebhookRefusal"]


class WebhookDelivery(models.Model):
    """One accepted delivery: its raw body, as signed, and what processing made of it.

    (source, delivery_id) is unique in the database, so a redelivery (GitHub's
    "Redeliver", Slack's retries) inserts nothing: the INSERT that stores a
    delivery is also its deduplication.
    """

    source = models.CharField(max_length=20)
    delivery_id = models.CharField(
        max_length=100, help_text="X-GitHub-Delivery, or the Slack event_id."
    )
    event = models.CharField(max_length=100, help_text="X-GitHub-Event, or the Slack event type.")
    action = models.CharField(
        max_length=100, blank=True, default="", help_text="The payload's action or subtype."
    )
    body = models.TextField(help_text="The raw body as received (UTF-8 JSON).")
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Set while a worker processes the delivery; a claim older than the stale limit
    # belongs to a worker that died and is taken over.
    claimed_by = models.CharField(max_length=100, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "delivery_id"], name="ingestion_webhook_delivery_unique"
            ),
        ]
        indexes = [
            # The processing job claims the oldest pending deliveries first.
            models.Index(fields=["status", "id"], name="ingestion_webhook_status"),
            models.Index(fields=["received_at", "id"], name="ingestion_webhook_received"),
        ]

    def __str__(self) -> str:
        event = f"{self.event}.{self.action}" if self.action else self.event
        return f"{self.source} {event} {self.delivery_id}"


class WebhookRefusal(models.Model):
    """How many requests were refused, by source and reason (bad signature, too large…).

    A refused request stores nothing else: its body is not trusted. Counted in the
    database, like every pipeline figure, so /metrics shows the sum over all web
    processes.
    """

    source = models.CharField(max_length=20)
    reason = models.CharField(max_length=50)
    count = models.PositiveBigIntegerField(default=0)
    last_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["source", "reason"]
        constraints = [
            models.UniqueConstraint(fields=["source", "reason"], name="ingestion_webhook_refusal"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.reason}: {self.count}"
