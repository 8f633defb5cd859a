"""Circuit breakers: one row per key (a source, or an upstream host), shared by every worker."""

from __future__ import annotations

from django.db import models

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed (calls go through)"
    OPEN = "open", "Open (calls deferred until the cooldown ends)"
    HALF_OPEN = "half_open", "Half-open (one trial call running)"


class CircuitBreaker(models.Model):
    """The breaker of one key, e.g. "github" or "host:api.github.com".

    Kept in the database, not in process memory, so every worker process sees
    the same state; every transition is a conditional UPDATE (compare-and-set),
    so two workers never both claim the half-open trial.
    """

    key = models.CharField(max_length=200, unique=True)
    state = models.CharField(
        max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    # When a worker claimed the single half-open trial; a claim older than the
    # cooldown is treated as abandoned (its worker died) and may be claimed again.
    trial_claimed_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"breaker {self.key} ({self.state})"
