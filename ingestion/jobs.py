"""Jobs: queue them on django-q2, run them once, retry them with backoff, bury the hopeless.

The life of a job:

    queued ──claim──▶ running ──▶ succeeded
       ▲                │ ├─ TransientError ──▶ retrying (next_attempt_at = now + backoff)
       │                │ │                        └─ after max_attempts ──▶ dead (the DLQ)
       │                │ ├─ PermanentError ──▶ failed (at once, with what to fix)
       │                │ └─ Deferred (breaker open, paused, rate budget spent) ──▶ retrying,
       │                │                        attempt not counted
       └── sweeper: stale heartbeat (worker died), lost task, due retry; it also
           fails the sync runs a dead worker left "running"

django-q2 carries a job's primary key to a worker (`ingestion.tasks.run_job_task`);
this module decides everything else. Workers claim a job with compare-and-set on
its status, so a task delivered twice (a broker redelivery, a sweeper re-enqueue)
runs the job once. No worker ever sleeps through a wait: a retry is a one-off
django-q2 Schedule at `next_attempt_at`, with the every-minute sweeper as a net.

Priorities: django-q2 has no per-task priority, so critical and high jobs go to
their own cluster ("critical", its own workers: `Q_CLUSTER_NAME=critical
python manage.py qcluster`); normal and low jobs go to the default cluster.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.signing import BadSignature, SignedPackage
from django_q.tasks import async_task
from redis.exceptions import RedisError

from ingestion.backoff import backoff_seconds
from ingestion.breaker import defer_while_open, record_failure, record_success
from ingestion.choices import (
    FINISHED_JOB_STATUSES,
    JobKind,
    JobPriority,
    JobStatus,
    RunStatus,
)
from ingestion.errors import Deferred, PermanentError, TransientError
from ingestion.harness import (
    SyncAlreadyRunning,
    audit_run,
    delete_expired_raw_records,
    holder_is_dead,
    run_sync,
)
from ingestion.models.jobs import IngestionJob, PipelineControl
from ingestion.models.sync import SyncRun, SyncState
from ingestion.redaction import redact
from ingestion.streams import Stream, UnknownStream, all_streams, get_stream

__all__ = [
    "CRITICAL_CLUSTER",
    "JobDeferred",
    "cancel_jobs",
    "cleanup",
    "cluster_for",
    "default_cluster",
    "enqueue_due_retries",
    "enqueue_job",
    "enqueue_reconciles",
    "enqueue_source_sync",
    "enqueue_sync",
    "fail_orphaned_runs",
    "fan_out_source_syncs",
    "fan_out_syncs",
    "is_paused",
    "pause_pipeline",
    "register_job_handler",
    "requeue_lost_jobs",
    "requeue_stale_jobs",
    "resume_pipeline",
    "retry_dead_jobs",
    "run_job",
    "sweep",
]

log = logging.getLogger("ingestion")
T = TypeVar("T")

CRITICAL_CLUSTER = "critical"
RUN_JOB_TASK = "ingestion.tasks.run_job_task"
# Claimable statuses: a worker may start a job only from these.
CLAIMABLE = (JobStatus.QUEUED, JobStatus.RETRYING)
# A paused job looks again this late, in case nobody resumes through `resume_pipeline`.
PAUSE_RECHECK_SECONDS = 60
# django-q2's scheduler looks at Schedules about every 30 s: a due retry that has
# not started this long after its time lost its one-off Schedule.
RETRY_GRACE_SECONDS = 90
# Error text kept on a job: enough to read, bounded for the admin list.
MAX_ERROR_CHARS = 2000
ORPHANED_RUN_ERROR = (
    "The process running it stopped (killed or crashed); "
    "the next run resumes from the last checkpoint."
)

WAIT_BACKOFF = "backoff"
WAIT_PAUSE = "pause"


# --- Queues -----------------------------------------------------------------------------


def default_cluster() -> str:
    """The default cluster's queue name (django-q2 uses the cluster `name` for it).

    Always passed explicitly: inside a worker of the critical cluster django-q2's
    own default would be "critical".
    """
    return Conf.PREFIX


def cluster_for(priority: str) -> str:
    """The django-q2 cluster that runs jobs of this priority."""
    if priority in (JobPriority.CRITICAL, JobPriority.HIGH):
        return CRITICAL_CLUSTER
    return default_cluster()


# --- Enqueueing -------------------------------------------------------------------------


def enqueue_job(
    kind: str,
    params: dict[str, Any] | None = None,
    priority: str = JobPriority.NORMAL,
    *,
    created_by: str = "",
    max_attempts: int | None = None,
) -> IngestionJob:
    """Record a job and hand it to django-q2 once the surrounding transaction commits.

    Sending after commit means a worker never looks for a job row that is not
    visible yet; if sending fails (the broker is down), the job stays queued and
    the sweeper sends it later: it is never lost.
    """
    params = dict(params or {})
    if kind not in JobKind.values:
        raise ValueError(f"Unknown job kind {kind!r}; valid: {', '.join(JobKind.values)}.")
    if priority not in JobPriority.values:
        raise ValueError(f"Unknown priority {priority!r}; valid: {', '.join(JobPriority.values)}.")
    job = IngestionJob.objects.create(
        kind=kind,
        params=params,
        source=str(params.get("source", "")),
        entity=str(params.get("entity", "")),
        scope=str(params.get("scope", "")),
        priority=priority,
        max_attempts=max_attempts or settings.INGEST_MAX_ATTEMPTS,
        created_by=created_by,
    )
    _log(job, "queued", priority=priority, created_by=created_by)
    transaction.on_commit(lambda: _send(job.pk))
    return job


def enqueue_sync(
    source: str,
    entity: str,
    *,
    scope: str = "",
    full: bool = False,
    priority: str = JobPriority.NORMAL,
    created_by: str = "",
) -> IngestionJob:
    """Queue one sync of a stream. Raises UnknownStream for a stream nobody registered."""
    stream = get_stream(source, entity)
    params = {"source": stream.source, "entity": stream.entity, "scope": scope, "full": full}
    return enqueue_job(JobKind.SYNC, params, priority, created_by=created_by)


def fan_out_syncs(
    source: str | None = None,
    *,
    full: bool = False,
    priority: str = JobPriority.LOW,
    scoped_only: bool = False,
    scopes: Iterable[str] | None = None,
    created_by: str = "schedule",
) -> list[IngestionJob]:
    """Queue one sync per configured stream and scope.

    `scoped_only` leaves out the streams without a scope (a source sync has just run
    them); `scopes` replaces each stream's configured scopes ("sync this repository").
    A stream and scope that already have an unfinished sync job are skipped, so a
    backlog never piles up a second copy of the same work.
    """
    # One query for the syncs still unfinished, not one per stream and scope.
    pending = _unfinished_targets(JobKind.SYNC)
    chosen_scopes = list(scopes) if scopes is not None else None
    jobs = []
    for stream in all_streams():
        if source and source not in (stream.source, stream.scopes_of):
            continue
        if scoped_only and not stream.scoped:
            continue
        stream_scopes = stream.configured_scopes()
        if chosen_scopes is not None and stream.scoped:
            stream_scopes = chosen_scopes
        for scope in stream_scopes:
            if (stream.source, stream.entity, scope) in pending:
                continue
            jobs.append(
                enqueue_sync(
                    stream.source,
                    stream.entity,
                    scope=scope,
                    full=full,
                    priority=priority,
                    created_by=created_by,
                )
            )
    return jobs


def _unfinished_targets(kind: str) -> set[tuple[str, str, str]]:
    """(source, entity, scope) of the jobs of `kind` not finished yet, in one query."""
    return set(
        IngestionJob.objects.filter(kind=kind)
        .exclude(status__in=FINISHED_JOB_STATUSES)
        .values_list("source", "entity", "scope")
    )


def enqueue_source_sync(
    source: str,
    *,
    scope: str = "",
    full: bool = False,
    priority: str = JobPriority.NORMAL,
    created_by: str = "",
) -> IngestionJob:
    """Queue a sync of a whole source: its unscoped streams first (they find the scopes,
    e.g. the repositories), then one job per scoped stream and scope.

    With `scope`, only that scope ("sync this repository").
    """
    if not any(stream.source == source for stream in all_streams()):
        known = sorted({stream.source for stream in all_streams()})
        raise ValueError(f"No streams for source {source!r}; known: {', '.join(known)}.")
    params = {"source": source, "scope": scope, "full": full}
    return enqueue_job(JobKind.SOURCE_SYNC, params, priority, created_by=created_by)


def fan_out_source_syncs(
    *, full: bool = False, priority: str = JobPriority.LOW
) -> list[IngestionJob]:
    """The daily schedule: one source sync per source, unless one is still unfinished."""
    pending = {source for source, _, scope in _unfinished_targets(JobKind.SOURCE_SYNC) if not scope}
    # A source whose streams all follow another's scopes is synced by that source's sync.
    sources = sorted({stream.source for stream in all_streams() if not stream.scopes_of} - pending)
    return [
        enqueue_source_sync(source, full=full, priority=priority, created_by="schedule")
        for source in sources
    ]


def _send(job_id: int) -> None:
    """Put a task for the job on its cluster's queue (django-q2 `async_task`)."""
    job = IngestionJob.objects.filter(pk=job_id).only("pk", "priority", "kind").first()
    if job is None:
        return
    try:
        task_id = async_task(
            RUN_JOB_TASK,
            job.pk,
            cluster=cluster_for(job.priority),
            task_name=f"job-{job.pk}-{job.kind}",
            group=f"ingestion-{job.kind}",
        )
    except (RedisError, DatabaseError) as error:
        _log(
            job,
            "enqueue failed; the sweeper will send it again",
            logging.WARNING,
            error=redact(str(error)),
        )
        return
    IngestionJob.objects.filter(pk=job.pk).update(task_id=task_id, enqueued_at=timezone.now())


def _schedule_retry(job: IngestionJob, at: dt.datetime) -> None:
    """A one-off django-q2 Schedule runs the job's task at `at` on the job's cluster."""
    Schedule.objects.create(
        name=f"retry job {job.pk} at {at.isoformat()}",
        func=RUN_JOB_TASK,
        args=repr((job.pk,)),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=at,
        cluster=cluster_for(job.priority),
    )


# --- Running ----------------------------------------------------------------------------


class JobDeferred(Deferred):
    """Raised by a handler: not now, try again in `seconds`; the attempt does not count.

    Sources raise the base class, `ingestion.errors.Deferred` (a spent rate budget);
    the job layer treats both alike.
    """


JobHandler = Callable[[IngestionJob], None]
_handlers: dict[str, JobHandler] = {}


def register_job_handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Decorator: the function that performs jobs of `kind` (webhook deliveries, CSV imports…).

    A handler raises TransientError / PermanentError / JobDeferred; it may call
    `job_should_stop(job)` at its checkpoints and `job_progress(job, done, total)`.
    """

    def decorator(handler: JobHandler) -> JobHandler:
        _handlers[kind] = handler
        return handler

    return decorator


def run_job(job_id: int) -> IngestionJob | None:
    """Claim the job and perform it once. Returns None when the job was not claimable
    (already run, running elsewhere, cancelled, or a retry that is not due yet)."""
    job = _claim(job_id)
    if job is None:
        return None
    _log(job, "started", attempt=job.attempts)
    try:
        if is_paused():
            raise JobDeferred(PAUSE_RECHECK_SECONDS, WAIT_PAUSE, "pipeline paused")
        handler = _handlers.get(job.kind)
        if handler is None:
            raise PermanentError(f"No handler for jobs of kind {job.kind!r}.")
        handler(job)
    except Deferred as deferred:
        _defer(job, deferred)
    except TransientError as error:
        _retry_or_bury(job, error)
    except PermanentError as error:
        _finish(job, JobStatus.FAILED, error=_error_text(error))
    except Exception as error:
        # A bug, not an upstream failure: retried like a transient error so a fix
        # deployed meanwhile gets its chance, and dead-lettered after max attempts.
        log.exception("job %s crashed", job.pk, extra=_extra(job, event="crashed"))
        _retry_or_bury(job, error)
    else:
        _finish(job, JobStatus.SUCCEEDED)
    job.refresh_from_db()
    return job


def _claim(job_id: int) -> IngestionJob | None:
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = IngestionJob.objects.filter(Q(pk=job_id), Q(status__in=CLAIMABLE), due).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        next_attempt_at=None,
        waiting_for="",
    )
    if claimed != 1:
        return None
    return IngestionJob.objects.get(pk=job_id)


def _still_running(job: IngestionJob) -> Q:
    return Q(pk=job.pk, status=JobStatus.RUNNING)


def _finish(job: IngestionJob, status: str, *, error: str = "") -> None:
    now = timezone.now()
    started = job.started_at or now
    updated = IngestionJob.objects.filter(_still_running(job)).update(
        status=status,
        finished_at=now,
        heartbeat_at=now,
        duration_seconds=(now - started).total_seconds(),
        last_error=error,
    )
    if updated:
        level = logging.INFO if status == JobStatus.SUCCEEDED else logging.ERROR
        _log(job, status, level, error=error)


def _retry_or_bury(job: IngestionJob, error: BaseException) -> None:
    message = _error_text(error)
    if job.attempts >= job.max_attempts:
        _finish(
            job,
            JobStatus.DEAD,
            error=f"Gave up after {job.attempts} attempts. Last error: {message}",
        )
        return
    wait = backoff_seconds(job.attempts, retry_after=getattr(error, "retry_after", None))
    _wait(job, wait, WAIT_BACKOFF, message, keep_attempt=True)


def _defer(job: IngestionJob, deferred: Deferred) -> None:
    _wait(job, deferred.seconds, deferred.reason, str(deferred), keep_attempt=False)


def _wait(
    job: IngestionJob, seconds: float, reason: str, message: str, *, keep_attempt: bool
) -> None:
    """Put a running job back to `retrying` until now + seconds, and schedule its task."""
    now = timezone.now()
    at = now + dt.timedelta(seconds=seconds)
    changes: dict[str, Any] = {
        "status": JobStatus.RETRYING,
        "next_attempt_at": at,
        "waiting_for": reason,
        "last_error": message,
        "heartbeat_at": now,
        "duration_seconds": (now - (job.started_at or now)).total_seconds(),
    }
    if not keep_attempt:
        changes["attempts"] = F("attempts") - 1
    with transaction.atomic():
        if not IngestionJob.objects.filter(_still_running(job)).update(**changes):
            return  # cancelled meanwhile, or taken over by the sweeper
        _schedule_retry(job, at)
    _log(job, f"waiting ({reason})", logging.WARNING, seconds=round(seconds, 1), error=message)


def _error_text(error: BaseException) -> str:
    """The error as a person should read it: kind and message, secrets removed, bounded."""
    text = str(error) or error.__class__.__name__
    if not isinstance(error, TransientError | PermanentError):
        text = f"{error.__class__.__name__}: {text}"
    return redact(text)[:MAX_ERROR_CHARS]


# --- Checkpoint callbacks ---------------------------------------------------------------


def job_should_stop(job: IngestionJob) -> bool:
    """Called at each checkpoint: beat the heart; stop if paused, cancelled or taken over.

    One UPDATE does both: it touches the heartbeat only while the job is still
    ours and running, so 0 rows means someone cancelled it or the sweeper gave it
    to another worker.
    """
    alive = IngestionJob.objects.filter(_still_running(job)).update(heartbeat_at=timezone.now())
    return alive == 0 or is_paused()


def job_progress(job: IngestionJob, done: int, total: int | None = None) -> None:
    """Record progress (pages done, of total when known) and beat the heart."""
    changes: dict[str, Any] = {"progress_done": done, "heartbeat_at": timezone.now()}
    if total is not None:
        changes["progress_total"] = total
    IngestionJob.objects.filter(_still_running(job)).update(**changes)


def _sync_progress(job: IngestionJob, run: SyncRun) -> None:
    """After each committed page: the run's counts so far, shown live on the job."""
    IngestionJob.objects.filter(_still_running(job)).update(
        **_run_counts(run), progress_done=run.pages or 0, heartbeat_at=timezone.now()
    )


# --- Handlers ---------------------------------------------------------------------------


@register_job_handler(JobKind.SYNC)
def run_sync_job(job: IngestionJob) -> None:
    """One stream sync through the harness, behind the source's circuit breaker."""
    _sync_stream(job, _job_stream(job), job.scope)


def _job_stream(job: IngestionJob) -> Stream:
    try:
        return get_stream(job.source, job.entity)
    except UnknownStream as error:
        raise PermanentError(str(error)) from None


@register_job_handler(JobKind.SOURCE_SYNC)
def run_source_sync_job(job: IngestionJob) -> None:
    """A whole source: its unscoped streams here, then a job per scoped stream and scope."""
    streams = [stream for stream in all_streams() if stream.source == job.source]
    if not streams:
        raise PermanentError(f"No streams for source {job.source!r}.")
    for stream in streams:
        if not stream.scoped:
            _sync_stream(job, stream, job.scope)
    fan_out_syncs(
        job.source,
        full=bool(job.params.get("full", False)),
        priority=job.priority,
        scoped_only=True,
        scopes=[job.scope] if job.scope else None,
        created_by=f"job {job.pk}",
    )


def _through_breaker(source: str, call: Callable[[], T]) -> T:
    """Run `call` behind the source's circuit breaker: deferred while it is open, and
    its transient failures (not a busy stream lock) counted against the source."""
    defer_while_open(source)
    try:
        result = call()
    except SyncAlreadyRunning:
        raise  # another worker holds the stream's lock: retry later, not the upstream's fault
    except TransientError:
        record_failure(source)
        raise
    record_success(source)
    return result


def _sync_stream(job: IngestionJob, stream: Stream, scope: str) -> None:
    run = _through_breaker(
        job.source,
        lambda: run_sync(
            stream,
            scope,
            full=bool(job.params.get("full", False)),
            job_id=job.pk,
            should_stop=lambda: job_should_stop(job),
            progress=lambda run: _sync_progress(job, run),
        ),
    )
    _copy_counts(job, run)
    if run.status == RunStatus.STOPPED:
        raise JobDeferred(PAUSE_RECHECK_SECONDS, WAIT_PAUSE, "stopped at a checkpoint (paused)")


def _run_counts(run: SyncRun) -> dict[str, int]:
    return {name: getattr(run, name) for name in SyncRun.COUNT_FIELDS}


def _copy_counts(job: IngestionJob, run: SyncRun) -> None:
    counts = _run_counts(run)
    IngestionJob.objects.filter(pk=job.pk).update(**counts, progress_done=counts["pages"])


@register_job_handler(JobKind.RECONCILE)
def run_reconcile_job(job: IngestionJob) -> None:
    """Mark what the upstream no longer lists as deleted (Jira issues deleted or moved)."""
    from ingestion.reconcile import reconcile

    stream = _job_stream(job)
    _through_breaker(job.source, lambda: reconcile(stream, job.scope, job_id=job.pk))


def enqueue_reconciles(*, priority: str = JobPriority.LOW) -> list[IngestionJob]:
    """The weekly schedule: one reconciliation per reconcilable stream and configured scope,
    unless one is still unfinished."""
    from ingestion.reconcile import reconcilable_streams

    pending = _unfinished_targets(JobKind.RECONCILE)
    jobs = []
    for stream in reconcilable_streams():
        for scope in stream.configured_scopes():
            if (stream.source, stream.entity, scope) in pending:
                continue
            params = {"source": stream.source, "entity": stream.entity, "scope": scope}
            jobs.append(enqueue_job(JobKind.RECONCILE, params, priority, created_by="schedule"))
    return jobs


@register_job_handler(JobKind.CLEANUP)
def run_cleanup_job(job: IngestionJob) -> None:
    cleanup()


# --- Pause and resume -------------------------------------------------------------------


def is_paused() -> bool:
    return PipelineControl.objects.filter(pk=PipelineControl.SINGLETON_PK, paused=True).exists()


def pause_pipeline(by: str = "") -> None:
    """No job starts from now on; running syncs stop at their next checkpoint."""
    _set_paused(True, by)
    log.warning("pipeline paused", extra={"event": "paused", "by": by})


def resume_pipeline(by: str = "") -> int:
    """Start again, and queue at once the jobs the pause held back. Returns how many."""
    _set_paused(False, by)
    held = IngestionJob.objects.filter(status=JobStatus.RETRYING, waiting_for=WAIT_PAUSE)
    ids = list(held.values_list("pk", flat=True))
    IngestionJob.objects.filter(pk__in=ids, status=JobStatus.RETRYING).update(
        status=JobStatus.QUEUED, next_attempt_at=None, waiting_for=""
    )
    for job_id in ids:
        _send(job_id)
    log.warning("pipeline resumed", extra={"event": "resumed", "by": by, "requeued": len(ids)})
    return len(ids)


def _set_paused(paused: bool, by: str) -> None:
    PipelineControl.objects.update_or_create(
        pk=PipelineControl.SINGLETON_PK,
        defaults={"paused": paused, "changed_at": timezone.now(), "changed_by": by},
    )


# --- Operator actions -------------------------------------------------------------------


def retry_dead_jobs(ids: Iterable[int] | None = None) -> int:
    """Queue dead (and, when named, failed) jobs again with a fresh set of attempts.

    Without `ids`: every dead job (the whole DLQ). Returns how many were queued.
    """
    jobs = IngestionJob.objects.all()
    if ids is None:
        jobs = jobs.filter(status=JobStatus.DEAD)
    else:
        jobs = jobs.filter(pk__in=list(ids), status__in=(JobStatus.DEAD, JobStatus.FAILED))
    retried = 0
    for job_id in list(jobs.values_list("pk", flat=True)):
        requeued = IngestionJob.objects.filter(
            pk=job_id, status__in=(JobStatus.DEAD, JobStatus.FAILED)
        ).update(
            status=JobStatus.QUEUED,
            attempts=0,
            next_attempt_at=None,
            waiting_for="",
            finished_at=None,
        )
        if requeued:
            retried += 1
            transaction.on_commit(lambda job_id=job_id: _send(job_id))
    log.info("dead jobs queued again", extra={"event": "dlq_retry", "count": retried})
    return retried


def cancel_jobs(ids: Iterable[int]) -> int:
    """Cancel unfinished jobs; a running sync stops at its next checkpoint."""
    cancelled = IngestionJob.objects.filter(
        pk__in=list(ids), status__in=(*CLAIMABLE, JobStatus.RUNNING)
    ).update(status=JobStatus.CANCELLED, finished_at=timezone.now(), waiting_for="")
    log.info("jobs cancelled", extra={"event": "cancelled", "count": cancelled})
    return cancelled


# --- The sweeper (a django-q2 Schedule every minute) ------------------------------------


@dataclass(frozen=True)
class SweepResult:
    stale: int
    lost: int
    due: int
    orphaned_runs: int
    webhook_jobs: int = 0


def sweep() -> SweepResult:
    """Everything that keeps jobs moving when a worker or a task went missing."""
    # Imported here: the webhooks module builds on this one.
    from ingestion.webhooks import enqueue_for_waiting_deliveries

    return SweepResult(
        stale=requeue_stale_jobs(),
        lost=requeue_lost_jobs(),
        due=enqueue_due_retries(),
        orphaned_runs=fail_orphaned_runs(),
        webhook_jobs=int(enqueue_for_waiting_deliveries() is not None),
    )


def requeue_stale_jobs(older_than: dt.timedelta | None = None) -> int:
    """A running job whose heartbeat stopped lost its worker (killed, crashed, timed out).

    Queue it again (the harness resumes from its checkpoint); the lost attempt
    counts, so a job that kills its worker every time ends in the DLQ.
    """
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.INGEST_STALE_JOB_SECONDS)
    cutoff = timezone.now() - older_than
    stale = IngestionJob.objects.filter(status=JobStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    requeued = 0
    for job in stale:
        message = "The worker running this job stopped (killed, crashed or timed out)."
        same = IngestionJob.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=job.heartbeat_at
        )
        if job.attempts >= job.max_attempts:
            error = f"Gave up after {job.attempts} attempts. Last error: {message}"
            if same.update(status=JobStatus.DEAD, finished_at=timezone.now(), last_error=error):
                _log(job, JobStatus.DEAD, logging.ERROR, error=error)
            continue
        if same.update(status=JobStatus.QUEUED, last_error=message, waiting_for=""):
            requeued += 1
            _log(job, "stale; queued again", logging.WARNING)
            _send(job.pk)
    return requeued


def requeue_lost_jobs(older_than: dt.timedelta | None = None) -> int:
    """Send again the queued jobs whose task is no longer waiting in the broker.

    The Redis broker forgets a task once a cluster pops it; if that cluster dies
    before a worker claims the job, only our table remembers. A duplicate sent
    for a task that was merely slow is harmless: the claim lets one run.
    """
    if is_paused():
        return 0
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.INGEST_LOST_TASK_SECONDS)
    cutoff = timezone.now() - older_than
    candidates = list(
        IngestionJob.objects.filter(status=JobStatus.QUEUED)
        .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", "task_id")
    )
    if not candidates:
        return 0
    waiting = set(tasks_waiting_in_broker())
    lost = [job_id for job_id, task_id in candidates if not task_id or task_id not in waiting]
    for job_id in lost:
        IngestionJob.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
        _send(job_id)
    return len(lost)


def enqueue_due_retries() -> int:
    """Send the retries whose one-off Schedule did not fire (deleted, or its cluster down)."""
    if is_paused():
        return 0
    cutoff = timezone.now() - dt.timedelta(seconds=RETRY_GRACE_SECONDS)
    due = list(
        IngestionJob.objects.filter(
            status=JobStatus.RETRYING, next_attempt_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for job_id in due:
        if IngestionJob.objects.filter(pk=job_id, status=JobStatus.RETRYING).update(
            status=JobStatus.QUEUED, waiting_for=""
        ):
            _send(job_id)
    return len(due)


def fail_orphaned_runs() -> int:
    """Fail the sync runs left "running" by a process that stopped (SIGKILL, crash, OOM).

    A live run holds its stream's lock from before its row is created until after its
    final status is committed, refreshing it at every page. So a "running" run is
    orphaned when its stream's lock no longer names the run's holder (released, or
    taken over by another run), when the lock expired (the harness lets any run take
    it over), or when the holder was a process on this host that no longer exists.
    Runs from before `SyncRun.holder` existed (empty holder) cannot be told from the
    lock's current holder: they count as orphaned also when their job is no longer
    running. Counts stay as last committed; the next run resumes from the checkpoint.
    Returns how many runs were failed.
    """
    runs = list(SyncRun.objects.filter(status=RunStatus.RUNNING).order_by("pk"))
    if not runs:
        return 0
    states = _locks_of(runs)
    jobs_running = set(
        IngestionJob.objects.filter(
            pk__in={run.job_id for run in runs if run.job_id}, status=JobStatus.RUNNING
        ).values_list("pk", flat=True)
    )
    now = timezone.now()
    failed = 0
    for run in runs:
        locked_by, expires_at = states.get((run.source, run.entity, run.scope), ("", None))
        if _run_is_alive(run, locked_by, expires_at, jobs_running, now):
            continue
        if _fail_orphaned_run(run):
            failed += 1
    return failed


def _locks_of(runs: list[SyncRun]) -> dict[tuple[str, str, str], tuple[str, dt.datetime | None]]:
    """(locked_by, lock_expires_at) of the runs' streams, in one query."""
    streams = Q()
    for source, entity, scope in {(run.source, run.entity, run.scope) for run in runs}:
        streams |= Q(source=source, entity=entity, scope=scope)
    return {
        (source, entity, scope): (locked_by, expires_at)
        for source, entity, scope, locked_by, expires_at in SyncState.objects.filter(
            streams
        ).values_list("source", "entity", "scope", "locked_by", "lock_expires_at")
    }


def _run_is_alive(
    run: SyncRun,
    locked_by: str,
    expires_at: dt.datetime | None,
    jobs_running: set[int],
    now: dt.datetime,
) -> bool:
    if not locked_by or expires_at is None or expires_at < now or holder_is_dead(locked_by):
        return False
    if run.holder:
        return locked_by == run.holder
    return run.job_id is None or run.job_id in jobs_running


def _fail_orphaned_run(run: SyncRun) -> bool:
    """Close one orphaned run as _Run.finish would have; False if it finished meanwhile."""
    now = timezone.now()
    run.status = RunStatus.FAILED
    run.error = ORPHANED_RUN_ERROR
    run.finished_at = now
    # Until the sweeper noticed: when exactly the process died is not recorded.
    run.duration_seconds = max((now - run.started_at).total_seconds(), 0.0)
    run.counts_mismatch = run.fetched != run.accounted
    with transaction.atomic():
        # Compare-and-set: a run that finished after it was read keeps its own outcome.
        closed = SyncRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=run.status,
            error=run.error,
            finished_at=run.finished_at,
            duration_seconds=run.duration_seconds,
            counts_mismatch=run.counts_mismatch,
        )
        if not closed:
            return False
        audit_run(run, "sweeper")
    log.warning(
        "run %s failed: %s",
        run.pk,
        run.error,
        extra={
            "event": "orphaned_run",
            "job_id": run.job_id,
            "source": run.source,
            "entity": run.entity,
            "scope": run.scope,
        },
    )
    return True


def tasks_waiting_in_broker(queues: Iterable[str] | None = None) -> list[str]:
    """Ids of the tasks still waiting (not taken by a cluster) on our queues, in order;
    a task sent twice is listed twice."""
    queues = list(queues) if queues is not None else [default_cluster(), CRITICAL_CLUSTER]
    if Conf.ORM:
        rows = OrmQ.objects.using(Conf.ORM).filter(key__in=queues, lock__lte=timezone.now())
        return [row.task_id() for row in rows.order_by("id")]
    ids: list[str] = []
    for queue in queues:
        broker = get_broker(queue)
        for payload in broker.connection.lrange(broker.list_key, 0, -1):
            try:
                ids.append(SignedPackage.loads(payload)["id"])
            except (BadSignature, KeyError, TypeError):
                continue
    return ids


def purge_broker_queues() -> None:
    """Drop every waiting task of our queues (tests; an operator starting over)."""
    for queue in (default_cluster(), CRITICAL_CLUSTER):
        get_broker(queue).purge_queue()


# --- Cleanup ----------------------------------------------------------------------------


def cleanup() -> dict[str, int]:
    """Delete finished jobs past INGEST_JOB_RETENTION_DAYS, raw records, webhook
    deliveries and import files past theirs."""
    from ingestion.imports.service import delete_expired_import_files
    from ingestion.webhooks import delete_expired_deliveries

    cutoff = timezone.now() - dt.timedelta(days=settings.INGEST_JOB_RETENTION_DAYS)
    deleted_jobs, _ = IngestionJob.objects.filter(
        status__in=FINISHED_JOB_STATUSES, finished_at__lt=cutoff
    ).delete()
    result = {
        "jobs": deleted_jobs,
        "raw_records": delete_expired_raw_records(),
        "webhook_deliveries": delete_expired_deliveries(),
        "import_files": delete_expired_import_files(),
    }
    log.info("cleanup done", extra={"event": "cleanup", **result})
    return result


# --- Logging ----------------------------------------------------------------------------


def _extra(job: IngestionJob, **fields: Any) -> dict[str, Any]:
    return {
        "job_id": job.pk,
        "source": job.source,
        "entity": job.entity,
        "scope": job.scope,
        "kind": job.kind,
        **fields,
    }


def _log(job: IngestionJob, event: str, level: int = logging.INFO, **fields: Any) -> None:
    log.log(
        level,
        "job %s %s %s: %s",
        job.pk,
        job.kind,
        job.target or "-",
        event,
        extra=_extra(job, event=event, **fields),
    )
