"""The fake GitHub's REST endpoints, with GitHub's parameters, defaults and error shapes.

Every API route goes through `GitHubApp`: token check (401 Bad credentials), then
`RateLimits.serve` (secondary limit, primary budget, ETag / 304, X-RateLimit-*).
Handlers read under the fake's lock and serialize there, so a test mutating
data meanwhile never tears a page.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tests.fakes.app import HTTPError, LiveCredentialsApp, Request, Response, credentials_in
from tests.fakes.github.data import API
from tests.fakes.github.fake import not_found
from tests.fakes.pagination import numbered_page

if TYPE_CHECKING:
    from tests.fakes.github.fake import FakeGitHub

Handler = Callable[[Request], Response]
DOCS = "https://docs.github.com/rest"


class GitHubApp(LiveCredentialsApp):
    """A FakeApp whose accepted tokens change at run time and whose 401 is GitHub's."""

    def __init__(self, fake: FakeGitHub) -> None:
        super().__init__("github", fake)

    def is_authorized(self, request: Request) -> bool:
        scheme, credential = credentials_in(request)
        return scheme in ("token", "bearer") and self.fake.accepts(credential)

    def unauthorized(self, request: Request) -> Response:
        if not request.headers.get("Authorization"):
            message = "Requires authentication"
        else:
            message = "Bad credentials"
        payload = {"message": message, "documentation_url": DOCS, "status": "401"}
        return Response.json(payload, status=401)

    def api(self, pattern: str, handler: Handler, *, counted: bool = True) -> None:
        """Register an authenticated API route behind the rate limits."""
        fake = self.fake

        def serve(request: Request) -> Response:
            token = credentials_in(request)[1]
            with fake.limits.tracking(token):
                if fake.latency:
                    time.sleep(fake.latency)
                produce = lambda: _with_api_host(request, _call(handler, request))  # noqa: E731
                response = fake.limits.serve(request, token, produce, counted=counted)
            response.headers["X-OAuth-Scopes"] = fake.scopes_of(token)
            return response

        self.add_route("GET", pattern, serve)


def _call(handler: Handler, request: Request) -> Response:
    try:
        return handler(request)
    except HTTPError as error:
        return error.response()


def _with_api_host(request: Request, response: Response) -> Response:
    # Records are stored with a placeholder host; API URLs name the host the client used.
    response.body = response.body.replace(API.encode(), request.base_url.encode())
    return response


def validation_failed(field: str, value: str | None, resource: str = "Search") -> HTTPError:
    payload = {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "field": field, "code": "invalid", "value": value}],
        "documentation_url": DOCS,
        "status": "422",
    }
    return HTTPError(422, "Validation Failed", payload=payload)


def choice(request: Request, name: str, allowed: Iterable[str], default: str) -> str:
    value = request.param(name) or default
    if value not in allowed:
        raise validation_failed(name, value)
    return value


def timestamp_param(request: Request, name: str, *, round_up: bool) -> str | None:
    """An ISO 8601 query parameter, as a string comparable with the records' times.

    Records have whole seconds: a `since` with a fraction rounds up (so "inclusive"
    still excludes earlier seconds), an `until` rounds down.
    """
    value = request.param(name)
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise validation_failed(name, value) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    seconds = moment.timestamp()
    whole = math.ceil(seconds) if round_up else math.floor(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(whole))


REPOSITORY_SORTS = {
    "full_name": lambda r: r["full_name"].lower(),
    "created": lambda r: (r["created_at"], r["full_name"].lower()),
    "updated": lambda r: (r["updated_at"], r["full_name"].lower()),
    "pushed": lambda r: (r["pushed_at"] or "", r["full_name"].lower()),
}


def sorted_repositories(
    request: Request, repositories: Iterable[dict[str, Any]], default_sort: str
) -> list[dict[str, Any]]:
    sort = choice(request, "sort", REPOSITORY_SORTS, default_sort)
    # GitHub: asc when sorting by full_name, desc otherwise.
    default_direction = "asc" if sort == "full_name" else "desc"
    direction = choice(request, "direction", ("asc", "desc"), default_direction)
    return sorted(repositories, key=REPOSITORY_SORTS[sort], reverse=direction == "desc")


def page(request: Request, items: Sequence[Any]) -> Response:
    return numbered_page(request, items, default_per_page=30, max_per_page=100)


def page_positions(request: Request, count: int) -> tuple[list[int], dict[str, str]]:
    """The positions of the page asked for in a list of `count` items, and the page's
    headers (Link): numbered_page picks them, the caller writes the body."""
    response = page(request, range(count))
    return json.loads(response.body), response.headers


def raw_page(request: Request, raws: Sequence[bytes]) -> Response:
    """`page` over records kept serialized: the body joins those records' bytes."""
    positions, headers = page_positions(request, len(raws))
    body = b"[" + b",".join(raws[position] for position in positions) + b"]"
    return Response(body=body, headers=headers)


def raw_json(raw: bytes) -> Response:
    return Response(body=raw, headers={"Content-Type": "application/json; charset=utf-8"})


def register_api(app: GitHubApp, fake: FakeGitHub) -> None:
    def repositories() -> list[dict[str, Any]]:
        return [repository.json for repository in fake.repositories.values()]

    # GET /user
    def get_user(request: Request) -> Response:
        return Response.json(fake.users[fake.login].full())

    # GET /user/emails
    def list_emails(request: Request) -> Response:
        user = fake.users[fake.login]
        noreply = f"{user.id}+{user.login}@users.noreply.github.com"
        emails = [
            {"email": user.email, "primary": True, "verified": True, "visibility": "public"},
            {"email": noreply, "primary": False, "verified": True, "visibility": None},
        ]
        return page(request, emails)

    # GET /user/orgs
    def list_user_orgs(request: Request) -> Response:
        with fake.lock:
            return page(request, list(fake.orgs.values()))

    # GET /orgs/{org}
    def get_org(request: Request) -> Response:
        with fake.lock:
            org = fake.orgs.get(request.path_params["org"].lower())
            if org is None:
                raise not_found("orgs/orgs#get-an-organization")
            return Response.json(org)

    # GET /user/repos: everything the user can see (all repositories of the fake).
    def list_user_repositories(request: Request) -> Response:
        kind = request.param("type")
        if kind and (request.param("visibility") or request.param("affiliation")):
            message = "If you specify visibility or affiliation, you cannot specify type."
            raise HTTPError(422, message, payload={"message": message, "documentation_url": DOCS})
        kind = choice(request, "type", ("all", "owner", "public", "private", "member"), "all")
        visibility = choice(request, "visibility", ("all", "public", "private"), "all")
        default_affiliation = "owner,collaborator,organization_member"
        affiliations = set((request.param("affiliation") or default_affiliation).split(","))
        with fake.lock:
            listed = []
            for repository in repositories():
                own = repository["owner"]["login"] == fake.login
                relation = "owner" if own else "organization_member"
                if relation not in affiliations:
                    continue
                if (kind == "owner" and not own) or (kind == "member" and own):
                    continue
                if kind in ("public", "private") and repository["visibility"] != kind:
                    continue
                if visibility != "all" and repository["visibility"] != visibility:
                    continue
                listed.append(repository)
            return page(request, sorted_repositories(request, listed, "full_name"))

    # GET /orgs/{org}/repos
    def list_org_repositories(request: Request) -> Response:
        with fake.lock:
            org = fake.orgs.get(request.path_params["org"].lower())
            if org is None:
                raise not_found("repos/repos#list-organization-repositories")
            kinds = ("all", "public", "private", "forks", "sources", "member")
            kind = choice(request, "type", kinds, "all")
            listed = []
            for repository in repositories():
                if repository["owner"]["login"] != org["login"]:
                    continue
                if kind in ("public", "private") and repository["visibility"] != kind:
                    continue
                if kind == "forks" and not repository["fork"]:
                    continue
                if kind == "sources" and repository["fork"]:
                    continue
                listed.append(repository)
            return page(request, sorted_repositories(request, listed, "created"))

    # GET /repos/{owner}/{repo}
    def get_repository(request: Request) -> Response:
        with fake.lock:
            repository = fake.repository(**request.path_params)
            return Response.json(repository.json)

    # GET /repos/{owner}/{repo}/branches
    def list_branches(request: Request) -> Response:
        protected = request.param("protected")
        with fake.lock:
            repository = fake.repository(**request.path_params)
            graph = fake.commit_graph(repository)
            full_name = repository.full_name
            default = repository.json["default_branch"]
            items = []
            for name in sorted(graph.branches):
                history = graph.branches[name]
                if not history:
                    continue
                is_protected = name == default
                if protected is not None and is_protected != (protected == "true"):
                    continue
                sha = history[-1].sha
                items.append(
                    {
                        "name": name,
                        "commit": {"sha": sha, "url": f"{API}/repos/{full_name}/commits/{sha}"},
                        "protected": is_protected,
                    }
                )
            return page(request, items)

    # GET /repos/{owner}/{repo}/commits: newest first; since/until on the committer date.
    def list_commits(request: Request) -> Response:
        since = timestamp_param(request, "since", round_up=True)
        until = timestamp_param(request, "until", round_up=False)
        with fake.lock:
            repository = fake.repository(**request.path_params)
            graph = fake.commit_graph(repository)
            ref = request.param("sha") or repository.json["default_branch"]
            history = graph.history(ref)
            if history is None:
                message = f"No commit found for SHA: {ref}"
                payload = {"message": message, "documentation_url": DOCS, "status": "404"}
                raise HTTPError(404, message, payload=payload)
            listed = [
                commit.raw
                for commit in reversed(history)
                if (since is None or commit.date >= since)
                and (until is None or commit.date <= until)
            ]
            return raw_page(request, listed)

    # GET /repos/{owner}/{repo}/commits/{ref}
    def get_commit(request: Request) -> Response:
        with fake.lock:
            params = request.path_params
            repository = fake.repository(params["owner"], params["repo"])
            history = fake.commit_graph(repository).history(params["ref"])
            if not history:
                message = f"No commit found for SHA: {params['ref']}"
                payload = {"message": message, "documentation_url": DOCS}
                raise HTTPError(422, message, payload=payload)
            commit = json.loads(history[-1].raw)
            commit["stats"] = {"total": 0, "additions": 0, "deletions": 0}
            commit["files"] = []
            return Response.json(commit)

    # GET /repos/{owner}/{repo}/issues: pull requests included (they carry "pull_request").
    def list_issues(request: Request) -> Response:
        state = choice(request, "state", ("open", "closed", "all"), "open")
        since = timestamp_param(request, "since", round_up=True)
        sort = choice(request, "sort", ("created", "updated", "comments"), "created")
        direction = choice(request, "direction", ("asc", "desc"), "desc")
        wanted = {name.strip() for name in (request.param("labels") or "").split(",")} - {""}
        with fake.lock:
            repository = fake.repository(**request.path_params)
            threads = []
            for thread in fake.tracker(repository).threads:
                if state != "all" and thread.state != state:
                    continue
                if since is not None and thread.updated_at < since:
                    continue
                if not wanted <= set(thread.labels):
                    continue
                threads.append(thread)
            key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}[sort]
            threads.sort(key=lambda t: (getattr(t, key), t.number), reverse=direction == "desc")
            return raw_page(request, [thread.issue_raw for thread in threads])

    # GET /repos/{owner}/{repo}/issues/{number}
    def get_issue(request: Request) -> Response:
        with fake.lock:
            return raw_json(_thread(fake, request).issue_raw)

    # GET /repos/{owner}/{repo}/pulls
    def list_pulls(request: Request) -> Response:
        state = choice(request, "state", ("open", "closed", "all"), "open")
        sorts = ("created", "updated", "popularity", "long-running")
        sort = choice(request, "sort", sorts, "created")
        direction = choice(request, "direction", ("asc", "desc"), "desc")
        base, head = request.param("base"), request.param("head")
        with fake.lock:
            repository = fake.repository(**request.path_params)
            threads = []
            for thread in fake.tracker(repository).threads:
                if not thread.is_pull or (state != "all" and thread.state != state):
                    continue
                if base and thread.base_ref != base:
                    continue
                if head and f"{repository.json['owner']['login']}:{thread.head_ref}" != head:
                    continue
                threads.append(thread)
            keys = {
                "created": lambda t: (t.created_at, t.number),
                "updated": lambda t: (t.updated_at, t.number),
                "popularity": lambda t: (t.comments, t.number),
                "long-running": lambda t: (_age(t), t.number),
            }
            threads.sort(key=keys[sort], reverse=direction == "desc")
            return raw_page(request, [thread.pull_raw for thread in threads])

    # GET /repos/{owner}/{repo}/pulls/{number}
    def get_pull(request: Request) -> Response:
        with fake.lock:
            thread = _thread(fake, request)
            if not thread.is_pull:
                raise not_found("pulls/pulls#get-a-pull-request")
            pull = thread.pull
            pull.update(comments=thread.comments, merged=thread.merged_at is not None)
            return Response.json(pull)

    # GET /rate_limit: never counted; 404 where rate limiting is disabled (GHES).
    def get_rate_limit(request: Request) -> Response:
        budget = fake.limits.snapshot(credentials_in(request)[1])
        if budget is None:
            message = "Rate limiting is not enabled."
            raise HTTPError(404, message, payload={"message": message, "documentation_url": DOCS})
        core = budget.as_json()
        search = {"limit": 30, "remaining": 30, "reset": budget.reset_at, "used": 0}
        resources = {
            "core": core,
            "search": {**search, "resource": "search"},
            "graphql": {**core, "resource": "graphql", "remaining": core["limit"], "used": 0},
        }
        return Response.json({"resources": resources, "rate": core})

    app.api("/user", get_user)
    app.api("/user/emails", list_emails)
    app.api("/user/orgs", list_user_orgs)
    app.api("/user/repos", list_user_repositories)
    app.api("/orgs/{org}", get_org)
    app.api("/orgs/{org}/repos", list_org_repositories)
    app.api("/repos/{owner}/{repo}", get_repository)
    app.api("/repos/{owner}/{repo}/branches", list_branches)
    app.api("/repos/{owner}/{repo}/commits", list_commits)
    app.api("/repos/{owner}/{repo}/commits/{ref:path}", get_commit)
    app.api("/repos/{owner}/{repo}/issues", list_issues)
    app.api("/repos/{owner}/{repo}/issues/{number}", get_issue)
    app.api("/repos/{owner}/{repo}/pulls", list_pulls)
    app.api("/repos/{owner}/{repo}/pulls/{number}", get_pull)
    app.api("/rate_limit", get_rate_limit, counted=False)
    # Not GitHub: the fake's counters, for a benchmark whose fake runs in a child process.
    app.add_route("GET", "/_fake/github/state", lambda request: _state(fake), public=True)


def _thread(fake: FakeGitHub, request: Request) -> Any:
    params = request.path_params
    repository = fake.repository(params["owner"], params["repo"])
    threads = fake.tracker(repository).threads
    number = params["number"]
    if not number.isdigit() or not 1 <= int(number) <= len(threads):
        raise not_found("issues/issues#get-an-issue")
    return threads[int(number) - 1]


def _age(thread: Any) -> float:
    created = dt.datetime.fromisoformat(thread.created_at)
    updated = dt.datetime.fromisoformat(thread.updated_at)
    return (updated - created).total_seconds()


def _state(fake: FakeGitHub) -> dict[str, Any]:
    return {
        **fake.limits.counters(),
        "issued_tokens": len(fake.issued_tokens),
        "now": fake.now.isoformat(),
    }
