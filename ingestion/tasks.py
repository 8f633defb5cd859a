"""django-q2 entry points: thin, taking primary keys, calling a service.

Task functions catch nothing and decide nothing: `ingestion.jobs` records every
outcome on the job itself, so a task only fails (and django-q2 only records a
Failure) when something is wrong with the pipeline, not with an upstream.
"""

from __future__ import annotations

from ingestion import jobs


def run_job_task(job_id: int) -> str | None:
    """Run one IngestionJob; returns its final status for django-q2's task list."""
    job = jobs.run_job(job_id)
    return job.status if job else None


def sweep_task() -> str:
    """Every minute: re-queue jobs whose worker died, whose task was lost, whose retry is due;
    fail the sync runs a dead process left "running"."""
    result = jobs.sweep()
    return (
        f"stale {result.stale}, lost {result.lost}, due {result.due}, "
        f"orphaned runs {result.orphaned_runs}, webhook jobs {result.webhook_jobs}"
    )


def fan_out_syncs_task(full: bool = False) -> int:
    """The daily schedule: one low-priority source sync per source, which syncs its
    unscoped streams and then queues one job per scoped stream and scope."""
    return len(jobs.fan_out_source_syncs(full=full))


def reconcile_task() -> int:
    """The weekly schedule: one reconciliation job per reconcilable stream and scope."""
    return len(jobs.enqueue_reconciles())


def cleanup_task() -> dict[str, int]:
    return jobs.cleanup()
