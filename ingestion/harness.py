"""The harness: one sync run of one stream, page by page, with a checkpoint per page.

Stages, in the order each page goes through them (all in ONE transaction per
page, so a crash anywhere resumes after the last committed page with nothing
lost and nothing doubled):

1. fetch    — the stream yields a Page of raw records (outside the transaction);
2. normalize — `stream.normalize` per record; bad records become RejectedRecords;
3. resolve  — IdentityRefs and Refs of the page, one query per model
              (`ingestion.identities`);
4. load     — bulk upsert by natural key (`ingestion.load`): insert new, update
              changed, leave unchanged rows untouched;
5. keep raw — the latest payload per natural key, rewritten only when it changed;
6. audit and checkpoint — field diffs of updated rows, the stream's cursor and
              pending high-water mark, the run's counts.

The per-stream lock is a compare-and-set claim on SyncState; the checkpoint
UPDATE of every page is conditional on still holding it, so even a wrongly
taken-over lock can never interleave two runs' pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from ingestion import load
from ingestion.choices import RunStatus
from ingestion.errors import Deferred, RecordRejected, TransientError
from ingestion.identities import (
    identity_key,
    person_key,
    ref_key,
    resolve_identities,
    resolve_people,
    resolve_refs,
)
from ingestion.models import RawRecord, RejectedRecord, SyncRun, SyncState
from ingestion.redaction import redact
from ingestion.streams import FetchContext, IdentityRef, PersonRef, Ref, Row, Stream, get_stream
from tracking.choices import AuditAction
from tracking.models import AuditLog

logger = logging.getLogger("ingestion")

# Errors that mean "this record's data is bad", not "our code or the database is broken".
REJECTABLE_ERRORS = (RecordRejected, ValueError, LookupError, TypeError, ValidationError)

PAGE_SIZE = 1000


class SyncAlreadyRunning(TransientError):
    """Another run holds the stream's lock; the job layer retries later."""


class SyncLockLost(TransientError):
    """The lock expired and another run took the stream over; this run stops."""


def _lock_seconds() -> int:
    # How long a claim lasts without a checkpoint; every page commit extends it.
    return settings.INGEST_SYNC_LOCK_SECONDS


def _holder_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True when the holder was a process on this host that no longer exists.

    Lets a run resume at once after its worker was killed, instead of waiting
    for the claim to expire. A holder on another host waits for the expiry.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class StreamLock:
    """The claim on one (source, entity, scope), held by one run at a time."""

    def __init__(self, state: SyncState, token: str) -> None:
        self.state = state
        self.token = token

    @classmethod
    def acquire(cls, source: str, entity: str, scope: str) -> StreamLock:
        state, _ = SyncState.objects.get_or_create(source=source, entity=entity, scope=scope)
        token = _holder_token()
        now = timezone.now()
        expires = now + dt.timedelta(seconds=_lock_seconds())
        claimable = Q(locked_by="") | Q(lock_expires_at__lt=now) | Q(lock_expires_at=None)
        claimed = (
            SyncState.objects.filter(pk=state.pk)
            .filter(claimable)
            .update(locked_by=token, lock_expires_at=expires)
        )
        if not claimed:
            holder = SyncState.objects.filter(pk=state.pk).values_list("locked_by", flat=True)[0]
            if holder and holder_is_dead(holder):
                claimed = SyncState.objects.filter(pk=state.pk, locked_by=holder).update(
                    locked_by=token, lock_expires_at=expires
                )
            if not claimed:
                name = "/".join(part for part in (source, entity, scope) if part)
                raise SyncAlreadyRunning(
                    f"{name} is already being synced ({holder}); it will be retried later."
                )
        state.refresh_from_db()
        return cls(state, token)

    def checkpoint(self, **fields: Any) -> None:
        """Write checkpoint fields and extend the claim, only while still holding it."""
        now = timezone.now()
        written = SyncState.objects.filter(pk=self.state.pk, locked_by=self.token).update(
            lock_expires_at=now + dt.timedelta(seconds=_lock_seconds()),
            updated_at=now,
            version=F("version") + 1,
            **fields,
        )
        if written != 1:
            raise SyncLockLost(f"{self.state} was taken over by another run; this run stops.")
        for name, value in fields.items():
            setattr(self.state, name, value)

    def release(self) -> None:
        SyncState.objects.filter(pk=self.state.pk, locked_by=self.token).update(
            locked_by="", lock_expires_at=None
        )


@dataclass
class Batch:
    """Records to process in one transaction, and what to checkpoint after them."""

    records: list[dict[str, Any]]
    # For re-tried rejected records: the RejectedRecord of each record.
    rejected_ids: list[int] | None = None
    requests: int = 0
    is_page: bool = False
    next_cursor: dict[str, Any] | None = None


@dataclass
class Counts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add_to(self, run: SyncRun) -> None:
        for name in ("fetched", "created", "updated", "unchanged", "rejected"):
            setattr(run, name, getattr(run, name) + getattr(self, name))


@dataclass
class _Normalized:
    index: int
    key: str
    rows: list[Row]
    record_time: dt.datetime | None
    refs: list[Ref] = field(default_factory=list)
    identity_refs: list[IdentityRef] = field(default_factory=list)
    person_refs: list[PersonRef] = field(default_factory=list)


@dataclass
class _Rejection:
    index: int
    key: str
    error: str


@dataclass
class _RawState:
    """Per record of a page: its natural key and payload signature (None when the key is
    bad); and the kept raw records of those keys: {key: (pk, payload signature)}."""

    keys: list[str | None]
    signatures: list[str | None]
    stored: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class _PageWork:
    normalized: list[_Normalized] = field(default_factory=list)
    rejections: list[_Rejection] = field(default_factory=list)
    superseded: int = 0


def payload_signature(payload: Any) -> str:
    """A hash of the payload as received. Keys are not sorted (cheaper): a reordered
    payload from the upstream only costs one needless rewrite of its raw record."""
    encoded = json.dumps(payload, default=str, ensure_ascii=False)
    return hashlib.blake2b(encoded.encode("utf-8"), digest_size=16).hexdigest()


def _rejection_message(error: BaseException) -> str:
    # Stored and shown in the admin: an upstream error may echo a token.
    if isinstance(error, ValidationError):
        return redact(f"ValidationError: {'; '.join(error.messages)}")[:2000]
    return redact(f"{type(error).__name__}: {error}")[:2000]


class _Run:
    """One execution over one stream and scope: the stages, the counts, the audit."""

    def __init__(self, stream: Stream, scope: str, run: SyncRun, lock: StreamLock) -> None:
        self.stream = stream
        self.scope = scope
        self.run = run
        self.lock = lock
        self.started = time.monotonic()
        self.open_rejected_keys: set[str] = set()
        self.actor = f"job {run.job_id}" if run.job_id else f"sync run {run.pk}"
        self.log_extra = {
            "job_id": run.job_id,
            "source": stream.source,
            "entity": stream.entity,
            "scope": scope,
        }

    # --- normalize -------------------------------------------------------------------
    def _record_times(self, records: list[dict[str, Any]], indexes: set[int]) -> list[dt.datetime]:
        times = []
        for index in indexes:
            try:
                record_time = self.stream.record_time(records[index])
            except REJECTABLE_ERRORS:
                continue
            if record_time is not None:
                times.append(record_time)
        return times

    def _normalize(self, records: list[dict[str, Any]], skipped: set[int]) -> _PageWork:
        work = _PageWork()
        last_index_of_key: dict[str, int] = {}
        for index, record in enumerate(records):
            if index in skipped:
                continue
            key = ""
            try:
                key = str(self.stream.natural_key(record))
                rows = self.stream.normalize(record, self.scope)
                if not rows:
                    raise RecordRejected("normalize returned no rows")
                item = _Normalized(index, key, rows, self.stream.record_time(record))
                for row in rows:
                    _scan_fields(row, item)
            except REJECTABLE_ERRORS as error:
                work.rejections.append(_Rejection(index, key, _rejection_message(error)))
                continue
            rows[0].fields.setdefault("external_id", key)
            work.normalized.append(item)
            last_index_of_key[key] = index
        # A record read twice in one page: the later copy wins, the earlier counts unchanged.
        kept = [item for item in work.normalized if last_index_of_key[item.key] == item.index]
        work.superseded = len(work.normalized) - len(kept)
        work.normalized = kept
        return work

    # --- resolve ---------------------------------------------------------------------
    def _resolve(self, work: _PageWork) -> tuple[dict, dict]:
        found_refs = resolve_refs(ref for item in work.normalized for ref in item.refs)
        resolvable = []
        for item in work.normalized:
            missing = [ref for ref in item.refs if ref.required and ref_key(ref) not in found_refs]
            if missing:
                names = ", ".join(
                    f"{ref.model._meta.verbose_name} {ref.source}:{ref.external_id}"
                    for ref in missing
                )
                work.rejections.append(
                    _Rejection(item.index, item.key, f"Missing reference: {names} not found.")
                )
            else:
                resolvable.append(item)
        work.normalized = resolvable
        found_refs.update(
            resolve_people(ref for item in work.normalized for ref in item.person_refs)
        )
        identity_refs = [ref for item in work.normalized for ref in item.identity_refs]
        return found_refs, resolve_identities(identity_refs)

    # --- load ------------------------------------------------------------------------
    def _load(
        self, work: _PageWork, found_refs: dict, identities: dict, now: dt.datetime
    ) -> tuple[Counts, list[AuditLog]]:
        groups: dict[tuple[type[models.Model], str], dict[str, load.IncomingRow]] = {}
        own_keys: list[tuple[tuple[type[models.Model], str], str]] = []
        for item in work.normalized:
            for position, row in enumerate(item.rows):
                source = row.fields.get("source", self.stream.source)
                incoming = _incoming_row(row, found_refs, identities)
                groups.setdefault((row.model, source), {})[incoming.external_id] = incoming
                if position == 0:
                    own_keys.append(((row.model, source), incoming.external_id))
        results: dict[tuple[type[models.Model], str], load.UpsertResult] = {}
        for (model, source), rows in groups.items():
            own = model is self.stream.model
            results[(model, source)] = load.upsert(
                model,
                source,
                list(rows.values()),
                now=now,
                merge_fields=self.stream.merge_fields if own else (),
                version_field=self.stream.version_field if own else None,
            )
        counts = Counts(unchanged=work.superseded, rejected=len(work.rejections))
        for group, external_id in own_keys:
            result = results[group]
            if external_id in result.created:
                counts.created += 1
            elif external_id in result.updated:
                counts.updated += 1
            else:
                counts.unchanged += 1
        audit = []
        for (model, _source), result in results.items():
            audit.extend(self._audit_entries(model, result, now))
        return counts, audit

    def _audit_entries(
        self, model: type[models.Model], result: load.UpsertResult, now: dt.datetime
    ) -> list[AuditLog]:
        # Updates carry a field diff each. Created rows are only counted (on the run's
        # own entry): one audit row per created row would double the write cost.
        if not result.changes:
            return []
        content_type = ContentType.objects.get_for_model(model)
        label = model._meta.verbose_name
        return [
            AuditLog(
                created_at=now,
                actor=self.actor,
                job_id=self.run.job_id,
                content_type=content_type,
                object_id=str(pk),
                object_repr=f"{label} {external_id}"[:300],
                action=AuditAction.UPDATE,
                changes=diff,
            )
            for pk, external_id, diff in result.changes
        ]

    # --- keep raw ----------------------------------------------------------------------
    def _stored_raw(self, records: list[dict[str, Any]]) -> _RawState:
        """Keys and payload signatures of the page, and those of the kept raw records."""
        raw = _RawState(keys=[None] * len(records), signatures=[None] * len(records))
        for index, record in enumerate(records):
            try:
                raw.keys[index] = str(self.stream.natural_key(record))
            except REJECTABLE_ERRORS:
                continue  # normalize rejects it, with the error
            raw.signatures[index] = payload_signature(record)
        raw.stored = {
            external_id: (pk, signature)
            for external_id, pk, signature in load.rows_by_keys(
                RawRecord,
                {"source": self.stream.source, "entity": self.stream.entity},
                [key for key in raw.keys if key is not None],
                ["external_id", "id", "payload_signature"],
            )
        }
        return raw

    def _unchanged_payloads(self, raw: _RawState) -> set[int]:
        """Records whose payload is the one kept when their rows were last loaded.

        normalize is pure, so the same payload gives the same rows: these count as
        unchanged without being normalized, signed or compared. (Raw is only kept
        for records that loaded, so a payload once rejected is always re-tried.
        After changing a normalizer, `renormalize` rebuilds rows from raw.)
        """
        seen: dict[str, int] = {}
        for key in raw.keys:
            if key is not None:
                seen[key] = seen.get(key, 0) + 1
        return {
            index
            for index, (key, signature) in enumerate(zip(raw.keys, raw.signatures, strict=True))
            if key is not None
            and seen[key] == 1
            and key not in self.open_rejected_keys
            and raw.stored.get(key, (None, None))[1] == signature
        }

    def _keep_raw(
        self, records: list[dict[str, Any]], work: _PageWork, now: dt.datetime, raw: _RawState
    ) -> None:
        """Keep the payload of each record that loaded, rewriting only changed ones."""
        latest: dict[str, int] = {item.key: item.index for item in work.normalized}
        stored = raw.stored
        columns = ["source", "entity", "scope", "external_id", "payload"]
        columns += ["payload_signature", "fetched_at", "run_id"]
        new_rows, changed_rows = [], []
        for key, index in latest.items():
            payload, signature = records[index], raw.signatures[index]
            if key not in stored:
                new_rows.append(
                    [
                        self.stream.source,
                        self.stream.entity,
                        self.scope,
                        key,
                        payload,
                        signature,
                        now,
                        self.run.pk,
                    ]
                )
            elif stored[key][1] != signature:
                changed_rows.append(
                    [self.scope, payload, signature, now, self.run.pk, stored[key][0]]
                )
        load.insert_rows(RawRecord, columns, new_rows)
        load.update_rows(
            RawRecord,
            ["scope", "payload", "payload_signature", "fetched_at", "run_id"],
            changed_rows,
        )

    # --- rejected records ------------------------------------------------------------
    def _write_rejections(
        self, batch: Batch, work: _PageWork, loaded_indexes: list[int], now: dt.datetime
    ) -> None:
        records = batch.records
        if batch.rejected_ids is not None:
            loaded_ids = [batch.rejected_ids[index] for index in loaded_indexes]
            RejectedRecord.objects.filter(pk__in=loaded_ids).update(resolved=True, updated_at=now)
            for rejection in work.rejections:
                RejectedRecord.objects.filter(pk=batch.rejected_ids[rejection.index]).update(
                    error=rejection.error,
                    run=self.run,
                    attempts=F("attempts") + 1,
                    updated_at=now,
                )
            return
        self._resolve_fixed(work, loaded_indexes, now)
        if not work.rejections:
            return
        open_by_key = dict(
            RejectedRecord.objects.filter(
                source=self.stream.source,
                entity=self.stream.entity,
                resolved=False,
                external_id__in=[r.key for r in work.rejections if r.key],
            ).values_list("external_id", "pk")
        )
        new = []
        for rejection in work.rejections:
            payload = records[rejection.index]
            if rejection.key and rejection.key in open_by_key:
                RejectedRecord.objects.filter(pk=open_by_key[rejection.key]).update(
                    payload=payload,
                    error=rejection.error,
                    run=self.run,
                    attempts=F("attempts") + 1,
                    updated_at=now,
                )
                continue
            new.append(
                RejectedRecord(
                    source=self.stream.source,
                    entity=self.stream.entity,
                    scope=self.scope,
                    external_id=rejection.key[:255],
                    payload=payload,
                    error=rejection.error,
                    run=self.run,
                    created_at=now,
                    updated_at=now,
                )
            )
            if rejection.key:
                self.open_rejected_keys.add(rejection.key)
            logger.warning(
                "rejected record %s: %s",
                rejection.key or "(no key)",
                rejection.error,
                extra=self.log_extra,
            )
        RejectedRecord.objects.bulk_create(new)

    def _resolve_fixed(self, work: _PageWork, loaded_indexes: list[int], now: dt.datetime) -> None:
        """A record rejected earlier that now loaded from the upstream is resolved."""
        if not self.open_rejected_keys:
            return
        keys = {item.key for item in work.normalized} & self.open_rejected_keys
        if keys:
            RejectedRecord.objects.filter(
                source=self.stream.source,
                entity=self.stream.entity,
                resolved=False,
                external_id__in=keys,
            ).update(resolved=True, updated_at=now)
            self.open_rejected_keys -= keys

    # --- one transaction per batch ---------------------------------------------------
    def process(self, batch: Batch, *, keep_raw: bool, checkpoint: dict[str, Any]) -> Counts:
        """Normalize, resolve, load, keep raw, audit and checkpoint one batch atomically."""
        now = timezone.now()
        with transaction.atomic():
            raw = self._stored_raw(batch.records) if keep_raw else None
            skipped = self._unchanged_payloads(raw) if raw else set()
            work = self._normalize(batch.records, skipped)
            found_refs, identities = self._resolve(work)
            counts, audit = self._load(work, found_refs, identities, now)
            counts.fetched = len(batch.records)
            counts.unchanged += len(skipped)
            if raw:
                self._keep_raw(batch.records, work, now, raw)
            self._write_rejections(batch, work, [item.index for item in work.normalized], now)
            write_audit_entries(audit)
            times = [item.record_time for item in work.normalized if item.record_time]
            times += self._record_times(batch.records, skipped)
            pending = self.lock.state.pending_high_water_mark
            # Only pages read from the upstream move the mark: webhook records, re-tried
            # rejections and rebuilds from raw say nothing about how far a poll has read,
            # and a mark moved by them could make the next incremental skip records.
            if batch.is_page and times and (pending is None or max(times) > pending):
                checkpoint = {**checkpoint, "pending_high_water_mark": max(times)}
            self.lock.checkpoint(**checkpoint)
            counts.add_to(self.run)
            if batch.is_page:
                self.run.pages += 1
                self.run.requests += batch.requests
            SyncRun.objects.filter(pk=self.run.pk).update(
                **{name: getattr(self.run, name) for name in SyncRun.COUNT_FIELDS}
            )
        return counts

    # --- finishing ---------------------------------------------------------------------
    def finish(self, status: str, error: str = "", state_fields: dict[str, Any] | None = None):
        run = self.run
        run.status = status
        run.error = redact(error)[:4000]
        run.finished_at = timezone.now()
        run.duration_seconds = time.monotonic() - self.started
        run.counts_mismatch = run.fetched != run.accounted
        if run.counts_mismatch:
            logger.warning(
                "counts do not add up: fetched %s, created %s + updated %s + unchanged %s "
                "+ rejected %s",
                run.fetched,
                run.created,
                run.updated,
                run.unchanged,
                run.rejected,
                extra=self.log_extra,
            )
        with transaction.atomic():
            if state_fields is not None:
                self.lock.checkpoint(**state_fields)
            run.save()
            audit_run(run, self.actor)
        logger.info(
            "run %s %s: fetched %s, created %s, updated %s, unchanged %s, rejected %s "
            "in %s pages, %.1f s",
            run.pk,
            status,
            run.fetched,
            run.created,
            run.updated,
            run.unchanged,
            run.rejected,
            run.pages,
            run.duration_seconds,
            extra=self.log_extra,
        )

    def fail(self, error: BaseException) -> None:
        message = redact(str(error) or type(error).__name__)
        logger.error("run %s failed: %s", self.run.pk, message, extra=self.log_extra)
        try:
            self.finish(RunStatus.FAILED, message)
        except DatabaseError:
            # The database itself may be what failed; the run stays "running" and
            # the error is in the log above.
            logger.exception("could not record the failure of run %s", self.run.pk)


def audit_run(run: SyncRun, actor: str) -> AuditLog:
    """The run's own audit entry: how it ended, its counts and duration."""
    return AuditLog.objects.create(
        actor=actor,
        job_id=run.job_id,
        content_type=ContentType.objects.get_for_model(SyncRun),
        object_id=str(run.pk),
        object_repr=str(run)[:300],
        action=AuditAction.INGEST,
        changes={
            "status": run.status,
            **{name: getattr(run, name) for name in SyncRun.COUNT_FIELDS},
            "duration_seconds": round(run.duration_seconds or 0.0, 3),
        },
    )


def write_audit_entries(entries: list[AuditLog]) -> None:
    """Audit entries through the load stage's bulk insert: with one entry per updated
    row, the ORM's bulk_create would cost more than the updates themselves."""
    if not entries:
        return
    columns = [f.attname for f in AuditLog._meta.concrete_fields if not f.primary_key]
    load.insert_rows(
        AuditLog, columns, [[getattr(entry, column) for column in columns] for entry in entries]
    )


def _scan_fields(row: Row, item: _Normalized) -> None:
    """Collect the row's references, and reject text longer than its column here
    rather than as a database error that would fail the whole page."""
    limits = _max_lengths(row.model)
    for name, value in row.fields.items():
        if isinstance(value, str):
            limit = limits.get(name)
            if limit is not None and len(value) > limit:
                raise RecordRejected(f"{name}: {len(value)} characters, at most {limit} fit.")
        elif isinstance(value, Ref):
            item.refs.append(value)
        elif isinstance(value, IdentityRef):
            item.identity_refs.append(value)
        elif isinstance(value, PersonRef):
            item.person_refs.append(value)
        elif isinstance(value, list):
            item.refs.extend(ref for ref in value if isinstance(ref, Ref))


_max_length_cache: dict[type[models.Model], dict[str, int]] = {}
_field_cache: dict[type[models.Model], dict[str, tuple[str, bool]]] = {}


def _max_lengths(model: type[models.Model]) -> dict[str, int]:
    if model not in _max_length_cache:
        _max_length_cache[model] = {
            f.name: f.max_length
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField) and f.max_length
        }
    return _max_length_cache[model]


def _fields(model: type[models.Model]) -> dict[str, tuple[str, bool]]:
    """Field name (or attname) → (attname, is many-to-many), cached per model."""
    if model not in _field_cache:
        fields = {f.attname: (f.attname, False) for f in model._meta.concrete_fields}
        fields.update({f.name: (f.attname, False) for f in model._meta.concrete_fields})
        fields.update({f.name: (f.name, True) for f in model._meta.many_to_many})
        _field_cache[model] = fields
    return _field_cache[model]


def _incoming_row(row: Row, found_refs: dict, identities: dict) -> load.IncomingRow:
    """Row → column values (references as ids) and signed content (references as keys)."""
    fields = _fields(row.model)
    values: dict[str, Any] = {}
    signed: dict[str, Any] = {}
    many_to_many: dict[str, list[int]] = {}
    for name, value in row.fields.items():
        if name == "source" or name == "external_id":
            continue
        try:
            attname, is_many = fields[name]
        except KeyError:
            raise TypeError(f"{row.model.__name__} has no field {name!r}") from None
        if isinstance(value, IdentityRef):
            values[attname] = identities[identity_key(value)]
            signed[name] = [value.source, value.external_id]
        elif isinstance(value, Ref):
            # An optional reference that found nothing leaves the field empty, and is
            # signed as such, so the row updates once the referenced row appears.
            values[attname] = found_refs.get(ref_key(value))
            signed[name] = [value.source, value.external_id] if values[attname] else None
        elif isinstance(value, PersonRef):
            values[attname] = found_refs.get(person_key(value))
            # Signed as a Ref by email is, so rows signed before PersonRef stay unchanged.
            signed[name] = ["", value.email] if values[attname] else None
        elif is_many:
            present = [ref for ref in value if ref_key(ref) in found_refs]
            many_to_many[name] = [found_refs[ref_key(ref)] for ref in present]
            signed[name] = sorted([ref.source, ref.external_id] for ref in present)
        else:
            values[attname] = value
            signed[name] = value
    return load.IncomingRow(
        external_id=str(row.fields["external_id"]),
        values=values,
        signed=signed,
        many_to_many=many_to_many,
    )


def _start_context(lock: StreamLock, stream: Stream, scope: str, full: bool) -> FetchContext:
    """Resume an unfinished run from its cursor and window, or start a new window."""
    state = lock.state
    if state.cursor is not None and not full:
        # The pages before the cursor were read by an earlier run: no validators, since
        # this run will not see the list's first page.
        return FetchContext(
            scope=scope, since=state.run_since, cursor=state.cursor, full=state.run_full
        )
    since = None
    if not full and state.high_water_mark is not None:
        since = state.high_water_mark - stream.overlap
    lock.checkpoint(cursor=None, run_since=since, run_full=full, pending_high_water_mark=None)
    etags = {} if full else dict(state.etags or {})
    return FetchContext(scope=scope, since=since, cursor=None, full=full, etags=etags)


def _payload_chunks(records: models.QuerySet) -> Iterator[list[tuple[int, Any]]]:
    """(pk, payload) of `records` in pages of PAGE_SIZE, by primary key (keyset: no OFFSET,
    never the whole table in memory)."""
    last_pk = 0
    while True:
        chunk = list(
            records.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "payload")[:PAGE_SIZE]
        )
        if not chunk:
            return
        last_pk = chunk[-1][0]
        yield chunk


def _rejected_batches(records: models.QuerySet[RejectedRecord]) -> Iterator[Batch]:
    for chunk in _payload_chunks(records):
        yield Batch(records=[payload for _, payload in chunk], rejected_ids=[pk for pk, _ in chunk])


def _open_rejected_batches(stream: Stream, scope: str) -> Iterator[Batch]:
    return _rejected_batches(
        RejectedRecord.objects.filter(
            source=stream.source, entity=stream.entity, scope=scope, resolved=False
        )
    )


def run_sync(
    stream: Stream,
    scope: str = "",
    *,
    full: bool = False,
    job_id: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[SyncRun], None] | None = None,
) -> SyncRun:
    """Run one sync of `stream` for `scope`; returns the finished (or stopped) run.

    Raises SyncAlreadyRunning when another run holds the stream, and re-raises the
    stream's TransientError / PermanentError after recording the run as failed;
    the last committed checkpoint stays, so the next run resumes from it.
    """
    lock = StreamLock.acquire(stream.source, stream.entity, scope)
    try:
        run = SyncRun.objects.create(
            source=stream.source,
            entity=stream.entity,
            scope=scope,
            full=full,
            job_id=job_id,
            holder=lock.token,
        )
        harness = _Run(stream, scope, run, lock)
        context: FetchContext | None = None
        try:
            context = _start_context(lock, stream, scope, full)
            if context.full != run.full:
                run.full = context.full
                SyncRun.objects.filter(pk=run.pk).update(full=run.full)
            logger.info(
                "run %s started (%s)",
                run.pk,
                "resuming" if context.cursor is not None else "from the start",
                extra=harness.log_extra,
            )
            _sync_pages(harness, context, should_stop, progress)
        except Deferred as deferred:
            # Not a failure: the run stops at its last checkpoint and the next one resumes.
            run.retries = context.retries if context is not None else run.retries
            harness.finish(RunStatus.STOPPED, str(deferred))
            raise
        except BaseException as error:
            if context is not None:
                # Retries made on the failing page count too.
                run.retries = context.retries
            harness.fail(error)
            raise
        return run
    finally:
        lock.release()


def _sync_pages(
    harness: _Run,
    context: FetchContext,
    should_stop: Callable[[], bool] | None,
    progress: Callable[[SyncRun], None] | None,
) -> None:
    keep_raw = settings.INGEST_KEEP_RAW
    stream, scope, lock, run = harness.stream, harness.scope, harness.lock, harness.run
    for batch in _open_rejected_batches(stream, scope):
        harness.process(batch, keep_raw=False, checkpoint={})
    harness.open_rejected_keys = set(
        RejectedRecord.objects.filter(
            source=stream.source, entity=stream.entity, scope=scope, resolved=False
        )
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    )
    for page in stream.fetch_pages(context):
        run.retries = context.retries
        batch = Batch(
            records=page.records,
            requests=page.requests,
            is_page=True,
            next_cursor=page.next_cursor,
        )
        harness.process(batch, keep_raw=keep_raw, checkpoint={"cursor": page.next_cursor})
        if progress is not None:
            progress(run)
        if page.next_cursor is None:
            break
        if should_stop is not None and should_stop():
            harness.finish(RunStatus.STOPPED)
            return
    run.retries = context.retries
    state = lock.state
    marks = [mark for mark in (state.high_water_mark, state.pending_high_water_mark) if mark]
    harness.finish(
        RunStatus.SUCCEEDED,
        state_fields={
            "cursor": None,
            "run_since": None,
            "run_full": False,
            "pending_high_water_mark": None,
            "high_water_mark": max(marks) if marks else None,
            "last_success_at": timezone.now(),
            "last_run": run,
            "etags": context.new_etags,
        },
    )


def _rebuild(
    stream: Stream,
    scope: str,
    batches: Callable[[], Iterator[Batch]],
    *,
    from_raw: bool,
    job_id: int | None = None,
    keep_raw: bool = False,
) -> SyncRun:
    """Process batches that do not come from the upstream's pages, under the stream's lock."""
    lock = StreamLock.acquire(stream.source, stream.entity, scope)
    try:
        run = SyncRun.objects.create(
            source=stream.source,
            entity=stream.entity,
            scope=scope,
            full=from_raw,
            from_raw=from_raw,
            job_id=job_id,
            holder=lock.token,
        )
        harness = _Run(stream, scope, run, lock)
        try:
            for batch in batches():
                harness.process(
                    batch, keep_raw=keep_raw and batch.rejected_ids is None, checkpoint={}
                )
            harness.finish(RunStatus.SUCCEEDED)
        except BaseException as error:
            harness.fail(error)
            raise
        return run
    finally:
        lock.release()


def ingest_records(
    stream: Stream,
    scope: str,
    batches_of_records: list[list[dict[str, Any]]],
    *,
    job_id: int | None = None,
) -> SyncRun:
    """Load records that arrived without a fetch (webhook deliveries) as one run.

    The same stages as a sync, under the same lock: raw kept, normalized,
    references resolved, upserted by natural key (a record older than the stored
    row by the stream's version field changes nothing); one transaction per batch.
    The stream's open rejected records go first, so one that waited for a row a
    later batch brings is re-tried by the next run at the latest. Raises
    SyncAlreadyRunning while a sync holds the stream; the rows are untouched then.
    """

    def batches() -> Iterator[Batch]:
        yield from _open_rejected_batches(stream, scope)
        for records in batches_of_records:
            yield Batch(records=records)

    return _rebuild(
        stream, scope, batches, from_raw=False, job_id=job_id, keep_raw=settings.INGEST_KEEP_RAW
    )


def renormalize(source: str, entity: str, *, job_id: int | None = None) -> list[SyncRun]:
    """Rebuild a stream's rows from its kept raw payloads, without calling the upstream.

    One run per scope the raw records were read for; rows go through the same
    upsert, so unchanged rows stay untouched and changed ones are audited.
    """
    stream = get_stream(source, entity)
    scopes = sorted(
        set(RawRecord.objects.filter(source=source, entity=entity).values_list("scope", flat=True))
    )
    runs = []
    for scope in scopes:

        def raw_batches(scope: str = scope) -> Iterator[Batch]:
            raw = RawRecord.objects.filter(source=source, entity=entity, scope=scope)
            for chunk in _payload_chunks(raw):
                yield Batch(records=[payload for _, payload in chunk])

        runs.append(_rebuild(stream, scope, raw_batches, from_raw=True, job_id=job_id))
    return runs


def retry_rejected(records: models.QuerySet[RejectedRecord]) -> list[SyncRun]:
    """Re-normalize the given open rejected records now (the admin action)."""
    runs = []
    streams = (
        records.filter(resolved=False)
        .values_list("source", "entity", "scope")
        .distinct()
        .order_by("source", "entity", "scope")
    )
    for source, entity, scope in streams:
        stream = get_stream(source, entity)
        chosen = records.filter(source=source, entity=entity, scope=scope, resolved=False)

        def rejected_batches(chosen: models.QuerySet = chosen) -> Iterator[Batch]:
            return _rejected_batches(chosen)

        runs.append(_rebuild(stream, scope, rejected_batches, from_raw=False))
    return runs


def delete_expired_raw_records(now: dt.datetime | None = None) -> int:
    """Delete raw payloads first read longer ago than INGEST_RAW_RETENTION_DAYS; returns how many.

    Called by the daily cleanup job. A payload is rewritten (and its clock reset)
    only when it changes, so this removes payloads unchanged for the whole period.
    """
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.INGEST_RAW_RETENTION_DAYS)
    deleted, _ = RawRecord.objects.filter(fetched_at__lt=cutoff).delete()
    return deleted
