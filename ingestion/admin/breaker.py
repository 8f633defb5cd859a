"""Admin for the circuit breakers: their state as workers see it, and a manual reset."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ingestion.breaker import record_success, snapshot
from ingestion.models.breaker import CircuitBreaker


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(admin.ModelAdmin):
    list_display = ("key", "current_state", "consecutive_failures", "opened_at", "last_failure_at")
    search_fields = ("key",)
    readonly_fields = [field.name for field in CircuitBreaker._meta.fields]
    actions = ["close_breakers"]

    @admin.display(description="state now")
    def current_state(self, breaker: CircuitBreaker) -> str:
        # An open breaker past its cooldown is half-open for the next caller.
        return snapshot(breaker).state

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # breakers appear when a key first fails

    @admin.action(description="Close the selected breakers (the upstream is fixed)")
    def close_breakers(self, request: HttpRequest, queryset: QuerySet[CircuitBreaker]) -> None:
        keys = list(queryset.values_list("key", flat=True))
        for key in keys:
            record_success(key)
        self.message_user(request, f"Closed {len(keys)} breaker(s).", messages.SUCCESS)
