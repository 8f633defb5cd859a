"""Webhooks: verify, store durably, answer; then process in a job through the harness.

The receiving path (`accept`) is on the request: it verifies the signature,
stores the delivery with one INSERT (the unique (source, delivery_id) makes a
redelivery insert nothing) and makes sure a processing job is queued before it
answers 202. The processing path (`process_pending`, a job of kind "webhook" on
the critical cluster) claims pending deliveries in batches, turns each into
records of the source's streams (`WebhookReceiver.records`, pure) and loads
them with `harness.ingest_records`, the path every sync takes: a delivery and a
poll of the same object write the same row, and neither writes it twice.

One processing job serves many deliveries: a cache flag says "a job is queued",
so a burst of deliveries enqueues one job, not one each. The job clears the
flag before it claims anything, so a delivery stored after the claim finds the
flag clear and queues the next job; the every-minute sweeper queues one for any
delivery left pending (a lost task, a broker that was down).

A source plugs in with a `WebhookReceiver` in `sources/<name>/webhooks.py`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ingestion.choices import DeliveryStatus, JobKind, JobPriority
from ingestion.errors import PermanentError, RecordRejected, TransientError
from ingestion.harness import SyncAlreadyRunning, ingest_records
from ingestion.jobs import enqueue_job, job_progress, register_job_handler
from ingestion.models import IngestionJob, RejectedRecord, WebhookDelivery, WebhookRefusal
from ingestion.redaction import redact
from ingestion.streams import Stream, get_stream, import_source_modules

log = logging.getLogger("ingestion.webhooks")

JOB_QUEUED_FLAG = "ingestion:webhook-job-queued"
# A queued job normally starts within seconds; past this the flag lapses, so a lost
# task costs at most this long before the next delivery queues another job.
JOB_QUEUED_FLAG_SECONDS = 120
# A delivery claimed longer ago than this belongs to a worker that died: taken over.
STALE_CLAIM = dt.timedelta(minutes=10)
# A pending delivery older than this with no job in sight gets one from the sweeper.
SWEEP_AFTER = dt.timedelta(seconds=60)
# Tries at a stream held by a sync before the deliveries wait for the job's retry.
LOCK_TRIES = 5
LOCK_PAUSE_SECONDS = 0.2
MAX_ERROR_CHARS = 2000


# --- The contract a source implements ----------------------------------------------------


class WebhookRefused(Exception):
    """The request is not accepted: nothing is stored but a count of `reason`."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class IgnoredEvent(Exception):
    """A verified delivery of an event the hub does not use: kept, marked ignored."""


@dataclass(frozen=True)
class Receipt:
    """What a verified request is: a delivery to store, or a handshake answered at once."""

    delivery_id: str = ""
    event: str = ""
    action: str = ""
    # The JSON to store (the body, or the `payload` field of a form-encoded body).
    body: str = ""
    # Handshakes (GitHub's ping, Slack's url_verification) are answered with this
    # and stored nowhere.
    immediate: dict[str, Any] | None = None


@dataclass(frozen=True)
class StreamRecords:
    """Records of one stream and scope that a delivery carries.

    `only_new`: load only the records whose row does not exist yet. Webhook
    payloads embed objects (the repository of every GitHub event) in a shape that
    can differ from the API's; they create a row that is missing, and polling
    keeps it current, instead of both rewriting it back and forth.
    """

    source: str
    entity: str
    scope: str
    records: list[dict[str, Any]]
    only_new: bool = False


class WebhookReceiver:
    """One source's webhooks: verification, what a request is, what a delivery holds."""

    source: ClassVar[str]
    # Events stored as pending; any other verified event is stored as ignored.
    handled_events: ClassVar[frozenset[str]] = frozenset()
    # Streams ("source/entity") in the order a batch loads them: rows that others
    # refer to first (repositories, then builds, then their jobs).
    load_order: ClassVar[tuple[str, ...]] = ()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise WebhookRefused (401) unless the request is signed by the upstream."""
        raise NotImplementedError

    def receipt(self, body: bytes, headers: Mapping[str, str]) -> Receipt:
        """Name the delivery (id, event, action) of a verified body. Raise
        WebhookRefused (400) for a body that is not what the upstream sends."""
        raise NotImplementedError

    def records(self, event: str, payload: dict[str, Any]) -> list[StreamRecords]:
        """The stream records a stored delivery carries, in the order to load them
        (a repository before its builds). Pure. Raise IgnoredEvent or RecordRejected."""
        raise NotImplementedError


_receivers: dict[str, WebhookReceiver] = {}


def register_receiver(receiver_class: type[WebhookReceiver]) -> type[WebhookReceiver]:
    """Class decorator: the receiver of POST /api/webhooks/<source>."""
    _receivers[receiver_class.source] = receiver_class()
    return receiver_class


def get_receiver(source: str) -> WebhookReceiver | None:
    return _receivers.get(source)


def autodiscover_receivers() -> None:
    """Import `sources.<name>.webhooks` for every source package that has one."""
    import_source_modules("webhooks")


# --- Signatures ----------------------------------------------------------------------------


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_matches(secrets: Iterable[str], message: bytes, signature: str, prefix: str) -> bool:
    """True when `signature` is `prefix` + HMAC-SHA256(message) under one of `secrets`.

    Every secret is compared in constant time (no early exit on the first one), so
    the timing says nothing about which secret or how many bytes matched.
    """
    matched = False
    for secret in secrets:
        expected = prefix + hmac_sha256_hex(secret, message)
        matched |= hmac.compare_digest(expected.encode(), signature.encode())
    return matched


def json_object(text: str | bytes) -> dict[str, Any]:
    """The body as a JSON object, or WebhookRefused(400) saying why it is not one."""
    try:
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError) as error:
        raise WebhookRefused(400, "not_json", f"The body is not JSON: {error}.") from None
    if not isinstance(payload, dict):
        raise WebhookRefused(400, "not_json", "The body must be a JSON object.")
    return payload


def form_payload(body: bytes) -> str:
    """The JSON in the `payload` field of an application/x-www-form-urlencoded body."""
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused(400, "not_json", "The form body cannot be parsed.") from None
    values = fields.get("payload")
    if not values:
        raise WebhookRefused(400, "not_json", "The form body has no `payload` field.")
    return values[0]


# --- Receiving -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    status: int
    body: dict[str, Any]


def accept(source: str, body: bytes, headers: Mapping[str, str]) -> Accepted:
    """Verify, store and queue one request. Raises WebhookRefused (after counting it).

    Stored means committed: the INSERT runs in autocommit (or commits with the
    surrounding transaction before the job is sent), so a 202 is only ever sent
    for a delivery that a crash right after cannot lose.
    """
    receiver = get_receiver(source)
    if receiver is None:
        raise WebhookRefused(404, "unknown_source", f"No webhooks for source {source!r}.")
    try:
        receiver.verify(body, headers)
        receipt = receiver.receipt(body, headers)
    except WebhookRefused as refused:
        count_refusal(source, refused.reason)
        raise
    if receipt.immediate is not None:
        return Accepted(200, receipt.immediate)
    handled = receipt.event in receiver.handled_events
    inserted = store_delivery(
        WebhookDelivery(
            source=source,
            delivery_id=receipt.delivery_id[:100],
            event=receipt.event[:100],
            action=receipt.action[:100],
            body=receipt.body,
            status=DeliveryStatus.PENDING if handled else DeliveryStatus.IGNORED,
            processed_at=None if handled else timezone.now(),
        )
    )
    if handled and inserted:
        # A redelivery found its delivery stored, with its job queued back then.
        transaction.on_commit(ensure_processing_job)
    return Accepted(202, {"status": "accepted", "delivery": receipt.delivery_id})


def store_delivery(delivery: WebhookDelivery) -> bool:
    """Insert the delivery unless (source, delivery_id) is stored; True when it was new.

    One `INSERT … ON CONFLICT DO NOTHING RETURNING` in autocommit: a single round
    trip on the hottest path (the ORM's bulk_create wraps its INSERT in BEGIN and
    COMMIT, and cannot say whether the row was new).
    """
    fields = [field for field in WebhookDelivery._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = [
        field.get_db_prep_save(field.pre_save(delivery, True), connection) for field in fields
    ]
    sql = (
        f"INSERT INTO {quote(WebhookDelivery._meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({placeholders}) ON CONFLICT ({quote('source')}, {quote('delivery_id')}) "
        f"DO NOTHING RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    delivery.pk = row[0]
    return True


def count_refusal(source: str, reason: str) -> None:
    counter = WebhookRefusal.objects.filter(source=source, reason=reason)
    if counter.update(count=F("count") + 1, last_at=timezone.now()):
        return
    # The first refusal of its kind: make the row (another process may make it first:
    # the conflict is ignored), then count as always.
    WebhookRefusal.objects.bulk_create(
        [WebhookRefusal(source=source, reason=reason, count=0)], ignore_conflicts=True
    )
    counter.update(count=F("count") + 1, last_at=timezone.now())


def ensure_processing_job() -> IngestionJob | None:
    """Queue a processing job unless one is queued already (see the module docstring)."""
    if not cache.add(JOB_QUEUED_FLAG, "1", timeout=JOB_QUEUED_FLAG_SECONDS):
        return None
    return enqueue_job(JobKind.WEBHOOK, {}, JobPriority.CRITICAL, created_by="webhook")


def enqueue_for_waiting_deliveries(now: dt.datetime | None = None) -> IngestionJob | None:
    """The sweeper's net: a job for deliveries pending this long (their job was lost)."""
    now = now or timezone.now()
    waiting = WebhookDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, received_at__lt=now - SWEEP_AFTER) | _abandoned(now)
    )
    if not waiting.exists():
        return None
    cache.delete(JOB_QUEUED_FLAG)
    return ensure_processing_job()


# --- Processing ----------------------------------------------------------------------------


@dataclass
class DeliveryOutcome:
    """What processing made of one delivery: the worst outcome of its parts wins."""

    delivery: WebhookDelivery
    status: str = DeliveryStatus.PROCESSED
    errors: list[str] = field(default_factory=list)

    def fail(self, error: str) -> None:
        if self.status != DeliveryStatus.PENDING:
            self.status = DeliveryStatus.FAILED
        self.errors.append(error)

    def wait(self, error: str) -> None:
        self.status = DeliveryStatus.PENDING
        self.errors.append(error)


@dataclass
class _Group:
    """The records of one stream and scope in a batch, and which delivery sent each."""

    order: int
    stream: Stream
    scope: str
    only_new: bool
    items: list[tuple[DeliveryOutcome, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class ProcessResult:
    processed: int = 0
    ignored: int = 0
    failed: int = 0
    waiting: int = 0

    def add(self, other: ProcessResult) -> None:
        self.processed += other.processed
        self.ignored += other.ignored
        self.failed += other.failed
        self.waiting += other.waiting


@register_job_handler(JobKind.WEBHOOK)
def run_webhook_job(job: IngestionJob) -> None:
    result = process_pending(job=job)
    if result.waiting:
        raise TransientError(
            f"{result.waiting} deliveries wait for a stream that a sync holds; retried later."
        )


def process_pending(
    *, job: IngestionJob | None = None, batch_size: int | None = None
) -> ProcessResult:
    """Process pending deliveries, oldest first, batch by batch, until none is left."""
    # Cleared before claiming: a delivery stored from now on queues the next job.
    cache.delete(JOB_QUEUED_FLAG)
    batch_size = batch_size or settings.WEBHOOK_BATCH_SIZE
    job_id = job.pk if job is not None else None
    token = f"{job_id or 'direct'}:{uuid.uuid4().hex[:12]}"
    result = ProcessResult()
    skipped: set[int] = set()
    while True:
        deliveries = _claim_batch(token, batch_size, exclude=skipped)
        if not deliveries:
            return result
        batch = process_deliveries(deliveries, job_id=job_id)
        result.add(batch)
        # Deliveries that wait for a busy stream are left for the job's retry.
        skipped.update(
            delivery.pk for delivery in deliveries if delivery.status == DeliveryStatus.PENDING
        )
        if job is not None:
            job_progress(job, result.processed + result.ignored + result.failed)


def _claim_batch(token: str, size: int, *, exclude: set[int]) -> list[WebhookDelivery]:
    """Claim up to `size` deliveries by compare-and-set on their status: two jobs
    never process the same delivery. Pending ones first (a plain range over the
    (status, id) index); deliveries a dead worker left "processing" when none wait."""
    now = timezone.now()
    for claimable in (Q(status=DeliveryStatus.PENDING), _abandoned(now)):
        candidates = list(
            WebhookDelivery.objects.filter(claimable)
            .exclude(pk__in=exclude)
            .order_by("id")
            .values_list("pk", flat=True)[:size]
        )
        if candidates:
            break
    else:
        return []
    WebhookDelivery.objects.filter(claimable, pk__in=candidates).update(
        status=DeliveryStatus.PROCESSING,
        claimed_by=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
    )
    return list(
        WebhookDelivery.objects.filter(
            pk__in=candidates, claimed_by=token, status=DeliveryStatus.PROCESSING
        ).order_by("id")
    )


def _abandoned(now: dt.datetime) -> Q:
    """Deliveries claimed by a worker that died before it recorded their outcome."""
    return Q(status=DeliveryStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM)


def replay(deliveries: Sequence[WebhookDelivery]) -> ProcessResult:
    """Process stored deliveries again now, whatever their status (the admin's action)."""
    ids = [delivery.pk for delivery in deliveries]
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PROCESSING,
        claimed_by="replay",
        claimed_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    result = process_deliveries(list(WebhookDelivery.objects.filter(pk__in=ids).order_by("id")))
    if result.waiting:
        # Left pending for a stream a sync holds: the processing job takes them after it.
        transaction.on_commit(ensure_processing_job)
    return result


def process_deliveries(
    deliveries: Sequence[WebhookDelivery], *, job_id: int | None = None
) -> ProcessResult:
    """Load what the deliveries carry and record each one's outcome."""
    outcomes: list[DeliveryOutcome] = []
    groups: dict[tuple[str, str, str], _Group] = {}
    for delivery in deliveries:
        outcome = DeliveryOutcome(delivery)
        outcomes.append(outcome)
        _plan(outcome, groups)
    for group in sorted(groups.values(), key=lambda g: (g.order, g.stream.name, g.scope)):
        _load_group(group, job_id)
    return _record_outcomes(outcomes)


def _plan(outcome: DeliveryOutcome, groups: dict[tuple[str, str, str], _Group]) -> None:
    delivery = outcome.delivery
    receiver = get_receiver(delivery.source)
    try:
        if receiver is None:
            raise PermanentError(f"No webhook receiver for source {delivery.source!r}.")
        parts = receiver.records(delivery.event, json.loads(delivery.body))
        if not parts:
            raise IgnoredEvent("the delivery carries no records")
        planned = [(get_stream(part.source, part.entity), part) for part in parts]
    except IgnoredEvent as ignored:
        outcome.status = DeliveryStatus.IGNORED
        outcome.errors.append(str(ignored))
        return
    except (RecordRejected, PermanentError, LookupError, ValueError, TypeError) as error:
        outcome.fail(f"{type(error).__name__}: {error}")
        return
    order = receiver.load_order
    for stream, part in planned:
        position = order.index(stream.name) if stream.name in order else len(order)
        group = groups.setdefault(
            (part.source, part.entity, part.scope),
            _Group(position, stream, part.scope, part.only_new),
        )
        for record in part.records:
            try:
                key = str(stream.natural_key(record))
            except (RecordRejected, ValueError, TypeError) as error:
                # The delivery's other records still load; this one is reported.
                outcome.fail(f"{stream.name}: {type(error).__name__}: {error}")
                continue
            group.items.append((outcome, key, record))


def _load_group(group: _Group, job_id: int | None) -> None:
    stream, scope = group.stream, group.scope
    items = group.items
    if group.only_new:
        stored = set(
            stream.model._default_manager.filter(
                source=stream.source, external_id__in={key for _, key, _ in items}
            ).values_list("external_id", flat=True)
        )
        # Only to create what is missing: one copy per key is enough.
        first_of_key: dict[str, tuple[DeliveryOutcome, str, dict[str, Any]]] = {}
        for item in items:
            if item[1] not in stored:
                first_of_key.setdefault(item[1], item)
        items = list(first_of_key.values())
    if not items:
        return
    try:
        run = _ingest_when_free(stream, scope, _rounds(stream, items), job_id)
    except (SyncAlreadyRunning, TransientError) as error:
        for outcome, _, _ in items:
            outcome.wait(redact(str(error)))
        return
    except PermanentError as error:
        for outcome, _, _ in items:
            outcome.fail(redact(f"{stream.name}: {error}"))
        return
    if not run.rejected:
        return
    rejected = dict(
        RejectedRecord.objects.filter(
            run=run,
            resolved=False,
            external_id__in={key for _, key, _ in items},
        ).values_list("external_id", "error")
    )
    for outcome, key, _ in items:
        if key in rejected:
            outcome.fail(f"{stream.name} {key}: {rejected[key]}")


def _rounds(
    stream: Stream, items: list[tuple[DeliveryOutcome, str, dict[str, Any]]]
) -> list[list[dict[str, Any]]]:
    """The records in rounds with one copy of each key per round, oldest first.

    A batch may hold several events of one object (a run requested, in progress,
    completed; a commit pushed to two branches). Loaded one round after another,
    each copy meets the stored row: the stream's version field keeps the newest
    state, its merge fields keep every branch, whatever the order of arrival.
    """
    ordered = sorted(items, key=lambda item: _time_order(stream, item[2]))
    rounds: list[list[dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for _, key, record in ordered:
        index = seen.get(key, 0)
        seen[key] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(record)
    return rounds


def _ingest_when_free(
    stream: Stream, scope: str, rounds: list[list[dict[str, Any]]], job_id: int | None
):
    """A sync's page commits in well under a second; wait briefly for it rather than
    leave the deliveries for a retry a minute away."""
    for attempt in range(1, LOCK_TRIES):
        try:
            return ingest_records(stream, scope, rounds, job_id=job_id)
        except SyncAlreadyRunning:
            time.sleep(LOCK_PAUSE_SECONDS * attempt)
    return ingest_records(stream, scope, rounds, job_id=job_id)


def _time_order(stream: Stream, record: dict[str, Any]) -> tuple[int, dt.datetime]:
    try:
        moment = stream.record_time(record)
    except (RecordRejected, ValueError, TypeError):
        moment = None
    if moment is None:
        return (0, dt.datetime.min.replace(tzinfo=dt.UTC))
    return (1, moment)


def _record_outcomes(outcomes: list[DeliveryOutcome]) -> ProcessResult:
    """Each delivery's outcome, in one UPDATE per (status, error): usually one for the
    processed ones and a few for the rest."""
    now = timezone.now()
    result = ProcessResult()
    by_outcome: dict[tuple[str, str], list[int]] = defaultdict(list)
    for outcome in outcomes:
        delivery = outcome.delivery
        delivery.status = outcome.status
        error = redact("; ".join(outcome.errors))[:MAX_ERROR_CHARS]
        if outcome.status == DeliveryStatus.PROCESSED:
            error = ""
            result.processed += 1
        elif outcome.status == DeliveryStatus.PENDING:
            result.waiting += 1
        elif outcome.status == DeliveryStatus.IGNORED:
            result.ignored += 1
        else:
            result.failed += 1
            log.warning(
                "webhook delivery %s failed: %s",
                delivery.delivery_id,
                error,
                extra={"source": delivery.source, "event": "webhook_failed"},
            )
        by_outcome[(outcome.status, error)].append(delivery.pk)
    for (status, error), ids in by_outcome.items():
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=status,
            error=error,
            claimed_by="",
            claimed_at=None,
            processed_at=None if status == DeliveryStatus.PENDING else now,
        )
    return result


def delete_expired_deliveries(now: dt.datetime | None = None) -> int:
    """Processed and ignored deliveries past WEBHOOK_RETENTION_DAYS; failed ones stay."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED], received_at__lt=cutoff
    ).delete()
    return deleted
