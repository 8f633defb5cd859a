"""The fetch API's registry: which entities there are and how each one is listed.

Every entity names the model, the sources it may come from, its own time (what
`since`/`until` compare and what pages are ordered by), its change time (what
`changed_since` compares and orders by), its filters and its serializer.

Times, by entity (each one is the first column of an index on (time, id)):
- users and repositories: `last_seen_at`, when the hub last stored a change.
- people, projects, bugs, pull requests, issues: `updated_at`. For hours too:
  `date` is a day, not a time, and cannot order a page stably with the id.
- commits `committed_at`, builds `created_at`, messages `posted_at` (the ts as a
  time), sprints `start_at`, audit `created_at`.
Change time: `last_seen_at` on every row with provenance, else `updated_at`
(people) or `created_at` (audit entries are never changed).

Sprints not started have no start time: they are left out when a listing is
ordered by the entity time, and appear with `changed_since` (never empty).

Sources: the model's `source` choices are wider than what really arrives (most
models share the one Source list), so each entity lists the sources that write
it; a test checks each list stays inside the field's choices.
"""

from __future__ import annotations

from dataclasses import dataclass

import django_filters as filters
from django.db import models
from rest_framework import serializers

from tracking.api import filters as fetch_filters
from tracking.api import serializers as fetch_serializers
from tracking.models import Sprint

ALL_SOURCES = "all"

# The parameters every entity takes; each entity adds its filters.
PAGING_PARAMETERS = ("since", "until", "changed_since", "limit", "cursor")


@dataclass(frozen=True)
class FetchEntity:
    name: str
    serializer: type[serializers.ModelSerializer]
    sources: tuple[str, ...]
    time_field: str
    # Every row with provenance has it; people and audit entries name theirs.
    change_field: str = "last_seen_at"
    filterset: type[filters.FilterSet] = fetch_filters.NoFilters
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str | models.Prefetch, ...] = ()

    @property
    def model(self) -> type[models.Model]:
        """The serializer's model: the one place that names it."""
        return self.serializer.Meta.model

    @property
    def valid_sources(self) -> tuple[str, ...]:
        return (ALL_SOURCES, *self.sources)

    @property
    def accepted_parameters(self) -> tuple[str, ...]:
        return (*PAGING_PARAMETERS, *self.filterset.base_filters)

    @property
    def time_can_be_null(self) -> bool:
        return self.model._meta.get_field(self.time_field).null

    def queryset(self, source: str) -> models.QuerySet:
        """The entity's rows from `source` ("all" for every source), unordered, unfiltered."""
        queryset = self.model._default_manager.all()
        if source != ALL_SOURCES:
            queryset = queryset.filter(source=source)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        if self.prefetch_related:
            queryset = queryset.prefetch_related(*self.prefetch_related)
        return queryset


ENTITIES: dict[str, FetchEntity] = {
    entity.name: entity
    for entity in (
        FetchEntity(
            name="users",
            sources=("github", "jira", "slack", "manual"),
            time_field="last_seen_at",
            serializer=fetch_serializers.IdentitySerializer,
            filterset=fetch_filters.IdentityFilters,
        ),
        FetchEntity(
            name="people",
            sources=(),
            time_field="updated_at",
            change_field="updated_at",
            serializer=fetch_serializers.PersonSerializer,
        ),
        FetchEntity(
            name="projects",
            sources=("manual", "csv"),
            time_field="updated_at",
            serializer=fetch_serializers.ProjectSerializer,
            filterset=fetch_filters.ProjectFilters,
        ),
        FetchEntity(
            name="repositories",
            sources=("github",),
            time_field="last_seen_at",
            serializer=fetch_serializers.RepositorySerializer,
            filterset=fetch_filters.RepositoryFilters,
        ),
        FetchEntity(
            name="commits",
            sources=("github",),
            time_field="committed_at",
            serializer=fetch_serializers.CommitSerializer,
            filterset=fetch_filters.CommitFilters,
        ),
        FetchEntity(
            name="pull_requests",
            sources=("github",),
            time_field="updated_at",
            serializer=fetch_serializers.PullRequestSerializer,
            filterset=fetch_filters.PullRequestFilters,
        ),
        FetchEntity(
            name="issues",
            sources=("github", "jira"),
            time_field="updated_at",
            serializer=fetch_serializers.IssueSerializer,
            filterset=fetch_filters.IssueFilters,
            # Only the sprint ids are shown: one query for the whole page.
            prefetch_related=(models.Prefetch("sprints", queryset=Sprint.objects.only("id")),),
        ),
        FetchEntity(
            name="bugs",
            sources=("manual", "csv", "github", "jira"),
            time_field="updated_at",
            serializer=fetch_serializers.BugSerializer,
            filterset=fetch_filters.BugFilters,
        ),
        FetchEntity(
            name="sprints",
            sources=("jira",),
            time_field="start_at",
            serializer=fetch_serializers.SprintSerializer,
            filterset=fetch_filters.SprintFilters,
        ),
        FetchEntity(
            name="builds",
            sources=("github_actions",),
            time_field="created_at",
            serializer=fetch_serializers.BuildSerializer,
            filterset=fetch_filters.BuildFilters,
        ),
        FetchEntity(
            name="messages",
            sources=("slack",),
            time_field="posted_at",
            serializer=fetch_serializers.ChatMessageSerializer,
            filterset=fetch_filters.ChatMessageFilters,
        ),
        FetchEntity(
            name="hours",
            sources=("manual", "csv"),
            time_field="updated_at",
            serializer=fetch_serializers.EngineeringHoursSerializer,
            filterset=fetch_filters.EngineeringHoursFilters,
        ),
        FetchEntity(
            name="audit",
            sources=(),
            time_field="created_at",
            change_field="created_at",
            serializer=fetch_serializers.AuditLogSerializer,
            select_related=("content_type",),
        ),
    )
}


class UnknownFetchPair(LookupError):
    """No such (source, entity) pair."""


def valid_pairs() -> dict[str, list[str]]:
    """Each entity with the sources it can be fetched from, for error messages."""
    return {name: list(entity.valid_sources) for name, entity in ENTITIES.items()}


def get_fetch_entity(source: str, entity: str) -> FetchEntity:
    """The entity, if `source` is one it can be fetched from; else UnknownFetchPair."""
    found = ENTITIES.get(entity)
    if found is None or source not in found.valid_sources:
        raise UnknownFetchPair(f"{source}/{entity}")
    return found
