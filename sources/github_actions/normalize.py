"""GitHub Actions payloads → Build and BuildJob rows. Pure: no database, no HTTP.

Shared by the polling streams and the webhook handlers: a REST workflow run
(`GET /repos/{owner}/{repo}/actions/runs` item) is the same object as a
`workflow_run` delivery's `workflow_run`, and a REST job (`.../runs/{run_id}/jobs`
item) the same as a `workflow_job` delivery's `workflow_job`, so either path
writes the same row.

A run carries its repository; a job does not, so a job record needs the `_hub`
context (`sources.github.normalize.with_context` / `hub_context`) naming the
repository, as the GitHub source's commits and issues do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingestion.errors import RecordRejected
from ingestion.parsing import parse_time
from ingestion.streams import Ref, Row
from sources.github.normalize import HUB_KEY, repository_ref, user_ref
from tracking.choices import BuildConclusion, BuildStatus, Source
from tracking.models import Build, BuildJob, Repository

SOURCE = Source.GITHUB_ACTIONS
PROVIDER = "github_actions"

# GitHub's run and job statuses → ours. "requested", "waiting" (for an environment's
# approval or a concurrency group) and "pending" all mean "not started yet".
STATUSES = {
    "requested": BuildStatus.QUEUED,
    "waiting": BuildStatus.QUEUED,
    "pending": BuildStatus.QUEUED,
    "queued": BuildStatus.QUEUED,
    "in_progress": BuildStatus.IN_PROGRESS,
    "completed": BuildStatus.COMPLETED,
}
# GitHub's timestamps have whole seconds, so two deliveries of one run (in_progress, then
# completed) can carry the same `updated_at`. The version compared on upsert is the
# `updated_at` plus this many microseconds, so within one second a later status still
# wins and an earlier one never moves the row back; across seconds the time decides.
_STATUS_RANK = {BuildStatus.QUEUED: 0, BuildStatus.IN_PROGRESS: 1, BuildStatus.COMPLETED: 2}
_CONCLUSIONS = frozenset(BuildConclusion.values)


def _number(
    record: dict[str, Any], name: str, *, required: bool = True, where: str = ""
) -> int | None:
    value = record.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordRejected(f"{where}{name} must be an integer, not {value!r}")
    return value


def _text(record: dict[str, Any], name: str, *, where: str = "") -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordRejected(f"{where}{name} must be text, not {type(value).__name__}")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordRejected(f"{name} must be an object, not {type(value).__name__}")
    return value


def _status(record: dict[str, Any]) -> tuple[BuildStatus, str]:
    original = record.get("status")
    if original not in STATUSES:
        known = ", ".join(STATUSES)
        raise RecordRejected(f"status {original!r} is not one of GitHub's ({known})")
    return STATUSES[original], original


def _conclusion(record: dict[str, Any]) -> str:
    conclusion = record.get("conclusion")
    if conclusion is None:
        return ""
    if conclusion not in _CONCLUSIONS:
        known = ", ".join(sorted(_CONCLUSIONS))
        raise RecordRejected(f"conclusion {conclusion!r} is not one of GitHub's ({known})")
    return conclusion


def _attempt(record: dict[str, Any]) -> int:
    # Older GitHub Enterprise Server versions send no run_attempt: every run had one.
    attempt = _number(record, "run_attempt", required=False)
    if attempt is None:
        return 1
    if attempt < 1:
        raise RecordRejected(f"run_attempt must be 1 or more, not {attempt}")
    return attempt


def _utc_text(value: Any, name: str) -> str | None:
    """A step's time, checked, as "2024-05-01T12:00:00Z" (steps are kept as JSON)."""
    moment = parse_time(value, name, required=False)
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


# --- builds (workflow runs) -------------------------------------------------------------


def run_repository_id(run: dict[str, Any]) -> str:
    """The id of the repository the run belongs to: its own `repository`, else `_hub`'s."""
    repository = run.get("repository")
    if repository is not None:
        return str(_number(_object(repository, "repository"), "id", where="repository."))
    if HUB_KEY in run:
        return repository_ref(run).external_id
    raise RecordRejected("repository is missing (a workflow run names the repository it ran in)")


def build_key(run: dict[str, Any]) -> str:
    """(repository, run id, attempt): each re-run attempt of a run is its own build."""
    run = _object(run, "workflow run")
    return f"{run_repository_id(run)}:{_number(run, 'id')}:{_attempt(run)}"


def build_time(run: dict[str, Any]) -> dt.datetime:
    """When the run was created: what the runs list's `created` filter selects on."""
    return parse_time(_object(run, "workflow run").get("created_at"), "created_at")


def _workflow_name(run: dict[str, Any]) -> str:
    # A run's `name` is its workflow's name; GitHub's own example delivery leaves it
    # empty, and a webhook handler may then pass the delivery's `workflow.name` in `_hub`.
    context = run.get(HUB_KEY)
    from_context = context.get("workflow_name") if isinstance(context, dict) else None
    name = _text(run, "name") or str(from_context or "") or _text(run, "path")
    return name[:300]


def build_rows(run: dict[str, Any]) -> list[Row]:
    run = _object(run, "workflow run")
    status, original_status = _status(run)
    updated_at = parse_time(run.get("updated_at"), "updated_at")
    started_at = parse_time(run.get("run_started_at"), "run_started_at", required=False)
    return [
        Row(
            Build,
            {
                "external_id": build_key(run),
                "repository": Ref(Repository, Source.GITHUB, run_repository_id(run)),
                "provider": PROVIDER,
                "workflow_id": _number(run, "workflow_id", required=False),
                "workflow_name": _workflow_name(run),
                "run_id": _number(run, "id"),
                "run_attempt": _attempt(run),
                "run_number": _number(run, "run_number", required=False),
                "head_sha": _text(run, "head_sha"),
                "branch": _text(run, "head_branch"),
                "event": _text(run, "event"),
                "status": status,
                "original_status": original_status,
                "conclusion": _conclusion(run),
                "actor": user_ref(run.get("actor")),
                "url": _text(run, "html_url"),
                "created_at": build_time(run),
                "started_at": started_at,
                "updated_at": updated_at + dt.timedelta(microseconds=_STATUS_RANK[status]),
                # A run says when it finished only by its last update.
                "finished_at": updated_at if status == BuildStatus.COMPLETED else None,
            },
        )
    ]


# --- build jobs (workflow jobs) -----------------------------------------------------------


def build_job_key(job: dict[str, Any]) -> str:
    return str(_number(_object(job, "workflow job"), "id"))


def job_build_key(job: dict[str, Any]) -> str:
    """The key of the build (run attempt) the job belongs to; the repository from `_hub`."""
    repository_id = repository_ref(job).external_id
    return f"{repository_id}:{_number(job, 'run_id')}:{_attempt(job)}"


def _labels(job: dict[str, Any]) -> list[str]:
    labels = job.get("labels")
    if labels is None:
        return []
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise RecordRejected(f"labels must be a list of names, not {labels!r}")
    return labels


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job.get("steps")
    if steps is None:
        return []
    if not isinstance(steps, list):
        raise RecordRejected(f"steps must be a list, not {type(steps).__name__}")
    normalized = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]."
        step = _object(step, where.rstrip("."))
        normalized.append(
            {
                "name": _text(step, "name", where=where),
                "number": _number(step, "number", required=False, where=where),
                "status": _text(step, "status", where=where),
                "conclusion": _text(step, "conclusion", where=where) or None,
                "started_at": _utc_text(step.get("started_at"), f"{where}started_at"),
                "completed_at": _utc_text(step.get("completed_at"), f"{where}completed_at"),
            }
        )
    return normalized


def build_job_rows(job: dict[str, Any]) -> list[Row]:
    job = _object(job, "workflow job")
    status, original_status = _status(job)
    # Older deliveries (GitHub's own `queued` example among them) have no created_at.
    created_at = parse_time(job.get("created_at"), "created_at", required=False)
    started_at = parse_time(job.get("started_at"), "started_at", required=False)
    finished_at = parse_time(job.get("completed_at"), "completed_at", required=False)
    return [
        Row(
            BuildJob,
            {
                "external_id": build_job_key(job),
                "build": Ref(Build, SOURCE, job_build_key(job)),
                "job_id": _number(job, "id"),
                "name": _text(job, "name")[:300],
                "status": status,
                "original_status": original_status,
                "conclusion": _conclusion(job),
                "runner_name": _text(job, "runner_name")[:300],
                "labels": _labels(job),
                "steps": _steps(job),
                "url": _text(job, "html_url"),
                "created_at": created_at,
                "started_at": started_at,
                "finished_at": finished_at,
                "version_at": _job_version(status, created_at, started_at, finished_at),
            },
        )
    ]


def _job_version(status: str, *times: dt.datetime | None) -> dt.datetime | None:
    """A job's latest time plus its status rank in microseconds (as for builds): a late
    `in_progress` delivery after `completed` is older and changes nothing."""
    latest = max((moment for moment in times if moment is not None), default=None)
    if latest is None:
        return None
    return latest + dt.timedelta(microseconds=_STATUS_RANK[status])


def build_job_time(job: dict[str, Any]) -> dt.datetime | None:
    """When the stream last saw the job's build change (`_hub.build_seen_at`): the
    build_jobs stream's checkpoint. None for a job that came without it (a webhook)."""
    context = _object(job, "workflow job").get(HUB_KEY)
    if not isinstance(context, dict) or not context.get("build_seen_at"):
        return None
    return parse_time(context["build_seen_at"], "_hub.build_seen_at")
