"""Reconciliation: rows whose upstream record is gone are marked deleted, not kept forever.

An incremental sync asks for what changed; a record deleted upstream, or moved
out of the scope (a Jira issue moved to another project), is simply never
returned again. A reconciliation (weekly, or `manage.py sync <source> <entity>
--reconcile`) lists the natural keys the upstream still has in a scope, and
marks the stored rows of that scope that are missing as deleted: one UPDATE
per model, an audit entry per row. Rows it marked earlier that are listed again
are restored.

A stream takes part by having:
- `live_keys(scope)`: the natural keys the upstream has in the scope now;
- `scope_rows(scope)`: a QuerySet of the stored rows of its model in that scope
  (a model with a nullable `deleted_at`);
- optionally `still_live(scope, keys)`: which of these keys the upstream has when
  asked for them by key. A listing is not a snapshot: a record moved while it
  ran may be missed by it, and is confirmed here before it is marked;
- optionally `reconcile_derived`: ((model, source), …) of rows that share the
  natural key and go with the stream's row (the Bug of a Jira issue of type Bug).

Rows written after the listing began are left for the next reconciliation: a
sync running meanwhile may have stored a record the listing had already passed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from ingestion.errors import PermanentError
from ingestion.streams import Stream, all_streams
from tracking.audit import json_safe
from tracking.choices import AuditAction
from tracking.models import AuditLog

logger = logging.getLogger("ingestion")

# Keys per UPDATE: far below SQLite's bound-variable limit; one statement in practice.
UPDATE_BATCH = 10_000


@dataclass
class ReconcileResult:
    source: str
    entity: str
    scope: str
    live: int = 0
    stored: int = 0
    deleted: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        name = "/".join(part for part in (self.source, self.entity, self.scope) if part)
        return (
            f"{name}: {self.live} live upstream, {self.stored} stored; "
            f"{len(self.deleted)} marked deleted, {len(self.restored)} restored "
            f"in {self.seconds:.1f} s"
        )


def is_reconcilable(stream: Stream) -> bool:
    return hasattr(stream, "live_keys") and hasattr(stream, "scope_rows")


def reconcilable_streams() -> list[Stream]:
    return [stream for stream in all_streams() if is_reconcilable(stream)]


def check_reconcilable(stream: Stream) -> None:
    """A PermanentError naming the streams that can be reconciled, if this one cannot."""
    if not is_reconcilable(stream):
        names = ", ".join(s.name for s in reconcilable_streams()) or "none"
        raise PermanentError(f"{stream.name} cannot be reconciled; streams that can: {names}.")


def _batches(keys: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(keys), UPDATE_BATCH):
        yield keys[start : start + UPDATE_BATCH]


def reconcile(
    stream: Stream, scope: str = "", *, job_id: int | None = None, actor: str = ""
) -> ReconcileResult:
    """List the scope's live keys upstream and mark the stored rows missing from it as
    deleted (and restore the deleted ones listed again). Raises what the stream's
    listing raises (TransientError, PermanentError), having changed nothing."""
    check_reconcilable(stream)
    clock = time.monotonic()
    result = ReconcileResult(stream.source, stream.entity, scope)
    started = timezone.now()
    live = {str(key) for key in stream.live_keys(scope)}
    result.live = len(live)
    stored = list(stream.scope_rows(scope).values_list("pk", "external_id", "deleted_at"))
    result.stored = len(stored)
    missing = sorted(key for _, key, deleted_at in stored if deleted_at is None and key not in live)
    if missing and hasattr(stream, "still_live"):
        missing = sorted(set(missing) - set(stream.still_live(scope, missing)))
    back = sorted(key for _, key, deleted_at in stored if deleted_at is not None and key in live)
    actor = actor or (f"job {job_id}" if job_id else f"reconcile {stream.name}")
    with transaction.atomic():
        now = timezone.now()
        result.deleted = _mark_deleted(stream, scope, missing, started, now, actor, job_id)
        result.restored = _restore(stream, scope, back, now, actor, job_id)
    result.seconds = time.monotonic() - clock
    logger.info(
        "reconciled %s",
        result,
        extra={"source": stream.source, "entity": stream.entity, "scope": scope, "job_id": job_id},
    )
    return result


def _mark_deleted(
    stream: Stream,
    scope: str,
    keys: list[str],
    started: dt.datetime,
    now: dt.datetime,
    actor: str,
    job_id: int | None,
) -> list[str]:
    marked: list[str] = []
    audit: list[AuditLog] = []
    for batch in _batches(keys):
        # Not written since the listing began: a row stored meanwhile is judged next time.
        rows = stream.scope_rows(scope).filter(
            external_id__in=batch, deleted_at__isnull=True, last_seen_at__lt=started
        )
        found = list(rows.values_list("pk", "external_id", "deleted_at"))
        # The signature is cleared so that the next read of the record (moved back, say)
        # rewrites the row, which clears deleted_at, instead of finding it unchanged.
        stream.model._default_manager.filter(pk__in=[pk for pk, _, _ in found]).update(
            deleted_at=now, raw_signature=""
        )
        audit += _entries(stream.model, found, AuditAction.DELETE, now, actor, job_id)
        marked += [key for _, key, _ in found]
        for model, source in getattr(stream, "reconcile_derived", ()):
            derived = model._default_manager.filter(
                source=source,
                external_id__in=[key for _, key, _ in found],
                deleted_at__isnull=True,
            )
            derived_found = list(derived.values_list("pk", "external_id", "deleted_at"))
            model._default_manager.filter(pk__in=[pk for pk, _, _ in derived_found]).update(
                deleted_at=now
            )
            audit += _entries(model, derived_found, AuditAction.DELETE, now, actor, job_id)
    AuditLog.objects.bulk_create(audit)
    return sorted(marked)


def _restore(
    stream: Stream,
    scope: str,
    keys: list[str],
    now: dt.datetime,
    actor: str,
    job_id: int | None,
) -> list[str]:
    restored: list[str] = []
    audit: list[AuditLog] = []
    for batch in _batches(keys):
        rows = stream.scope_rows(scope).filter(external_id__in=batch, deleted_at__isnull=False)
        found = list(rows.values_list("pk", "external_id", "deleted_at"))
        stream.model._default_manager.filter(pk__in=[pk for pk, _, _ in found]).update(
            deleted_at=None
        )
        audit += _entries(stream.model, found, AuditAction.RESTORE, now, actor, job_id)
        restored += [key for _, key, _ in found]
        deleted_when = {key: deleted_at for _, key, deleted_at in found}
        for model, source in getattr(stream, "reconcile_derived", ()):
            # Only the rows deleted together with theirs: a bug someone deleted by hand
            # in the hub stays deleted.
            candidates = model._default_manager.filter(
                source=source, external_id__in=list(deleted_when), deleted_at__isnull=False
            ).values_list("pk", "external_id", "deleted_at")
            together = [row for row in candidates if deleted_when.get(row[1]) == row[2]]
            model._default_manager.filter(pk__in=[pk for pk, _, _ in together]).update(
                deleted_at=None
            )
            audit += _entries(model, together, AuditAction.RESTORE, now, actor, job_id)
    AuditLog.objects.bulk_create(audit)
    return sorted(restored)


def _entries(
    model: type[models.Model],
    rows: list[tuple[int, str, dt.datetime | None]],
    action: str,
    now: dt.datetime,
    actor: str,
    job_id: int | None,
) -> list[AuditLog]:
    """An audit entry per (pk, key, deleted_at before) row, deleted_at's change in each."""
    if not rows:
        return []
    content_type = ContentType.objects.get_for_model(model)
    label = model._meta.verbose_name
    after = json_safe(now) if action == AuditAction.DELETE else None
    return [
        AuditLog(
            created_at=now,
            actor=actor,
            job_id=job_id,
            content_type=content_type,
            object_id=str(pk),
            object_repr=f"{label} {key}"[:300],
            action=action,
            changes={"deleted_at": [json_safe(before), after]},
        )
        for pk, key, before in rows
    ]
