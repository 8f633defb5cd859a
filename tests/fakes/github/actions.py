"""The fake GitHub's Actions data: workflow runs (every attempt) and their jobs, in the
shapes of GitHub's REST API (`GET /repos/{owner}/{repo}/actions/runs` items and
`GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs` items).

A repository's runs are generated on first read, deterministic for the seed, all
completed before `GENERATED_UNTIL`; every fifth failed once and was re-run, so it
has two attempts. The `Actions` methods change runs and jobs the way GitHub does
(queued → in_progress → completed, a re-run is a new attempt with new jobs); the
fake's mutators call them with its clock.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.github.data import (
    API,
    BOT,
    HOUR,
    REPOSITORY_ID_BASE,
    WEB,
    User,
    fake_sha,
    iso,
    node_id,
)

# Ids above 2**32, as GitHub's run and job ids are by now.
RUN_ID_BASE = 9_000_000_000
JOB_ID_BASE = 25_000_000_000
CHECK_SUITE_ID_BASE = 15_000_000_000
WORKFLOW_ID_BASE = 60_000_000
WORKFLOWS = (("CI", ".github/workflows/ci.yml"), ("Nightly", ".github/workflows/nightly.yml"))
JOB_NAMES = ("build", "test", "lint")
STEP_NAMES = ("Set up job", "Run actions/checkout@v4", "Run the job's script", "Complete job")
RUNNER_GROUP = (2, "GitHub Actions")
CONCLUSIONS = (
    "success", "failure", "cancelled", "skipped", "timed_out", "neutral", "action_required",
    "stale", "startup_failure",
)  # fmt: skip


@dataclass
class Run:
    """One workflow run: the run object of each attempt (oldest first; the last is the run
    as GitHub shows it now) and each attempt's jobs."""

    attempts: list[dict[str, Any]]
    jobs: list[list[dict[str, Any]]]
    created: int  # epoch seconds of created_at, what the `created` filter selects on

    @property
    def current(self) -> dict[str, Any]:
        return self.attempts[-1]

    @property
    def id(self) -> int:
        return self.current["id"]


@dataclass
class Actions:
    """A repository's runs, in creation order, and the ways GitHub changes them."""

    repository: dict[str, Any]
    runs: list[Run] = field(default_factory=list)
    by_id: dict[int, Run] = field(default_factory=dict)
    # job id → (run, attempt index)
    job_index: dict[int, tuple[Run, int]] = field(default_factory=dict)
    next_job: int = 1

    @property
    def repository_index(self) -> int:
        return self.repository["id"] - REPOSITORY_ID_BASE

    def run(self, run_id: int) -> Run:
        found = self.by_id.get(run_id)
        if found is None:
            raise KeyError(f"no workflow run {run_id} in {self.repository['full_name']}")
        return found

    def job(self, job_id: int) -> dict[str, Any]:
        run, attempt = self._job_place(job_id)
        return next(job for job in run.jobs[attempt] if job["id"] == job_id)

    # --- changes ----------------------------------------------------------------------
    def add_run(
        self,
        now: int,
        *,
        workflow: int = 0,
        event: str = "push",
        branch: str = "main",
        actor: User,
        jobs: tuple[str, ...] = ("build", "test"),
    ) -> Run:
        """A new run, queued now, with its jobs queued."""
        number = len(self.runs) + 1
        run_id = RUN_ID_BASE + self.repository_index * 100_000 + number
        head_sha = fake_sha("actions", self.repository["full_name"], number, now)
        attempt = run_json(
            self.repository,
            run_id=run_id,
            number=number,
            attempt=1,
            workflow=workflow,
            event=event,
            branch=branch,
            head_sha=head_sha,
            actor=actor,
            created=now,
        )
        run = Run(attempts=[attempt], jobs=[[]], created=now)
        self.runs.append(run)
        self.by_id[run_id] = run
        for name in jobs:
            self.add_job(run, name, now)
        return run

    def add_job(self, run: Run, name: str, now: int) -> dict[str, Any]:
        """A queued job in the run's current attempt."""
        job_id = JOB_ID_BASE + self.repository_index * 1_000_000 + self.next_job
        self.next_job += 1
        job = job_json(self.repository, run.current, job_id=job_id, name=name, created=now)
        run.jobs[-1].append(job)
        self.job_index[job_id] = (run, len(run.attempts) - 1)
        return job

    def update_run(
        self, run: Run, now: int, *, status: str, conclusion: str | None = None
    ) -> dict[str, Any]:
        """Move the current attempt on. Completing it completes its unfinished jobs too
        (GitHub completes a run when its last job completes)."""
        current = run.current
        conclusion = checked_state("run", status, conclusion)
        if status == "completed":
            for job in run.jobs[-1]:
                if job["status"] != "completed":
                    set_job_state(job, now, status="completed", conclusion=conclusion)
        if status == "in_progress" and current["status"] in ("queued", "waiting"):
            current["run_started_at"] = iso(now)
        current.update(status=status, conclusion=conclusion, updated_at=iso(now))
        return current

    def rerun(self, run: Run, now: int) -> dict[str, Any]:
        """A new attempt of a completed run, queued now, with new jobs of the same names."""
        previous = run.current
        if previous["status"] != "completed":
            raise ValueError(
                f"run {run.id} is still {previous['status']}: only a finished run re-runs"
            )
        attempt = dict(previous)
        number = previous["run_attempt"] + 1
        attempt.update(
            run_attempt=number,
            status="queued",
            conclusion=None,
            run_started_at=iso(now),
            updated_at=iso(now),
            previous_attempt_url=f"{previous['url']}/attempts/{number - 1}",
        )
        run.attempts.append(attempt)
        run.jobs.append([])
        for job in run.jobs[-2]:
            self.add_job(run, job["name"], now)
        return attempt

    def delete_run(self, run_id: int) -> None:
        """The run with its attempts and jobs gone, as after DELETE .../actions/runs/{run_id}."""
        run = self.run(run_id)
        self.runs.remove(run)
        del self.by_id[run_id]
        for attempt in run.jobs:
            for job in attempt:
                self.job_index.pop(job["id"], None)

    def update_job(
        self, job_id: int, now: int, *, status: str, conclusion: str | None = None
    ) -> dict[str, Any]:
        job = self.job(job_id)
        set_job_state(job, now, status=status, conclusion=conclusion)
        return job

    def _job_place(self, job_id: int) -> tuple[Run, int]:
        found = self.job_index.get(job_id)
        if found is None:
            raise KeyError(f"no job {job_id} in {self.repository['full_name']}")
        return found


# --- GitHub's shapes ---------------------------------------------------------------------


def compact_repository(repository: dict[str, Any]) -> dict[str, Any]:
    """The "minimal repository" GitHub nests in a run (`repository`, `head_repository`)."""
    keys = ("id", "node_id", "name", "full_name", "private", "owner", "html_url", "description")
    return {**{key: repository[key] for key in keys}, "fork": False, "url": repository["url"]}


def run_json(
    repository: dict[str, Any],
    *,
    run_id: int,
    number: int,
    attempt: int,
    workflow: int,
    event: str,
    branch: str,
    head_sha: str,
    actor: User,
    created: int,
) -> dict[str, Any]:
    """A queued run: an item of GET /repos/{owner}/{repo}/actions/runs."""
    full_name = repository["full_name"]
    name, path = WORKFLOWS[workflow % len(WORKFLOWS)]
    workflow_id = WORKFLOW_ID_BASE + (repository["id"] - REPOSITORY_ID_BASE) * 10 + workflow
    check_suite_id = CHECK_SUITE_ID_BASE + run_id - RUN_ID_BASE
    url = f"{API}/repos/{full_name}/actions/runs/{run_id}"
    title = f"{name} on {branch} (#{number})"
    person = {"name": actor.name, "email": actor.email}
    compact = compact_repository(repository)
    return {
        "id": run_id,
        "name": name,
        "node_id": node_id("WorkflowRun", run_id),
        "head_branch": branch,
        "head_sha": head_sha,
        "path": path,
        "display_title": title,
        "run_number": number,
        "event": event,
        "status": "queued",
        "conclusion": None,
        "workflow_id": workflow_id,
        "check_suite_id": check_suite_id,
        "check_suite_node_id": node_id("CheckSuite", check_suite_id),
        "url": url,
        "html_url": f"{WEB}/{full_name}/actions/runs/{run_id}",
        "pull_requests": [],
        "created_at": iso(created),
        "updated_at": iso(created),
        "actor": actor.simple,
        "run_attempt": attempt,
        "referenced_workflows": [],
        "run_started_at": iso(created),
        "triggering_actor": actor.simple,
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{API}/repos/{full_name}/check-suites/{check_suite_id}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{API}/repos/{full_name}/actions/workflows/{workflow_id}",
        "head_commit": {
            "id": head_sha,
            "tree_id": fake_sha("tree", head_sha),
            "message": title,
            "timestamp": iso(created),
            "author": person,
            "committer": person,
        },
        "repository": compact,
        "head_repository": compact,
    }


def job_json(
    repository: dict[str, Any], run: dict[str, Any], *, job_id: int, name: str, created: int
) -> dict[str, Any]:
    """A queued job: an item of GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs."""
    full_name = repository["full_name"]
    return {
        "id": job_id,
        "run_id": run["id"],
        "workflow_name": run["name"],
        "head_branch": run["head_branch"],
        "run_url": run["url"],
        "run_attempt": run["run_attempt"],
        "node_id": node_id("CheckRun", job_id),
        "head_sha": run["head_sha"],
        "url": f"{API}/repos/{full_name}/actions/jobs/{job_id}",
        "html_url": f"{WEB}/{full_name}/actions/runs/{run['id']}/job/{job_id}",
        "status": "queued",
        "conclusion": None,
        "created_at": iso(created),
        # GitHub sets started_at when the job is queued, and again when a runner takes it.
        "started_at": iso(created),
        "completed_at": None,
        "name": name,
        "steps": [],
        "check_run_url": f"{API}/repos/{full_name}/check-runs/{job_id}",
        "labels": ["ubuntu-latest"],
        "runner_id": None,
        "runner_name": None,
        "runner_group_id": None,
        "runner_group_name": None,
    }


def checked_state(kind: str, status: str, conclusion: str | None) -> str | None:
    """The conclusion a run or job moving to `status` ends with: "success" unless told,
    for a completed one; none for the others. A status or conclusion GitHub does not have
    is a mistake in the test."""
    if status not in ("queued", "waiting", "in_progress", "completed"):
        raise ValueError(f"unknown {kind} status {status!r}")
    if status != "completed":
        if conclusion is not None:
            raise ValueError(f"only a completed {kind} has a conclusion")
        return None
    conclusion = conclusion or "success"
    if conclusion not in CONCLUSIONS:
        raise ValueError(f"unknown conclusion {conclusion!r}")
    return conclusion


def set_job_state(
    job: dict[str, Any], now: int, *, status: str, conclusion: str | None = None
) -> None:
    """Move a job on at `now`: a runner takes it (in_progress), then it completes; its
    steps follow (the first running, then all finished, a failure skipping the rest)."""
    conclusion = checked_state("job", status, conclusion)
    if status in ("in_progress", "completed") and job["runner_name"] is None:
        runner = 1 + job["id"] % 20
        job.update(
            started_at=iso(now),
            runner_id=runner,
            runner_name=f"GitHub Actions {runner}",
            runner_group_id=RUNNER_GROUP[0],
            runner_group_name=RUNNER_GROUP[1],
        )
    started = _epoch(job["started_at"])
    job.update(status=status, conclusion=conclusion)
    job["completed_at"] = iso(now) if status == "completed" else None
    job["steps"] = steps_json(status, conclusion, started, now)


def steps_json(status: str, conclusion: str | None, started: int, now: int) -> list[dict[str, Any]]:
    if status in ("queued", "waiting"):
        return []
    steps = []
    span = max(now - started, len(STEP_NAMES))
    failed = False
    for number, name in enumerate(STEP_NAMES, start=1):
        begin = started + span * (number - 1) // len(STEP_NAMES)
        end = started + span * number // len(STEP_NAMES)
        if status == "in_progress":
            state = "in_progress" if number == 1 else "queued"
            steps.append(_step(name, number, state, None, begin if number == 1 else None, None))
            continue
        if failed:
            steps.append(_step(name, number, "completed", "skipped", end, end))
            continue
        outcome = conclusion if number == len(STEP_NAMES) - 1 else "success"
        failed = outcome != "success"
        steps.append(_step(name, number, "completed", outcome, begin, end))
    return steps


def _step(
    name: str, number: int, status: str, conclusion: str | None, start: int | None, end: int | None
) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "conclusion": conclusion,
        "number": number,
        # The jobs API writes step times with milliseconds.
        "started_at": None if start is None else iso(start).replace("Z", ".000Z"),
        "completed_at": None if end is None else iso(end).replace("Z", ".000Z"),
    }


def _epoch(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp())


# --- generated history -------------------------------------------------------------------


def generate_actions(
    repository: dict[str, Any],
    *,
    runs: int,
    seed: int,
    pool: list[User],
    window: tuple[int, int],
) -> Actions:
    """`runs` completed runs spread over the repository's history; every fifth failed and
    was re-run (two attempts, the second succeeded)."""
    actions = Actions(repository)
    generator = random.Random(f"{seed}:{repository['full_name']}:actions")
    people = [user for user in pool if user is not BOT]
    start, end = window[0] + HOUR, window[1] - 2 * HOUR
    step = (end - start) / max(runs, 1)
    for index in range(runs):
        created = int(start + step * index + generator.random() * step / 2)
        nightly = generator.random() < 0.2
        if nightly:
            event, branch = "schedule", "main"
        elif generator.random() < 0.4:
            event, branch = "pull_request", f"feature/{index + 1}"
        else:
            event, branch = "push", "main"
        names = JOB_NAMES[: 2 + generator.randrange(2)]
        actor = generator.choice(people)
        run = actions.add_run(
            created, workflow=int(nightly), event=event, branch=branch, actor=actor, jobs=names
        )
        rerun = index % 5 == 3
        first = "failure" if rerun else _conclusion(generator)
        finished = _play(actions, run, created + generator.randrange(3, 90), first, generator)
        if rerun:
            again = finished + generator.randrange(60, HOUR)
            actions.rerun(run, again)
            _play(actions, run, again + generator.randrange(3, 90), "success", generator)
    return actions


def _conclusion(generator: random.Random) -> str:
    roll = generator.random()
    return "success" if roll < 0.8 else "failure" if roll < 0.95 else "cancelled"


def _play(actions: Actions, run: Run, start: int, conclusion: str, generator: random.Random) -> int:
    """Run the current attempt from `start` to completion; returns when it finished."""
    actions.update_run(run, start, status="in_progress")
    finished = start
    jobs = run.jobs[-1]
    for position, job in enumerate(jobs):
        begin = start + generator.randrange(1, 20)
        done = begin + generator.randrange(30, 600)
        # The failing attempt fails in its last job; the others succeed.
        outcome = conclusion if position == len(jobs) - 1 else "success"
        set_job_state(job, begin, status="in_progress")
        set_job_state(job, done, status="completed", conclusion=outcome)
        finished = max(finished, done)
    finished += generator.randrange(1, 5)
    actions.update_run(run, finished, status="completed", conclusion=conclusion)
    return finished
