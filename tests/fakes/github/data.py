"""The fake GitHub's data, in GitHub's REST shapes, deterministic from a seed.

Repositories are cheap and built at once; each repository's commits and its
issues/pull requests are generated on first access (separately), so a fake of
100 repositories x 1,000 commits starts at once and only pays for what is read.

Every generated time lies before `GENERATED_UNTIL`; the fake's clock starts
there and moves one minute per mutation, so whatever a test adds or changes is
later than everything before it.

Records are kept serialized (commits never change; an issue or pull request is
re-rendered when a mutator changes it), so a page is a join of bytes, not a
json.dumps of 100 nested dicts, and 100,000 commits fit in little memory. API
URLs inside them use the `API` placeholder, replaced by the address the client
used when a response is sent (one bytes.replace per response).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from tests.fakes.github.actions import Actions

API = "https://api.github.fake"
WEB = "https://github.com"
EPOCH = 1672531200  # 2023-01-01T00:00:00Z
GENERATED_UNTIL = 1735689600  # 2025-01-01T00:00:00Z
HOUR = 3600
DAY = 24 * HOUR

# Ids above 2**31, as GitHub's are by now: a hub storing them in a 32-bit column breaks here.
REPOSITORY_ID_BASE = 700_000_000
ISSUE_ID_BASE = 2_100_000_000
PULL_ID_BASE = 1_900_000_000
LABEL_ID_BASE = 5_000_000_000
ORG_ID_BASE = 9_000

PEOPLE = (
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Ken Thompson",
    "Margaret Hamilton",
    "Radia Perlman",
    "Donald Knuth",
    "Frances Allen",
)
VERBS = ("Fix", "Add", "Refactor", "Remove", "Update", "Document", "Speed up", "Test")
NOUNS = ("parser", "login flow", "cache", "exporter", "sync job", "dashboard", "API client", "CLI")
COLORS = ("d73a4a", "a2eeef", "0075ca", "b60205", "d93f0b", "fbca04", "7057ff")
SEVERITIES = ("severity: critical", "severity: high", "severity: low")
LABEL_DESCRIPTIONS = {
    "bug": "Something isn't working",
    "enhancement": "New feature or request",
    "documentation": "Improvements or additions to documentation",
    "severity: critical": "Drop everything",
    "severity: high": "Fix in this sprint",
    "severity: low": "Fix when convenient",
}


def iso(timestamp: int) -> str:
    """Epoch seconds → GitHub's ISO 8601 form ("2024-05-01T12:00:00Z")."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def node_id(kind: str, identifier: object) -> str:
    """GitHub's legacy global node id: base64 of "<len>:<Type><id>" ("MDQ6VXNlcjE=" = User 1)."""
    return base64.b64encode(f"{len(kind):02d}:{kind}{identifier}".encode()).decode()


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(value: Any) -> bytes:
    """JSON as the fakes send it (compact, UTF-8)."""
    return _ENCODER.encode(value).encode("utf-8")


def fake_sha(*parts: object) -> str:
    """A 40-hex-digit SHA, stable for the same parts."""
    text = ":".join(str(part) for part in parts).encode()
    return hashlib.sha1(text, usedforsecurity=False).hexdigest()


@dataclass
class User:
    login: str
    id: int
    name: str
    email: str
    type: str = "User"
    simple: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The "simple user" object GitHub nests in commits, issues and pulls; built once, shared.
        self.simple = {
            "login": self.login,
            "id": self.id,
            "node_id": node_id(self.type if self.type != "Organization" else "Org", self.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{self.id}?v=4",
            "url": f"{API}/users/{self.login}",
            "html_url": f"{WEB}/{self.login}",
            "type": self.type,
            "site_admin": False,
        }

    def full(self) -> dict[str, Any]:
        """GET /user: the authenticated user's profile."""
        return {
            **self.simple,
            "name": self.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": self.email,
            "bio": None,
            "public_repos": 0,
            "followers": 0,
            "following": 0,
            "created_at": iso(EPOCH - 400 * DAY),
            "updated_at": iso(EPOCH),
        }


# Commits merged in GitHub's web UI are committed by "web-flow".
WEB_FLOW = User("web-flow", 19864447, "GitHub", "noreply@github.com")
BOT = User(
    "dependabot[bot]", 49699333, "dependabot[bot]",
    "49699333+dependabot[bot]@users.noreply.github.com", type="Bot",
)  # fmt: skip


def user_pool(login: str) -> list[User]:
    """The authenticated user (id 1), ten people and a bot."""
    you = User(login, 1, "The Octocat" if login == "octocat" else login, f"{login}@example.com")
    people = []
    for number, full_name in enumerate(PEOPLE, start=1):
        first, last = full_name.split()
        handle = f"{first.lower()}{last[0].lower()}"
        people.append(User(handle, 1000 + number, full_name, f"{handle}@example.com"))
    return [you, *people, BOT]


def organization(login: str, number: int) -> dict[str, Any]:
    """GET /orgs/{org}."""
    org_id = ORG_ID_BASE + number
    return {
        "login": login,
        "id": org_id,
        "node_id": node_id("Organization", org_id),
        "url": f"{API}/orgs/{login}",
        "repos_url": f"{API}/orgs/{login}/repos",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org_id}?v=4",
        "description": f"The {login} organization",
        "html_url": f"{WEB}/{login}",
        "type": "Organization",
    }


def owner_object(org: dict[str, Any]) -> dict[str, Any]:
    return {
        "login": org["login"],
        "id": org["id"],
        "node_id": org["node_id"],
        "avatar_url": org["avatar_url"],
        "url": f"{API}/users/{org['login']}",
        "html_url": org["html_url"],
        "type": "Organization",
        "site_admin": False,
    }


def repository_json(
    index: int, owner: dict[str, Any], name: str, *, created: str, pushed: str
) -> dict[str, Any]:
    """GET /repos/{owner}/{repo} (the fields the hub reads, GitHub's names)."""
    full_name = f"{owner['login']}/{name}"
    repository_id = REPOSITORY_ID_BASE + index
    return {
        "id": repository_id,
        "node_id": node_id("Repository", repository_id),
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": owner,
        "html_url": f"{WEB}/{full_name}",
        "description": f"Repository {name}",
        "fork": False,
        "url": f"{API}/repos/{full_name}",
        "created_at": created,
        "updated_at": pushed,
        "pushed_at": pushed,
        "default_branch": "main",
        "archived": False,
        "disabled": False,
        "visibility": "public",
    }


def generated_window(index: int) -> tuple[int, int]:
    """(created, last push) of generated repository `index`; its history lies in between."""
    created = EPOCH + (index % 1000) * 6 * HOUR
    pushed = GENERATED_UNTIL - DAY - (index % 1000) * 600
    return created, pushed


# --- commits ---------------------------------------------------------------------------


class Commit(NamedTuple):
    sha: str
    date: str  # the committer date, which since/until filter on
    raw: bytes  # the /commits item, serialized


@dataclass
class CommitGraph:
    """Linear histories per branch, oldest first; branches share their common prefix."""

    branches: dict[str, list[Commit]]
    # sha → (branch it was made on, position there): its ancestry is that branch's prefix.
    where: dict[str, tuple[str, int]]

    def history(self, ref: str) -> list[Commit] | None:
        """The commits reachable from a branch name or a (full or abbreviated) SHA, oldest first."""
        if ref in self.branches:
            return self.branches[ref]
        found = self.where.get(ref.lower())
        if found is None and len(ref) >= 7:
            prefix = ref.lower()
            found = next((at for sha, at in self.where.items() if sha.startswith(prefix)), None)
        if found is None:
            return None
        branch, position = found
        return self.branches[branch][: position + 1]

    def append(self, branch: str, commit: Commit) -> None:
        history = self.branches[branch]
        history.append(commit)
        self.where[commit.sha] = (branch, len(history) - 1)


def make_commit(
    full_name: str,
    repository_id: int,
    sha: str,
    parent: str | None,
    message: str,
    author: tuple[User | None, str, str, str],
    committer: tuple[User | None, str, str, str],
) -> Commit:
    """An item of GET /repos/{owner}/{repo}/commits. author/committer: (user, name, email, date)."""
    tree = fake_sha("tree", sha)
    author_user, author_name, author_email, author_date = author
    committer_user, committer_name, committer_email, committer_date = committer
    parents = []
    if parent:
        parents.append(
            {
                "sha": parent,
                "url": f"{API}/repos/{full_name}/commits/{parent}",
                "html_url": f"{WEB}/{full_name}/commit/{parent}",
            }
        )
    item = {
        "sha": sha,
        "node_id": node_id("Commit", f"{repository_id}:{sha}"),
        "commit": {
            "author": {"name": author_name, "email": author_email, "date": author_date},
            "committer": {"name": committer_name, "email": committer_email, "date": committer_date},
            "message": message,
            "tree": {"sha": tree, "url": f"{API}/repos/{full_name}/git/trees/{tree}"},
            "url": f"{API}/repos/{full_name}/git/commits/{sha}",
            "comment_count": 0,
        },
        "url": f"{API}/repos/{full_name}/commits/{sha}",
        "html_url": f"{WEB}/{full_name}/commit/{sha}",
        "comments_url": f"{API}/repos/{full_name}/commits/{sha}/comments",
        # null when GitHub cannot match the git email to an account.
        "author": author_user.simple if author_user else None,
        "committer": committer_user.simple if committer_user else None,
        "parents": parents,
    }
    return Commit(sha, committer_date, dumps(item))


def generate_commits(
    repository: dict[str, Any],
    *,
    count: int,
    branches: tuple[str, ...],
    seed: int,
    pool: list[User],
    window: tuple[int, int],
) -> CommitGraph:
    """`count` commits on main; every other branch forks from main a little before its head
    and adds 2-4 commits of its own, so most SHAs are on several branches."""
    full_name, repository_id = repository["full_name"], repository["id"]
    generator = random.Random(f"{seed}:{full_name}:commits")
    start, end = window[0] + HOUR, window[1]
    step = (end - start) / max(count - 1, 1)
    stamps = [
        end if i == count - 1 else int(start + step * i + generator.random() * step / 2)
        for i in range(count)
    ]
    graph = CommitGraph(branches={"main": []}, where={})

    def make(branch: str, position: int, stamp: int, parent: str | None) -> Commit:
        sha = fake_sha(seed, full_name, branch, position)
        message = f"{generator.choice(VERBS)} {generator.choice(NOUNS)}"
        if generator.random() < 0.2:
            message += f"\n\nFixes #{generator.randrange(1, 50)}"
        date = iso(stamp)
        if generator.random() < 0.1:
            # A former colleague whose email GitHub does not know: author and committer are null.
            former = generator.randrange(1, 6)
            person = (None, f"Former Contributor {former}", f"former{former}@oldcorp.example", date)
            return make_commit(full_name, repository_id, sha, parent, message, person, person)
        user = pool[generator.randrange(len(pool))]
        if generator.random() < 0.15:
            # Merged in the web UI: written earlier by the author, committed by web-flow.
            written = iso(stamp - generator.randrange(DAY))
            author = (user, user.name, user.email, written)
            committer = (WEB_FLOW, WEB_FLOW.name, WEB_FLOW.email, date)
            return make_commit(full_name, repository_id, sha, parent, message, author, committer)
        person = (user, user.name, user.email, date)
        return make_commit(full_name, repository_id, sha, parent, message, person, person)

    parent = None
    for position, stamp in enumerate(stamps):
        commit = make("main", position, stamp, parent)
        graph.append("main", commit)
        parent = commit.sha

    main = graph.branches["main"]
    for number, branch in enumerate(name for name in branches if name != "main"):
        if not main:
            graph.branches[branch] = []
            continue
        fork = max(min(count - 1 - 3 * (number + 1), count - 2), 0)
        graph.branches[branch] = main[: fork + 1]
        base = stamps[fork]
        upper = stamps[fork + 1] if fork + 1 < count else base + HOUR
        own = 2 + number % 3
        parent = main[fork].sha
        for extra in range(own):
            stamp = base + (upper - base) * (extra + 1) // (own + 1)
            commit = make(branch, fork + 1 + extra, stamp, parent)
            graph.append(branch, commit)
            parent = commit.sha
    return graph


# --- issues and pull requests ----------------------------------------------------------


@dataclass
class Thread:
    """An issue or a pull request: GitHub numbers both in one sequence per repository.

    The mutable core; `issue_raw` (the /issues item) and `pull_raw` (the /pulls item)
    are rendered from it, serialized, after every change so both views always agree.
    """

    number: int
    is_pull: bool
    title: str
    body: str
    user: User
    labels: list[str]
    state: str
    state_reason: str | None
    assignees: list[User]
    comments: int
    created_at: str
    updated_at: str
    closed_at: str | None
    locked: bool = False
    draft: bool = False
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    head_ref: str = ""
    head_sha: str = ""
    base_ref: str = "main"
    base_sha: str = ""
    requested_reviewers: list[User] = field(default_factory=list)
    issue_raw: bytes = field(default=b"", repr=False)
    pull_raw: bytes | None = field(default=None, repr=False)

    @property
    def issue(self) -> dict[str, Any]:
        """The /issues item as served (a fresh copy, with the API host placeholder)."""
        return json.loads(self.issue_raw)

    @property
    def pull(self) -> dict[str, Any] | None:
        """The /pulls item as served (a fresh copy); None for an issue."""
        return None if self.pull_raw is None else json.loads(self.pull_raw)


@dataclass
class Tracker:
    """A repository's issues and pull requests (threads[number - 1]) and its labels."""

    threads: list[Thread]
    labels: dict[str, dict[str, Any]]


def label_json(repository: dict[str, Any], name: str, number: int) -> dict[str, Any]:
    label_id = LABEL_ID_BASE + (repository["id"] - REPOSITORY_ID_BASE) * 1000 + number
    return {
        "id": label_id,
        "node_id": node_id("Label", label_id),
        "url": f"{API}/repos/{repository['full_name']}/labels/{name.replace(' ', '%20')}",
        "name": name,
        "color": COLORS[number % len(COLORS)],
        "default": name in ("bug", "enhancement", "documentation"),
        "description": LABEL_DESCRIPTIONS.get(name),
    }


def new_tracker(repository: dict[str, Any]) -> Tracker:
    labels = {name: label_json(repository, name, n) for n, name in enumerate(LABEL_DESCRIPTIONS)}
    return Tracker(threads=[], labels=labels)


def association(user: User) -> str:
    return "CONTRIBUTOR" if user.type == "Bot" else "MEMBER"


def render(repository: dict[str, Any], tracker: Tracker, thread: Thread) -> None:
    """(Re)build the thread's /issues item and, for a pull request, its /pulls item."""
    full_name = repository["full_name"]
    number = thread.number
    labels = [tracker.labels[name] for name in thread.labels]
    assignees = [user.simple for user in thread.assignees]
    kind = "pull" if thread.is_pull else "issues"
    issue: dict[str, Any] = {
        "url": f"{API}/repos/{full_name}/issues/{number}",
        "repository_url": f"{API}/repos/{full_name}",
        "html_url": f"{WEB}/{full_name}/{kind}/{number}",
        "id": ISSUE_ID_BASE + (repository["id"] - REPOSITORY_ID_BASE) * 100_000 + number,
        "node_id": node_id("Issue", f"{repository['id']}:{number}"),
        "number": number,
        "title": thread.title,
        "user": thread.user.simple,
        "labels": labels,
        "state": thread.state,
        "state_reason": None if thread.is_pull else thread.state_reason,
        "locked": thread.locked,
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": None,
        "comments": thread.comments,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
        "closed_at": thread.closed_at,
        "author_association": association(thread.user),
        "body": thread.body,
    }
    if thread.is_pull:
        issue["draft"] = thread.draft
        issue["pull_request"] = {
            "url": f"{API}/repos/{full_name}/pulls/{number}",
            "html_url": f"{WEB}/{full_name}/pull/{number}",
            "diff_url": f"{WEB}/{full_name}/pull/{number}.diff",
            "patch_url": f"{WEB}/{full_name}/pull/{number}.patch",
            "merged_at": thread.merged_at,
        }
    thread.issue_raw = dumps(issue)
    thread.pull_raw = dumps(pull_json(repository, thread, issue)) if thread.is_pull else None


def pull_json(repository: dict[str, Any], thread: Thread, issue: dict[str, Any]) -> dict[str, Any]:
    """An item of GET /repos/{owner}/{repo}/pulls."""
    full_name, owner = repository["full_name"], repository["owner"]
    number = thread.number
    compact_repository = {
        key: repository[key]
        for key in ("id", "node_id", "name", "full_name", "private", "html_url", "url")
    }

    def part(ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{owner['login']}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": owner,
            "repo": compact_repository,
        }

    return {
        "url": f"{API}/repos/{full_name}/pulls/{number}",
        "id": PULL_ID_BASE + (repository["id"] - REPOSITORY_ID_BASE) * 100_000 + number,
        "node_id": node_id("PullRequest", f"{repository['id']}:{number}"),
        "html_url": f"{WEB}/{full_name}/pull/{number}",
        "diff_url": f"{WEB}/{full_name}/pull/{number}.diff",
        "patch_url": f"{WEB}/{full_name}/pull/{number}.patch",
        "issue_url": issue["url"],
        "number": number,
        "state": thread.state,
        "locked": thread.locked,
        "title": thread.title,
        "user": issue["user"],
        "body": thread.body,
        "labels": issue["labels"],
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
        "closed_at": thread.closed_at,
        "merged_at": thread.merged_at,
        "merge_commit_sha": thread.merge_commit_sha,
        "assignee": issue["assignee"],
        "assignees": issue["assignees"],
        "requested_reviewers": [user.simple for user in thread.requested_reviewers],
        "requested_teams": [],
        "draft": thread.draft,
        "head": part(thread.head_ref, thread.head_sha),
        "base": part(thread.base_ref, thread.base_sha),
        "author_association": issue["author_association"],
    }


def generate_tracker(
    repository: dict[str, Any],
    *,
    issues: int,
    pulls: int,
    seed: int,
    pool: list[User],
    window: tuple[int, int],
) -> Tracker:
    """`issues` issues and `pulls` pull requests, interleaved in one numbering by creation."""
    full_name = repository["full_name"]
    generator = random.Random(f"{seed}:{full_name}:tracker")
    tracker = new_tracker(repository)
    kinds = [False] * issues + [True] * pulls
    generator.shuffle(kinds)
    start, end = window[0] + HOUR, window[1] - DAY
    step = (end - start) / max(len(kinds), 1)
    people = pool[:-1]  # bots open pull requests, not issues
    for index, is_pull in enumerate(kinds):
        number = index + 1
        created = int(start + step * index + generator.random() * step / 2)
        updated = min(created + generator.randrange(30 * DAY), GENERATED_UNTIL - HOUR)
        closed = generator.random() < (0.65 if is_pull else 0.5)
        labels: list[str] = []
        if generator.random() < (0.1 if is_pull else 0.3):
            labels.append("bug")
            if not is_pull and generator.random() < 0.6:
                labels.append(generator.choice(SEVERITIES))
        elif generator.random() < 0.25:
            labels.append(generator.choice(("enhancement", "documentation")))
        assignees = generator.sample(people, generator.randrange(3))
        author = pool[generator.randrange(len(pool))] if is_pull else generator.choice(people)
        thread = Thread(
            number=number,
            is_pull=is_pull,
            title=f"{generator.choice(VERBS)} {generator.choice(NOUNS)} (#{number})",
            body=f"Body of {'pull request' if is_pull else 'issue'} {number}.",
            user=author,
            labels=labels,
            state="closed" if closed else "open",
            state_reason=None,
            assignees=assignees,
            comments=generator.randrange(13),
            created_at=iso(created),
            updated_at=iso(updated),
            closed_at=iso(updated) if closed else None,
        )
        if is_pull:
            thread.head_ref = f"feature/{number}-{generator.choice(NOUNS).replace(' ', '-')}"
            thread.head_sha = fake_sha(seed, full_name, "head", number)
            thread.base_sha = fake_sha(seed, full_name, "base", number)
            thread.merge_commit_sha = fake_sha(seed, full_name, "merge", number)
            if closed and generator.random() < 0.75:
                thread.merged_at = thread.closed_at
            if not closed:
                thread.draft = generator.random() < 0.2
                thread.requested_reviewers = generator.sample(people, generator.randrange(3))
        elif closed:
            thread.state_reason = "completed" if generator.random() < 0.8 else "not_planned"
        elif generator.random() < 0.1:
            thread.state_reason = "reopened"
        render(repository, tracker, thread)
        tracker.threads.append(thread)
    return tracker


@dataclass
class Repository:
    """One repository: its JSON, and its commits, issues and Actions runs once first read."""

    json: dict[str, Any]
    window: tuple[int, int]
    commits: CommitGraph | None = None
    tracker: Tracker | None = None
    actions: Actions | None = None

    @property
    def full_name(self) -> str:
        return self.json["full_name"]
