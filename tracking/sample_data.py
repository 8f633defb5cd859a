"""Loading the sample data that makes a new hub show something on first start."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tracking.models import (
    Bug,
    Build,
    ChatMessage,
    Commit,
    EngineeringHours,
    Identity,
    Issue,
    Person,
    Project,
    PullRequest,
    Repository,
    Sprint,
    slack_ts_to_datetime,
)

SAMPLE_DATA_PATH = Path(settings.BASE_DIR) / "fixtures" / "sample_data.json"


class SampleDataSkipped(Exception):
    """The hub already holds data: sample rows must never mix with (or overwrite) real ones."""


@transaction.atomic
def load_sample_data(path: Path = SAMPLE_DATA_PATH) -> dict[str, int]:
    if Project.objects.exists() or Bug.objects.exists():
        raise SampleDataSkipped("The hub already has projects or bugs; sample data not loaded.")
    data = json.loads(path.read_text(encoding="utf-8"))
    now = timezone.now()
    loader = _Loader(now)
    for section in (
        "people",
        "identities",
        "projects",
        "bugs",
        "hours",
        "repositories",
        "commits",
        "pull_requests",
        "sprints",
        "issues",
        "builds",
        "messages",
    ):
        for item in data.get(section, []):
            getattr(loader, f"add_{section}")(item)
    return loader.counts


class _Loader:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.counts: dict[str, int] = {}
        self.people: dict[str, Person] = {}
        self.identities: dict[str, Identity] = {}
        self.projects: dict[str, Project] = {}
        self.bugs: dict[str, Bug] = {}
        self.repositories: dict[str, Repository] = {}
        self.sprints: dict[str, Sprint] = {}

    def _count(self, section: str) -> None:
        self.counts[section] = self.counts.get(section, 0) + 1

    def _ago(self, hours: float) -> dt.datetime:
        return self.now - dt.timedelta(hours=hours)

    def _signed(self, instance: Any) -> Any:
        instance.sign()
        instance.save()
        return instance

    def add_people(self, item: dict) -> None:
        self.people[item["email"]] = Person.objects.create(name=item["name"], email=item["email"])
        self._count("people")

    def add_identities(self, item: dict) -> None:
        identity = Identity(
            source=item["source"],
            external_id=item["external_id"],
            username=item["username"],
            display_name=item["display_name"],
            email=item["email"],
            is_bot=item.get("is_bot", False),
            person=self.people.get(item["email"]),
        )
        self.identities[item["external_id"]] = self._signed(identity)
        self._count("identities")

    def add_projects(self, item: dict) -> None:
        project = Project(
            name=item["name"],
            description=item["description"],
            github_url=item["github_url"],
            jira_project_key=item["jira_project_key"],
            owner=self.people.get(item["owner"]),
            tags=item["tags"],
            status=item.get("status", "active"),
        )
        project.full_clean()
        project.save()
        self.projects[item["name"]] = project
        self._count("projects")

    def add_bugs(self, item: dict) -> None:
        bug = Bug(
            title=item["title"],
            severity=item["severity"],
            priority=item["priority"],
            status=item["status"],
            project=self.projects[item["project"]],
            assignee=self.people.get(item["assignee"] or ""),
            reporter=self.people.get(item["reporter"] or ""),
            sla_hours=item.get("sla_hours"),
            created_at=self._ago(item["created_hours_ago"]),
        )
        if "resolved_hours_ago" in item:
            bug.resolved_at = self._ago(item["resolved_hours_ago"])
        bug.full_clean(exclude=["number", "due_at"])
        bug.save()
        self.bugs[item["title"]] = bug
        self._count("bugs")

    def add_hours(self, item: dict) -> None:
        entry = EngineeringHours(
            person=self.people[item["person"]],
            bug=self.bugs.get(item.get("bug", "")),
            project=self.projects.get(item.get("project", "")),
            date=(self.now - dt.timedelta(days=item["days_ago"])).date(),
            hours=Decimal(item["hours"]),
            note=item["note"],
        )
        entry.full_clean()
        entry.save()
        self._count("hours")

    def add_repositories(self, item: dict) -> None:
        owner, name = item["full_name"].split("/")
        repository = Repository(
            external_id=item["external_id"],
            full_name=item["full_name"],
            owner=owner,
            name=name,
            html_url=f"https://github.com/{item['full_name']}",
            default_branch=item["default_branch"],
            project=self.projects.get(item["project"]),
        )
        self.repositories[item["full_name"]] = self._signed(repository)
        self._count("repositories")

    def add_commits(self, item: dict) -> None:
        repository = self.repositories[item["repository"]]
        author = self.identities[item["author"]]
        self._signed(
            Commit(
                external_id=f"{repository.external_id}:{item['sha']}",
                repository=repository,
                sha=item["sha"],
                branches=item["branches"],
                message=item["message"],
                author=author,
                author_name=author.display_name,
                author_email=author.email,
                committer=author,
                committer_name=author.display_name,
                committer_email=author.email,
                authored_at=self._ago(item["hours_ago"]),
                committed_at=self._ago(item["hours_ago"]),
                additions=item["additions"],
                deletions=item["deletions"],
            )
        )
        self._count("commits")

    def add_pull_requests(self, item: dict) -> None:
        updated = self._ago(item["hours_ago"])
        self._signed(
            PullRequest(
                external_id=item["external_id"],
                repository=self.repositories[item["repository"]],
                number=item["number"],
                title=item["title"],
                state=item["state"],
                original_state="closed" if item["state"] == "merged" else item["state"],
                author=self.identities[item["author"]],
                head_ref=item["head_ref"],
                base_ref=item["base_ref"],
                created_at=updated - dt.timedelta(days=1),
                updated_at=updated,
                merged_at=updated if item["state"] == "merged" else None,
                closed_at=updated if item["state"] == "merged" else None,
            )
        )
        self._count("pull_requests")

    def add_sprints(self, item: dict) -> None:
        sprint = Sprint(
            external_id=item["external_id"],
            board_id=item["board_id"],
            origin_board_id=item["board_id"],
            name=item["name"],
            state=item["state"],
            original_state=item["state"],
            goal=item["goal"],
            start_at=self.now - dt.timedelta(days=item["start_days_ago"]),
            end_at=self.now + dt.timedelta(days=item["end_days_from_now"]),
        )
        self.sprints[item["external_id"]] = self._signed(sprint)
        self._count("sprints")

    def add_issues(self, item: dict) -> None:
        updated = self._ago(item["hours_ago"])
        issue = self._signed(
            Issue(
                source=item["source"],
                external_id=item["external_id"],
                key=item["key"],
                upstream_project=item["upstream_project"],
                project=self.projects.get(item["project"]),
                title=item["title"],
                issue_type=item["issue_type"],
                original_type=item["original_type"],
                status=item["status"],
                original_status=item["original_status"],
                priority=item["priority"],
                story_points=Decimal(item["story_points"]),
                assignee=self.identities.get(item["assignee"] or ""),
                labels=item["labels"],
                created_at=updated - dt.timedelta(days=2),
                updated_at=updated,
            )
        )
        issue.sprints.add(self.sprints[item["sprint"]])
        self._count("issues")

    def add_builds(self, item: dict) -> None:
        started = self._ago(item["hours_ago"])
        build = Build(
            external_id=f"{item['run_id']}:{item['run_attempt']}",
            repository=self.repositories[item["repository"]],
            run_id=item["run_id"],
            run_attempt=item["run_attempt"],
            run_number=item["run_number"],
            workflow_name=item["workflow_name"],
            head_sha=item["head_sha"],
            branch=item["branch"],
            event=item["event"],
            status=item["status"],
            original_status=item["status"],
            conclusion=item["conclusion"],
            actor=self.identities[item["actor"]],
            created_at=started,
            started_at=started,
            updated_at=started + dt.timedelta(minutes=item["minutes"]),
            finished_at=started + dt.timedelta(minutes=item["minutes"]),
        )
        build.refresh_derived_fields()
        self._signed(build)
        self._count("builds")

    def add_messages(self, item: dict) -> None:
        posted = self._ago(item["hours_ago"])
        ts = f"{int(posted.timestamp())}.{posted.microsecond:06d}"
        self._signed(
            ChatMessage(
                external_id=ChatMessage.natural_key_for(item["channel_id"], ts),
                channel_id=item["channel_id"],
                channel_name=item["channel_name"],
                ts=ts,
                user=self.identities[item["user"]],
                kind=item["kind"],
                subtype=item.get("subtype", ""),
                text=item["text"],
                posted_at=slack_ts_to_datetime(ts),
            )
        )
        self._count("messages")
