"""The audit trail: who changed what, when, field by field. Append-only."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from tracking.choices import AuditAction


class AuditLogError(Exception):
    pass


class AuditLog(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The person who made the change, when a person did.",
    )
    actor = models.CharField(
        max_length=200,
        help_text='Who acted, readable even after the user is gone ("alice", "job 42").',
    )
    job_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=300)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    changes = models.JSONField(
        default=dict, blank=True, help_text='{"field": [old, new]} for each field that changed.'
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [
            models.Index(
                fields=["content_type", "object_id", "created_at"], name="tracking_audit_object"
            ),
            models.Index(fields=["created_at", "id"], name="tracking_audit_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise AuditLogError("Audit log entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogError("Audit log entries are never deleted.")
