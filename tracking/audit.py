"""Writing the audit trail: one place used by the admin, the API and imports.

Call these inside the transaction that makes the change, so a change and its
audit entry commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import models

from tracking.choices import AuditAction
from tracking.models import AuditLog

# Bookkeeping columns that change on every save and tell a reader nothing.
_NOT_AUDITED = frozenset({"raw_signature", "updated_at", "last_seen_at"})


def json_safe(value: Any) -> Any:
    """A value as it can be stored in the JSON `changes` column and read back by a person."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    return value


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The audited field values of `instance`, by field name, JSON-safe."""
    values = {}
    for field in instance._meta.concrete_fields:
        if field.primary_key or field.name in _NOT_AUDITED:
            continue
        value = field.value_from_object(instance)
        if isinstance(field, models.DecimalField) and isinstance(value, Decimal):
            # A form gives Decimal("1.5"), the database "1.50": the same value.
            value = value.quantize(Decimal(1).scaleb(-field.decimal_places))
        values[field.name] = json_safe(value)
    return values


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [old, new]} for every field whose value differs."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def actor_label(user: AbstractBaseUser | None, *, job_id: int | None = None) -> str:
    if user is not None and user.is_authenticated:
        return user.get_username()
    if job_id is not None:
        return f"job {job_id}"
    return "system"


def record(
    instance: models.Model,
    action: AuditAction | str,
    *,
    user: AbstractBaseUser | None = None,
    job_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit entry about `instance`."""
    return AuditLog.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        actor=actor_label(user, job_id=job_id),
        job_id=job_id,
        content_type=ContentType.objects.get_for_model(instance, for_concrete_model=True),
        object_id=str(instance.pk),
        object_repr=str(instance)[:300],
        action=action,
        changes=changes or {},
    )


def record_save(
    instance: models.Model,
    before: dict[str, Any] | None,
    *,
    user: AbstractBaseUser | None = None,
    job_id: int | None = None,
) -> AuditLog | None:
    """Audit a create (before is None) or an update; an update that changed nothing is skipped."""
    after = snapshot(instance)
    if before is None:
        return record(
            instance,
            AuditAction.CREATE,
            user=user,
            job_id=job_id,
            changes={
                name: [None, value] for name, value in after.items() if value not in ("", None, [])
            },
        )
    changes = diff(before, after)
    if not changes:
        return None
    return record(instance, AuditAction.UPDATE, user=user, job_id=job_id, changes=changes)


def history(instance: models.Model, limit: int = 50) -> models.QuerySet[AuditLog]:
    """The newest audit entries of one object (served by the (content type, object, time) index)."""
    content_type = ContentType.objects.get_for_model(instance, for_concrete_model=True)
    return AuditLog.objects.filter(content_type=content_type, object_id=str(instance.pk)).order_by(
        "-created_at", "-id"
    )[:limit]
