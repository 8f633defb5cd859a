"""The fetch API's filters, one django-filter FilterSet per entity.

django-filter validates each value with a form field before any query runs, and
its errors are keyed by parameter, so a bad value answers 400 naming the parameter
and the form it expects. `person` means a Person id everywhere: on entities that
link to an account (an Identity) it follows the account to its person.
"""

from __future__ import annotations

import re

import django_filters as filters
from django import forms
from django.db import models

from tracking.choices import (
    BugStatus,
    BuildStatus,
    ProjectStatus,
    PullRequestState,
    SprintState,
    WorkStatus,
)


class IdFilter(filters.Filter):
    """A positive whole number compared with a foreign key (or a path to one)."""

    field_class = forms.IntegerField

    def __init__(self, field_name: str, what: str) -> None:
        message = f"Expected {what} id: a whole number, 1 or more."
        super().__init__(
            field_name=field_name,
            min_value=1,
            error_messages={"invalid": message, "min_value": message},
        )


def choice_filter(field_name: str, choices: type[models.TextChoices]) -> filters.ChoiceFilter:
    message = "Expected one of: " + ", ".join(choices.values) + "."
    return filters.ChoiceFilter(
        field_name=field_name,
        choices=choices.choices,
        error_messages={"invalid_choice": message},
    )


# GitHub owners and names: letters, digits, "-", "_" and ".", one slash between them.
# Anchored: RegexField searches rather than matches.
_REPOSITORY_NAME = re.compile(r"\A(?:[0-9]+|[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)\Z")


class RepositoryFilter(filters.CharFilter):
    """A repository id ("42") or its owner/name ("acme/api", compared exactly)."""

    field_class = forms.RegexField

    def __init__(self) -> None:
        super().__init__(
            field_name="repository",
            regex=_REPOSITORY_NAME,
            error_messages={"invalid": "Expected a repository id or owner/name (acme/api)."},
        )

    def filter(self, queryset: models.QuerySet, value: str) -> models.QuerySet:
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(repository_id=int(value))
        # An exact match on the indexed full_name; GitHub canonicalizes its case.
        return queryset.filter(repository__full_name=value)


class NoFilters(filters.FilterSet):
    pass


class IdentityFilters(filters.FilterSet):
    person = IdFilter("person", "a person")


class ProjectFilters(filters.FilterSet):
    status = choice_filter("status", ProjectStatus)
    person = IdFilter("owner", "a person")


class RepositoryFilters(filters.FilterSet):
    project = IdFilter("project", "a project")


class CommitFilters(filters.FilterSet):
    repository = RepositoryFilter()
    person = IdFilter("author__person", "a person")


class PullRequestFilters(filters.FilterSet):
    repository = RepositoryFilter()
    state = choice_filter("state", PullRequestState)
    person = IdFilter("author__person", "a person")


class IssueFilters(filters.FilterSet):
    project = IdFilter("project", "a project")
    repository = RepositoryFilter()
    status = choice_filter("status", WorkStatus)
    person = IdFilter("assignee__person", "a person")


class BugFilters(filters.FilterSet):
    project = IdFilter("project", "a project")
    status = choice_filter("status", BugStatus)
    person = IdFilter("assignee", "a person")


class SprintFilters(filters.FilterSet):
    state = choice_filter("state", SprintState)


class BuildFilters(filters.FilterSet):
    repository = RepositoryFilter()
    status = choice_filter("status", BuildStatus)
    person = IdFilter("actor__person", "a person")


class ChatMessageFilters(filters.FilterSet):
    person = IdFilter("user__person", "a person")


class EngineeringHoursFilters(filters.FilterSet):
    project = IdFilter("project", "a project")
    person = IdFilter("person", "a person")
