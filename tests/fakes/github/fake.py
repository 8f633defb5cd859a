"""`FakeGitHub`: the data a test can read and change, its tokens, budgets, and its FakeApp."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tests.fakes.app import FakeApp, HTTPError
from tests.fakes.github.actions import WORKFLOWS, Actions, generate_actions
from tests.fakes.github.data import (
    GENERATED_UNTIL,
    CommitGraph,
    Repository,
    Thread,
    Tracker,
    User,
    fake_sha,
    generate_commits,
    generate_tracker,
    generated_window,
    iso,
    label_json,
    make_commit,
    new_tracker,
    organization,
    owner_object,
    render,
    repository_json,
    user_pool,
)
from tests.fakes.github.limits import Budget, RateLimits

NOT_FOUND_DOCS = "https://docs.github.com/rest"
# Marks "no author_login given" apart from None (an author GitHub does not know).
_POOL_USER: Any = object()


class FakeGitHub:
    """A fake GitHub (REST API and OAuth endpoints) for tests and benchmarks.

    Data is deterministic for a seed; a repository's commits and issues are
    generated when first read. Mutators move `now` one minute on, so every new
    or changed record is later than everything before it.
    """

    def __init__(
        self,
        *,
        repositories: int = 3,
        commits: int = 30,
        issues: int = 10,
        pulls: int = 5,
        runs: int = 12,
        runs_search_limit: int = 1000,
        branches: Iterable[str] = ("main",),
        seed: int = 1,
        tokens: Iterable[str] = ("ghp_test",),
        login: str = "octocat",
        orgs: Iterable[str] = ("acme",),
        rate_limit: int | None = 5000,
        oauth_client_id: str = "hub-client-id",
        oauth_client_secret: str = "hub-client-secret",  # noqa: S107 (a fake app's secret)
        latency: float = 0.0,
    ) -> None:
        self.commits_per_repository = commits
        self.issues_per_repository = issues
        self.pulls_per_repository = pulls
        self.runs_per_repository = runs
        # GitHub lists at most 1,000 runs for a filtered runs list; a test may lower it.
        self.runs_search_limit = runs_search_limit
        self.branches = ("main", *(name for name in branches if name != "main"))
        self.seed = seed
        self.login = login
        self.tokens: set[str] = set(tokens)
        # Apart from the data lock: a token check must not wait while a big page serializes.
        self._tokens_lock = threading.Lock()
        self.oauth_client_id = oauth_client_id
        self.oauth_client_secret = oauth_client_secret
        # Seconds each API request takes, to widen the window in which overlap is seen.
        self.latency = latency
        self.now = dt.datetime.fromtimestamp(GENERATED_UNTIL, dt.UTC)
        self.pool = user_pool(login)
        self.users: dict[str, User] = {user.login: user for user in self.pool}
        self.orgs: dict[str, dict[str, Any]] = {}
        for org in orgs:
            self._add_org(org)
        self.repositories: dict[str, Repository] = {}
        self._lock = threading.RLock()
        first_org = next(iter(self.orgs.values()))
        for index in range(repositories):
            # Enough repositories to show GitHub's variety: one private, a fork, an archive.
            variety = VARIETY.get(index, {}) if repositories >= 5 else {}
            self._add_generated_repository(index, first_org, variety)
        self.limits = RateLimits(rate_limit, user_id=self.users[login].id)
        # token → granted scopes ("repo,read:org") of every token the OAuth flow issued.
        self.issued_tokens: dict[str, str] = {}
        self.last_authorize: dict[str, str | None] | None = None
        self.app = _build_app(self)

    # --- counters and limits (see limits.py) -------------------------------------------
    @property
    def counted_requests(self) -> Counter[str]:
        return self.limits.counted_requests

    @property
    def not_modified(self) -> Counter[str]:
        return self.limits.not_modified

    @property
    def max_in_flight(self) -> Counter[str]:
        return self.limits.max_in_flight

    @property
    def rate_headers_override(self) -> dict[str, str]:
        return self.limits.headers_override

    @rate_headers_override.setter
    def rate_headers_override(self, headers: dict[str, str]) -> None:
        self.limits.headers_override = dict(headers)

    def set_rate_limit(
        self,
        token: str,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset_at: int | float | None = None,
    ) -> Budget:
        """Set a token's primary budget (reset_at: epoch seconds, wall clock)."""
        reset = None if reset_at is None else int(reset_at)
        return self.limits.set_budget(token, limit=limit, remaining=remaining, reset_at=reset)

    def secondary_limit(
        self, count: int = 1, retry_after: int | None = 1, status: int = 403
    ) -> None:
        """The next `count` API requests hit a secondary rate limit (403 or 429)."""
        self.limits.set_secondary(count, retry_after, status)

    # --- tokens --------------------------------------------------------------------------
    def accepts(self, token: str) -> bool:
        with self._tokens_lock:
            return token in self.tokens

    def issue_token(self, token: str) -> str:
        with self._tokens_lock:
            self.tokens.add(token)
        return token

    def revoke_token(self, token: str) -> str:
        """From now on the token gets 401 Bad credentials."""
        with self._tokens_lock:
            self.tokens.discard(token)
        return token

    def scopes_of(self, token: str) -> str:
        """The X-OAuth-Scopes value GitHub sends back for a token."""
        scopes = self.issued_tokens.get(token, "repo,read:org")
        return ", ".join(scope for scope in scopes.split(",") if scope)

    # --- reading (handlers hold `lock` while they read and serialize) -------------------
    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def repository(self, owner: str, repo: str) -> Repository:
        """The repository, or GitHub's 404 (names are case-insensitive, as on GitHub)."""
        repository = self.repositories.get(f"{owner}/{repo}".lower())
        if repository is None:
            raise not_found("repos/repos#get-a-repository")
        return repository

    def commit_graph(self, repository: Repository) -> CommitGraph:
        if repository.commits is None:
            repository.commits = generate_commits(
                repository.json,
                count=self.commits_per_repository,
                branches=self.branches,
                seed=self.seed,
                pool=self.pool,
                window=repository.window,
            )
        return repository.commits

    def tracker(self, repository: Repository) -> Tracker:
        if repository.tracker is None:
            repository.tracker = generate_tracker(
                repository.json,
                issues=self.issues_per_repository,
                pulls=self.pulls_per_repository,
                seed=self.seed,
                pool=self.pool,
                window=repository.window,
            )
        return repository.tracker

    def actions(self, repository: Repository) -> Actions:
        """The repository's workflow runs and jobs (see actions.py)."""
        if repository.actions is None:
            repository.actions = generate_actions(
                repository.json,
                runs=self.runs_per_repository,
                seed=self.seed,
                pool=self.pool,
                window=repository.window,
            )
        return repository.actions

    # --- mutators ----------------------------------------------------------------------
    def add_repository(self, name: str, org: str = "acme", **fields: Any) -> str:
        """A new repository (created now, one initial commit on main); returns its full name.

        `org` may be the user's own login (a personal repository) or a new organization.
        `fields` override the repository's JSON (`private=True` also sets visibility).
        """
        with self._lock:
            when = self._tick()
            if org == self.login:
                owner = self.users[self.login].simple
            else:
                owner = owner_object(self.orgs.get(org) or self._add_org(org))
            index = len(self.repositories)
            json = repository_json(index, owner, name, created=when, pushed=when)
            if "private" in fields and "visibility" not in fields:
                fields["visibility"] = "private" if fields["private"] else "public"
            json.update(fields)
            key = json["full_name"].lower()
            if key in self.repositories:
                raise ValueError(f"repository {json['full_name']} exists")
            stamp = int(self.now.timestamp())
            repository = Repository(json=json, window=(stamp, stamp))
            repository.commits = CommitGraph(branches={"main": []}, where={})
            repository.tracker = new_tracker(json)
            repository.actions = Actions(json)
            self.repositories[key] = repository
            self._append_commit(repository, "main", "Initial commit", self.users[self.login], None)
            return json["full_name"]

    def add_commit(
        self,
        full_name: str,
        branch: str = "main",
        message: str = "A new change",
        author_login: str | None = _POOL_USER,
        author_email: str | None = None,
    ) -> str:
        """A commit on top of `branch`, dated now; returns its SHA.

        author_login None: an author GitHub does not know (`author` null, only the git email).
        A login outside the pool joins it.
        """
        with self._lock:
            repository = self._repository(full_name)
            graph = self.commit_graph(repository)
            if branch not in graph.branches:
                raise KeyError(f"no branch {branch!r} in {full_name}")
            self._tick()
            if author_login is _POOL_USER:
                author = self.users[self.login]
            else:
                author = None if author_login is None else self._user(author_login)
            return self._append_commit(repository, branch, message, author, author_email)

    def add_branch(self, full_name: str, name: str, from_branch: str = "main") -> str | None:
        """A branch at `from_branch`'s head (sharing its history); returns the head SHA."""
        with self._lock:
            repository = self._repository(full_name)
            graph = self.commit_graph(repository)
            if name in graph.branches:
                raise ValueError(f"branch {name!r} exists in {full_name}")
            self._tick()
            graph.branches[name] = list(graph.branches[from_branch])
            history = graph.branches[name]
            return history[-1].sha if history else None

    def add_issue(
        self, full_name: str, title: str, labels: Iterable[str] = (), **fields: Any
    ) -> int:
        """A new open issue by the authenticated user, created now; returns its number."""
        return self._add_thread(full_name, title, labels, is_pull=False, fields=fields)

    def add_pull(self, full_name: str, title: str, **fields: Any) -> int:
        """A new open pull request (head feature/<n>, base main), created now: its number."""
        labels = fields.pop("labels", ())
        return self._add_thread(full_name, title, labels, is_pull=True, fields=fields)

    def update_issue(self, full_name: str, number: int, **fields: Any) -> dict[str, Any]:
        """Change an issue (or a pull request's issue item); updated_at moves to now.

        Fields use GitHub's names; `labels`, `assignees`, `assignee`, `user` take names/logins.
        Closing sets closed_at (and state_reason "completed"); reopening clears it.
        Returns the issue item as /issues now serves it.
        """
        with self._lock:
            repository, tracker, thread = self._thread(full_name, number)
            self._apply(repository, tracker, thread, fields, self._tick())
            return thread.issue

    def update_pull(self, full_name: str, number: int, **fields: Any) -> dict[str, Any]:
        """Change a pull request; `merged=True` closes and merges it now. Returns the pull."""
        with self._lock:
            repository, tracker, thread = self._thread(full_name, number)
            if not thread.is_pull:
                raise KeyError(f"#{number} in {full_name} is an issue, not a pull request")
            self._apply(repository, tracker, thread, fields, self._tick())
            return thread.pull

    # --- GitHub Actions mutators -----------------------------------------------------------
    def add_run(
        self,
        full_name: str,
        workflow: str = "CI",
        *,
        event: str = "push",
        branch: str = "main",
        jobs: Iterable[str] = ("build", "test"),
        actor_login: str | None = None,
    ) -> int:
        """A new workflow run, queued now with its jobs queued; returns the run id."""
        names = [name for name, _ in WORKFLOWS]
        if workflow not in names:
            raise ValueError(f"unknown workflow {workflow!r}; the fake has {names}")
        with self._lock:
            actions = self._actions(full_name)
            now = self._tick_epoch()
            actor = self._user(actor_login or self.login)
            run = actions.add_run(
                now,
                workflow=names.index(workflow),
                event=event,
                branch=branch,
                actor=actor,
                jobs=tuple(jobs),
            )
            return run.id

    def update_run(
        self, full_name: str, run_id: int, *, status: str, conclusion: str | None = None
    ) -> dict[str, Any]:
        """Move a run's current attempt to `status` now (completing it completes its jobs);
        returns the run as the runs list serves it."""
        with self._lock:
            actions = self._actions(full_name)
            run = actions.run(run_id)
            return dict(
                actions.update_run(run, self._tick_epoch(), status=status, conclusion=conclusion)
            )

    def rerun(self, full_name: str, run_id: int) -> int:
        """Re-run a finished run: a new attempt, queued now, with new jobs; its number."""
        with self._lock:
            actions = self._actions(full_name)
            attempt = actions.rerun(actions.run(run_id), self._tick_epoch())
            return attempt["run_attempt"]

    def add_job(self, full_name: str, run_id: int, name: str) -> int:
        """A queued job in the run's current attempt; returns the job id."""
        with self._lock:
            actions = self._actions(full_name)
            return actions.add_job(actions.run(run_id), name, self._tick_epoch())["id"]

    def update_job(
        self, full_name: str, job_id: int, *, status: str, conclusion: str | None = None
    ) -> dict[str, Any]:
        """Move a job to `status` now (a runner takes it, then it completes with its steps)."""
        with self._lock:
            actions = self._actions(full_name)
            return dict(
                actions.update_job(job_id, self._tick_epoch(), status=status, conclusion=conclusion)
            )

    def replace_run(self, full_name: str, run_id: int, run: dict[str, Any]) -> None:
        """Serve `run` as the run's current attempt from now on: an older state (a lagging
        replica) or a malformed one. The clock does not move."""
        with self._lock:
            actions = self._actions(full_name)
            actions.run(run_id).attempts[-1] = dict(run)

    def delete_run(self, full_name: str, run_id: int) -> None:
        """Delete a run with its attempts and jobs (DELETE .../actions/runs/{run_id}): 404 after."""
        with self._lock:
            self._actions(full_name).delete_run(run_id)

    def jobs_of(self, full_name: str, run_id: int, attempt: int | None = None) -> list[dict]:
        """Copies of the jobs of a run's attempt (the latest by default)."""
        with self._lock:
            run = self._actions(full_name).run(run_id)
            jobs = run.jobs[-1] if attempt is None else run.jobs[attempt - 1]
            return [dict(job) for job in jobs]

    # --- internals -----------------------------------------------------------------------
    def _tick_epoch(self) -> int:
        self._tick()
        return int(self.now.timestamp())

    def _tick(self) -> str:
        self.now += dt.timedelta(minutes=1)
        return iso(int(self.now.timestamp()))

    def _add_org(self, login: str) -> dict[str, Any]:
        org = organization(login, len(self.orgs) + 1)
        self.orgs[login.lower()] = org
        return org

    def _add_generated_repository(
        self, index: int, org: dict[str, Any], variety: dict[str, Any]
    ) -> None:
        window = generated_window(index)
        json = repository_json(
            index,
            owner_object(org),
            f"repo-{index:03d}",
            created=iso(window[0]),
            pushed=iso(window[1]),
        )
        json.update(variety)
        self.repositories[json["full_name"].lower()] = Repository(json=json, window=window)

    def _repository(self, full_name: str) -> Repository:
        owner, _, name = full_name.partition("/")
        try:
            return self.repository(owner, name)
        except HTTPError:
            raise KeyError(f"no repository {full_name!r}") from None

    def _actions(self, full_name: str) -> Actions:
        return self.actions(self._repository(full_name))

    def _user(self, login: str) -> User:
        user = self.users.get(login)
        if user is None:
            user = User(login, 2000 + len(self.users), login, f"{login}@example.com")
            self.users[login] = user
        return user

    def _append_commit(
        self,
        repository: Repository,
        branch: str,
        message: str,
        author: User | None,
        email: str | None,
    ) -> str:
        graph = self.commit_graph(repository)
        history = graph.branches[branch]
        when = iso(int(self.now.timestamp()))
        parent = history[-1].sha if history else None
        sha = fake_sha(self.seed, repository.full_name, branch, len(history), message, when)
        name = author.name if author else "Unknown Author"
        person = (author, name, email or (author.email if author else "unknown@example.org"), when)
        item = repository.json
        commit = make_commit(item["full_name"], item["id"], sha, parent, message, person, person)
        graph.append(branch, commit)
        item["pushed_at"] = item["updated_at"] = when
        return sha

    def _thread(self, full_name: str, number: int) -> tuple[Repository, Tracker, Thread]:
        repository = self._repository(full_name)
        tracker = self.tracker(repository)
        if not 1 <= number <= len(tracker.threads):
            raise KeyError(f"no issue or pull request #{number} in {full_name}")
        return repository, tracker, tracker.threads[number - 1]

    def _add_thread(
        self,
        full_name: str,
        title: str,
        labels: Iterable[str],
        *,
        is_pull: bool,
        fields: dict[str, Any],
    ) -> int:
        with self._lock:
            repository = self._repository(full_name)
            tracker = self.tracker(repository)
            when = self._tick()
            number = len(tracker.threads) + 1
            thread = Thread(
                number=number,
                is_pull=is_pull,
                title=title,
                body="",
                user=self.users[self.login],
                labels=[],
                state="open",
                state_reason=None,
                assignees=[],
                comments=0,
                created_at=when,
                updated_at=when,
                closed_at=None,
            )
            if is_pull:
                thread.head_ref = f"feature/{number}"
                thread.head_sha = fake_sha(self.seed, full_name, "head", number, when)
                thread.base_sha = fake_sha(self.seed, full_name, "base", number, when)
                thread.merge_commit_sha = fake_sha(self.seed, full_name, "merge", number, when)
            tracker.threads.append(thread)
            self._apply(repository, tracker, thread, {"labels": list(labels), **fields}, when)
            return number

    def _apply(
        self,
        repository: Repository,
        tracker: Tracker,
        thread: Thread,
        fields: dict[str, Any],
        when: str,
    ) -> None:
        fields = dict(fields)
        if fields.pop("merged", False):
            fields.setdefault("state", "closed")
            fields.setdefault("merged_at", when)
        if "state" in fields and fields["state"] != thread.state:
            closing = fields["state"] == "closed"
            fields.setdefault("closed_at", when if closing else None)
            if not thread.is_pull:
                fields.setdefault("state_reason", "completed" if closing else "reopened")
        if "labels" in fields:
            names = [_label_name(label) for label in fields["labels"]]
            for name in names:
                if name not in tracker.labels:
                    tracker.labels[name] = _new_label(repository, tracker, name)
            fields["labels"] = names
        if "assignee" in fields:
            assignee = fields.pop("assignee")
            fields["assignees"] = [assignee] if assignee else []
        for key in ("assignees", "requested_reviewers"):
            if key in fields:
                fields[key] = [self._user(_login(user)) for user in fields[key]]
        if "user" in fields:
            fields["user"] = self._user(_login(fields["user"]))
        fields.setdefault("updated_at", when)
        for key, value in fields.items():
            if key in ("number", "is_pull", "issue", "pull") or not hasattr(thread, key):
                raise TypeError(f"cannot set {key!r} on an issue or pull request")
            setattr(thread, key, value)
        render(repository.json, tracker, thread)


VARIETY: dict[int, dict[str, Any]] = {
    2: {"private": True, "visibility": "private"},
    3: {"fork": True, "description": "A fork of upstream/repo"},
    4: {"archived": True, "description": "Archived: read-only"},
}


def _label_name(label: Any) -> str:
    return label["name"] if isinstance(label, dict) else label


def _login(user: Any) -> str:
    return user["login"] if isinstance(user, dict) else getattr(user, "login", user)


def _new_label(repository: Repository, tracker: Tracker, name: str) -> dict[str, Any]:
    return label_json(repository.json, name, len(tracker.labels))


def not_found(documentation: str = "") -> HTTPError:
    """GitHub's 404 body."""
    payload = {
        "message": "Not Found",
        "documentation_url": f"{NOT_FOUND_DOCS}/{documentation}".rstrip("/"),
        "status": "404",
    }
    return HTTPError(404, "Not Found", payload=payload)


def _build_app(fake: FakeGitHub) -> FakeApp:
    from tests.fakes.github.actions_routes import register_actions
    from tests.fakes.github.oauth import register_oauth
    from tests.fakes.github.routes import GitHubApp, register_api

    app = GitHubApp(fake)
    register_api(app, fake)
    register_actions(app, fake)
    register_oauth(app, fake)
    return app
