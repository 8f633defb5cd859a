"""The fake GitHub's Actions endpoints: workflow runs, run attempts and jobs.

Lists answer in GitHub's envelope (`{"total_count": N, "workflow_runs": [...]}`,
`{"total_count": N, "jobs": [...]}`) with Link paging, behind the same token
check, rate limits and ETags as every other route (`GitHubApp.api`).

GitHub's quirk kept here: with any of the filters `actor`, `branch`,
`check_suite_id`, `created`, `event`, `head_sha`, `status`, the runs list is a
search that returns at most 1,000 runs (`total_count` still counts them all;
`FakeGitHub(runs_search_limit=...)` lowers the 1,000 for a test).
https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tests.fakes.app import Request, Response
from tests.fakes.github.actions import Run
from tests.fakes.github.fake import not_found
from tests.fakes.github.routes import choice, page_positions, validation_failed

if TYPE_CHECKING:
    from tests.fakes.github.fake import FakeGitHub
    from tests.fakes.github.routes import GitHubApp

SEARCH_FILTERS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
RUN_STATUSES = ("completed", "action_required", "cancelled", "failure", "neutral", "skipped")
RUN_STATUSES += ("stale", "success", "timed_out", "in_progress", "queued", "requested")
RUN_STATUSES += ("waiting", "pending")


def envelope_page(request: Request, key: str, items: Sequence[Any], total: int) -> Response:
    """One page of `items` in GitHub's envelope, with its Link header."""
    positions, headers = page_positions(request, len(items))
    payload = {"total_count": total, key: [items[position] for position in positions]}
    return Response.json(payload, headers=headers)


def _bound(text: str, name: str, *, upper: bool) -> float:
    """A date (the whole day) or date-time of GitHub's search syntax, as epoch seconds."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise validation_failed(name, text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if upper and "T" not in text:
        moment += dt.timedelta(days=1, microseconds=-1)  # a date covers its whole day
    return moment.timestamp()


def created_range(value: str) -> tuple[float, float]:
    """`created` in GitHub's search syntax (">=X", ">X", "<=X", "<X", "X..Y", "X..*",
    "*..Y", or "X") → the inclusive range of epoch seconds it selects."""
    low, high = float("-inf"), float("inf")
    if ".." in value:
        start, _, end = value.partition("..")
        if start != "*":
            low = _bound(start, "created", upper=False)
        if end != "*":
            high = _bound(end, "created", upper=True)
    elif value.startswith(">="):
        low = _bound(value[2:], "created", upper=False)
    elif value.startswith(">"):
        low = _bound(value[1:], "created", upper=True) + 1e-6
    elif value.startswith("<="):
        high = _bound(value[2:], "created", upper=True)
    elif value.startswith("<"):
        high = _bound(value[1:], "created", upper=False) - 1e-6
    else:
        low = _bound(value, "created", upper=False)
        high = _bound(value, "created", upper=True)
    return low, high


def _run_matches(request: Request, run: Run, created: tuple[float, float] | None) -> bool:
    current = run.current
    if created is not None and not created[0] <= run.created <= created[1]:
        return False
    status = request.param("status")
    if status and status not in (current["status"], current["conclusion"]):
        return False
    for name, field in (("branch", "head_branch"), ("event", "event"), ("head_sha", "head_sha")):
        wanted = request.param(name)
        if wanted and current[field] != wanted:
            return False
    actor = request.param("actor")
    return not actor or current["actor"]["login"] == actor


def register_actions(app: GitHubApp, fake: FakeGitHub) -> None:
    def actions_of(request: Request):
        params = request.path_params
        return fake.actions(fake.repository(params["owner"], params["repo"]))

    def run_of(request: Request) -> Run:
        run_id = request.path_params["run_id"]
        run = actions_of(request).by_id.get(int(run_id)) if run_id.isdigit() else None
        if run is None:
            raise not_found("actions/workflow-runs#get-a-workflow-run")
        return run

    def attempt_index(request: Request, run: Run) -> int:
        number = request.path_params["attempt_number"]
        if not number.isdigit() or not 1 <= int(number) <= len(run.attempts):
            raise not_found("actions/workflow-runs#get-a-workflow-run-attempt")
        return int(number) - 1

    # GET /repos/{owner}/{repo}/actions/runs: newest first; a search (≤ 1,000) when filtered.
    def list_runs(request: Request) -> Response:
        status = request.param("status")
        if status and status not in RUN_STATUSES:
            raise validation_failed("status", status)
        created = request.param("created")
        window = created_range(created) if created else None
        with fake.lock:
            runs = [run for run in actions_of(request).runs if _run_matches(request, run, window)]
            runs.sort(key=lambda run: (run.created, run.id), reverse=True)
            searched = any(request.param(name) for name in SEARCH_FILTERS)
            reachable = runs[: fake.runs_search_limit] if searched else runs
            items = [run.current for run in reachable]
            return envelope_page(request, "workflow_runs", items, len(runs))

    # GET /repos/{owner}/{repo}/actions/runs/{run_id}
    def get_run(request: Request) -> Response:
        with fake.lock:
            return Response.json(run_of(request).current)

    # GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}
    def get_run_attempt(request: Request) -> Response:
        with fake.lock:
            run = run_of(request)
            return Response.json(run.attempts[attempt_index(request, run)])

    # GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs: filter=latest (default) or all.
    def list_jobs(request: Request) -> Response:
        which = choice(request, "filter", ("latest", "all"), "latest")
        with fake.lock:
            run = run_of(request)
            if which == "latest":
                jobs = list(run.jobs[-1])
            else:
                jobs = [job for attempt in run.jobs for job in attempt]
            return envelope_page(request, "jobs", jobs, len(jobs))

    # GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs
    def list_attempt_jobs(request: Request) -> Response:
        with fake.lock:
            run = run_of(request)
            jobs = run.jobs[attempt_index(request, run)]
            return envelope_page(request, "jobs", jobs, len(jobs))

    runs = "/repos/{owner}/{repo}/actions/runs"
    app.api(runs, list_runs)
    app.api(runs + "/{run_id}", get_run)
    app.api(runs + "/{run_id}/attempts/{attempt_number}", get_run_attempt)
    app.api(runs + "/{run_id}/jobs", list_jobs)
    app.api(runs + "/{run_id}/attempts/{attempt_number}/jobs", list_attempt_jobs)
