"""GitHub payloads → normalized rows. Pure: no database, no HTTP.

Shared by the polling streams and the webhook handlers, so a record written by
either path is the same row. Records of scoped streams carry a `_hub` block the
stream adds when it fetches them (`hub_context`): the repository's id and name,
and for commits the branch they were listed on; GitHub's commit and issue
payloads do not say which repository they belong to.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from ingestion.errors import RecordRejected
from ingestion.parsing import parse_time
from ingestion.streams import IdentityRef, Ref, Row
from tracking.choices import (
    BugSource,
    BugStatus,
    IssueType,
    PullRequestState,
    Severity,
    Source,
    WorkStatus,
)
from tracking.github_urls import normalize_github_url
from tracking.models import Bug, Commit, Issue, Project, PullRequest, Repository

SOURCE = Source.GITHUB
HUB_KEY = "_hub"

# "severity: high", "sev-2", "S1", "P0", "priority/critical", "critical" …
_SEVERITY_LABEL = re.compile(
    r"^(?:(?:severity|sev|priority|prio)\s*[:/=_ -]?\s*)?(?P<level>[a-z]+|[sp]?[0-4])$"
)
_SEVERITY_WORDS = {
    Severity.CRITICAL: {"critical", "blocker", "urgent", "sev0", "sev1", "s0", "s1", "p0", "0"}
    | {"1"},
    Severity.HIGH: {"high", "major", "sev2", "s2", "p1", "2"},
    Severity.MEDIUM: {"medium", "moderate", "normal", "sev3", "s3", "p2", "3"},
    Severity.LOW: {"low", "minor", "trivial", "sev4", "s4", "p3", "p4", "4"},
}
# A bare digit or word counts only under a severity/priority prefix.
_BARE_ALLOWED = {"critical", "blocker"}


def hub_context(repository_id: str, full_name: str, **extra: Any) -> dict[str, Any]:
    return {"repository_id": str(repository_id), "repository": full_name, **extra}


def with_context(record: Any, context: dict[str, Any]) -> Any:
    """The record as GitHub sent it, plus what the request that fetched it implied.

    Anything but an object is passed on as it is: the harness rejects it, with the reason.
    """
    if not isinstance(record, dict):
        return record
    return {**record, HUB_KEY: context}


def _hub(record: dict[str, Any]) -> dict[str, Any]:
    context = record.get(HUB_KEY)
    if not isinstance(context, dict) or not context.get("repository_id"):
        raise RecordRejected("the record has no repository context (_hub.repository_id)")
    return context


def _text(record: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = record.get(name)
    if value is None:
        if required:
            raise RecordRejected(f"{name} is missing")
        return ""
    if not isinstance(value, str | int):
        raise RecordRejected(f"{name} must be text, not {type(value).__name__}")
    return str(value)


def _number(record: dict[str, Any], name: str) -> int:
    value = record.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordRejected(f"{name} must be an integer, not {value!r}")
    return value


def user_ref(user: Any, *, email: str = "") -> IdentityRef | None:
    """A GitHub account → its Identity, by the account's numeric id (logins can change)."""
    if user is None:
        return None
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise RecordRejected(f"a user must be an object with a numeric id, not {user!r}")
    return IdentityRef(
        source=SOURCE,
        external_id=str(user["id"]),
        username=str(user.get("login") or ""),
        display_name=str(user.get("name") or ""),
        email=str(user.get("email") or email or ""),
        is_bot=user.get("type") == "Bot",
    )


def git_person_ref(user: Any, person: Any) -> IdentityRef | None:
    """A commit's author or committer: the GitHub account when GitHub knows it, else the
    name and email the commit carries (one identity per email)."""
    details = person if isinstance(person, dict) else {}
    email = str(details.get("email") or "").strip()
    name = str(details.get("name") or "").strip()
    if user:
        return user_ref(user, email=email)
    if email:
        return IdentityRef(
            source=SOURCE, external_id=f"email:{email.lower()}", display_name=name, email=email
        )
    if name:
        return IdentityRef(source=SOURCE, external_id=f"name:{name}", display_name=name)
    return None


def project_ref(repository_html_url: str) -> Ref | None:
    """The Project with this repository's GitHub URL, if anyone entered one."""
    try:
        url = normalize_github_url(repository_html_url)
    except ValidationError:
        return None
    if not url:
        return None
    return Ref(Project, "", url, by="github_url", required=False)


def repository_ref(record: dict[str, Any]) -> Ref:
    return Ref(Repository, SOURCE, _hub(record)["repository_id"])


def label_names(labels: Any) -> list[str]:
    if not isinstance(labels, list):
        return []
    names = []
    for label in labels:
        name = label.get("name") if isinstance(label, dict) else label
        if isinstance(name, str) and name:
            names.append(name)
    return names


def severity_from_labels(labels: Iterable[str]) -> Severity | None:
    """The severity a label names, e.g. "severity: high", "sev1", "P0", "critical"."""
    for label in labels:
        lowered = label.strip().lower()
        match = _SEVERITY_LABEL.match(lowered)
        if match is None:
            continue
        level = match.group("level")
        prefixed = lowered != level
        if not prefixed and level not in _BARE_ALLOWED:
            continue
        for severity, words in _SEVERITY_WORDS.items():
            if level in words:
                return severity
    return None


def is_bug(labels: Iterable[str]) -> bool:
    wanted = {label.strip().lower() for label in settings.GITHUB_BUG_LABELS}
    return any(label.strip().lower() in wanted for label in labels)


# --- repositories ---------------------------------------------------------------------------


def repository_key(record: dict[str, Any]) -> str:
    return str(_number(record, "id"))


def repository_rows(record: dict[str, Any]) -> list[Row]:
    full_name = _text(record, "full_name", required=True)
    owner, _, name = full_name.partition("/")
    html_url = _text(record, "html_url")
    return [
        Row(
            Repository,
            {
                "external_id": repository_key(record),
                "full_name": full_name,
                "owner": owner,
                "name": _text(record, "name") or name,
                "html_url": html_url,
                "description": _text(record, "description"),
                "default_branch": _text(record, "default_branch"),
                "is_private": bool(record.get("private")),
                "is_fork": bool(record.get("fork")),
                "is_archived": bool(record.get("archived")),
                "project": project_ref(html_url),
                "created_at": parse_time(record.get("created_at"), "created_at", required=False),
                "updated_at": parse_time(record.get("updated_at"), "updated_at", required=False),
                "pushed_at": parse_time(record.get("pushed_at"), "pushed_at", required=False),
            },
        )
    ]


# --- commits --------------------------------------------------------------------------------


def commit_key(record: dict[str, Any]) -> str:
    """(repository, SHA): the same commit in a fork is another row, on two branches one."""
    sha = _text(record, "sha", required=True)
    return f"{_hub(record)['repository_id']}:{sha}"


def commit_time(record: dict[str, Any]) -> dt.datetime | None:
    commit = record.get("commit")
    committer = commit.get("committer") if isinstance(commit, dict) else None
    if not isinstance(committer, dict):
        raise RecordRejected("commit.committer is missing")
    return parse_time(committer.get("date"), "commit.committer.date")


def commit_rows(record: dict[str, Any]) -> list[Row]:
    commit = record.get("commit")
    if not isinstance(commit, dict):
        raise RecordRejected("commit is missing")
    author = commit.get("author") if isinstance(commit.get("author"), dict) else {}
    committer = commit.get("committer") if isinstance(commit.get("committer"), dict) else {}
    branch = _hub(record).get("branch")
    return [
        Row(
            Commit,
            {
                "external_id": commit_key(record),
                "repository": repository_ref(record),
                "sha": _text(record, "sha", required=True),
                "branches": [branch] if branch else [],
                "message": str(commit.get("message") or ""),
                "author": git_person_ref(record.get("author"), author),
                "author_name": str(author.get("name") or "")[:200],
                "author_email": str(author.get("email") or "")[:254],
                "committer": git_person_ref(record.get("committer"), committer),
                "committer_name": str(committer.get("name") or "")[:200],
                "committer_email": str(committer.get("email") or "")[:254],
                "authored_at": parse_time(author.get("date"), "commit.author.date", required=False),
                "committed_at": commit_time(record),
                "url": _text(record, "html_url"),
            },
        )
    ]


# --- issues ---------------------------------------------------------------------------------


def node_key(record: dict[str, Any]) -> str:
    return _text(record, "node_id", required=True)


def change_time(record: dict[str, Any]) -> dt.datetime | None:
    return parse_time(record.get("updated_at"), "updated_at")


def _repository_html_url(record: dict[str, Any], marker: str) -> str:
    """https://github.com/o/r from an item's html_url (…/o/r/issues/12)."""
    html_url = _text(record, "html_url")
    return html_url.rsplit(marker, 1)[0] if marker in html_url else ""


def _issue_status(state: str) -> WorkStatus:
    return WorkStatus.DONE if state == "closed" else WorkStatus.TODO


def _bug_status(state: str, state_reason: str) -> BugStatus:
    if state != "closed":
        return BugStatus.OPEN
    return BugStatus.WONT_FIX if state_reason == "not_planned" else BugStatus.RESOLVED


def issue_rows(record: dict[str, Any]) -> list[Row]:
    """An issue, and a Bug too when it carries one of GITHUB_BUG_LABELS."""
    context = _hub(record)
    number = _number(record, "number")
    state = _text(record, "state", required=True)
    state_reason = _text(record, "state_reason")
    labels = label_names(record.get("labels"))
    bug = is_bug(labels)
    reporter = user_ref(record.get("user"))
    assignee = user_ref(record.get("assignee"))
    created_at = parse_time(record.get("created_at"), "created_at")
    closed_at = parse_time(record.get("closed_at"), "closed_at", required=False)
    project = project_ref(_repository_html_url(record, "/issues/"))
    title = _text(record, "title", required=True)
    body = _text(record, "body")
    url = _text(record, "html_url")
    rows = [
        Row(
            Issue,
            {
                "external_id": node_key(record),
                "key": f"{context['repository']}#{number}",
                "number": number,
                "repository": repository_ref(record),
                "project": project,
                "upstream_project": context["repository"],
                "title": title,
                "description": body,
                "issue_type": IssueType.BUG if bug else IssueType.TASK,
                "original_type": "issue",
                "status": _issue_status(state),
                "original_status": f"{state}:{state_reason}" if state_reason else state,
                "labels": labels,
                "assignee": assignee,
                "reporter": reporter,
                "url": url,
                "created_at": created_at,
                "updated_at": change_time(record),
                "resolved_at": closed_at,
            },
        )
    ]
    deleted_at = context.get("deleted_at")
    if deleted_at:
        # Set only by a webhook saying the issue was deleted or moved away: a record
        # without it never clears the mark.
        rows[0].fields["deleted_at"] = parse_time(deleted_at, "_hub.deleted_at")
    if bug:
        status = _bug_status(state, state_reason)
        rows.append(
            Row(
                Bug,
                {
                    "external_id": node_key(record),
                    "source": BugSource.GITHUB,
                    "title": title,
                    "description": body,
                    "severity": severity_from_labels(labels) or Severity.MEDIUM,
                    "status": status,
                    "original_status": state,
                    "project": project,
                    "assignee_identity": assignee,
                    "reporter_identity": reporter,
                    "url": url,
                    "created_at": created_at,
                    "resolved_at": closed_at if status != BugStatus.OPEN else None,
                },
            )
        )
    return rows


# --- pull requests --------------------------------------------------------------------------


def _ref_part(record: dict[str, Any], side: str, name: str) -> str:
    part = record.get(side)
    return str(part.get(name) or "") if isinstance(part, dict) else ""


def pull_request_rows(record: dict[str, Any]) -> list[Row]:
    state = _text(record, "state", required=True)
    merged_at = parse_time(record.get("merged_at"), "merged_at", required=False)
    if merged_at is not None:
        normalized_state = PullRequestState.MERGED
    elif state == "closed":
        normalized_state = PullRequestState.CLOSED
    else:
        normalized_state = PullRequestState.OPEN
    reviewers = [
        str(user.get("login"))
        for user in record.get("requested_reviewers") or []
        if isinstance(user, dict) and user.get("login")
    ]
    reviewers += [
        f"team:{team.get('slug')}"
        for team in record.get("requested_teams") or []
        if isinstance(team, dict) and team.get("slug")
    ]
    return [
        Row(
            PullRequest,
            {
                "external_id": node_key(record),
                "repository": repository_ref(record),
                "number": _number(record, "number"),
                "title": _text(record, "title", required=True),
                "body": _text(record, "body"),
                "state": normalized_state,
                "original_state": state,
                "is_draft": bool(record.get("draft")),
                "author": user_ref(record.get("user")),
                "head_ref": _ref_part(record, "head", "ref"),
                "base_ref": _ref_part(record, "base", "ref"),
                "head_sha": _ref_part(record, "head", "sha"),
                "merge_commit_sha": _text(record, "merge_commit_sha"),
                "requested_reviewers": reviewers,
                "labels": label_names(record.get("labels")),
                "url": _text(record, "html_url"),
                "created_at": parse_time(record.get("created_at"), "created_at"),
                "updated_at": change_time(record),
                "closed_at": parse_time(record.get("closed_at"), "closed_at", required=False),
                "merged_at": merged_at,
            },
        )
    ]
