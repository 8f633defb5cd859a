"""Admin for webhook deliveries: what arrived, what became of it, and replay."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ingestion.admin.sync import ReadOnlyAdmin, pretty_json
from ingestion.models import WebhookDelivery, WebhookRefusal
from ingestion.webhooks import replay


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source",
        "event",
        "action",
        "delivery_id",
        "status",
        "received_at",
        "processed_at",
        "attempts",
        "short_error",
    ]
    list_filter = ["status", "source", "event"]
    search_fields = ["delivery_id", "error"]
    date_hierarchy = "received_at"
    readonly_fields = [
        "source",
        "delivery_id",
        "event",
        "action",
        "status",
        "received_at",
        "processed_at",
        "attempts",
        "error",
        "body_pretty",
    ]
    exclude = ["body", "claimed_by", "claimed_at"]
    actions = ["replay_deliveries"]
    show_full_result_count = False  # no full-table COUNT on a table this large

    @admin.display(description="error")
    def short_error(self, obj: WebhookDelivery) -> str:
        return obj.error[:120]

    @admin.display(description="body")
    def body_pretty(self, obj: WebhookDelivery) -> str:
        try:
            return pretty_json(json.loads(obj.body))
        except ValueError:
            return obj.body

    @admin.action(description="Replay: process the stored body again")
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]):
        result = replay(list(queryset.order_by("id")))
        level = messages.WARNING if result.failed or result.waiting else messages.SUCCESS
        self.message_user(
            request,
            f"Replayed {len(queryset)} deliveries: {result.processed} processed, "
            f"{result.ignored} ignored, {result.failed} failed, "
            f"{result.waiting} waiting for a running sync (the next webhook job takes them).",
            level,
        )


@admin.register(WebhookRefusal)
class WebhookRefusalAdmin(ReadOnlyAdmin):
    list_display = ["source", "reason", "count", "last_at"]
    list_filter = ["source", "reason"]
