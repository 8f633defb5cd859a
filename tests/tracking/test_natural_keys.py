"""Every ingested row has a natural key that is unique per source in the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.tracking import factories
from tracking.models import Bug, EngineeringHours, Project

pytestmark = pytest.mark.django_db

# (builder, its source, another source the same model accepts)
INGESTED_MODELS: list[tuple[Callable[..., Any], str, str]] = [
    (factories.make_identity, "github", "slack"),
    (factories.make_repository, "github", "manual"),
    (factories.make_commit, "github", "csv"),
    (factories.make_pull_request, "github", "manual"),
    (factories.make_build, "github_actions", "github"),
    (factories.make_issue, "jira", "github"),
    (factories.make_sprint, "jira", "manual"),
    (factories.make_chat_message, "slack", "manual"),
    (factories.make_project, "manual", "csv"),
    (factories.make_bug, "jira", "github"),
    (factories.make_hours, "csv", "manual"),
]
MODEL_IDS = [builder.__name__.removeprefix("make_") for builder, _, _ in INGESTED_MODELS]


@pytest.mark.parametrize(("build", "source", "other_source"), INGESTED_MODELS, ids=MODEL_IDS)
def test_duplicate_natural_key_in_one_source_is_refused_by_the_database(
    build, source, other_source
):
    build(source=source, external_id="X-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        build(source=source, external_id="X-1")


@pytest.mark.parametrize(("build", "source", "other_source"), INGESTED_MODELS, ids=MODEL_IDS)
def test_same_external_id_is_allowed_in_another_source(build, source, other_source):
    first = build(source=source, external_id="X-1")

    build(source=other_source, external_id="X-1")

    stored = type(first).objects.filter(external_id="X-1").values_list("source", flat=True)
    assert sorted(stored) == sorted([source, other_source])


@pytest.mark.parametrize(
    "build",
    [factories.make_bug, factories.make_project, factories.make_hours],
    ids=["bug", "project", "hours"],
)
def test_rows_entered_by_hand_may_all_have_no_external_id(build):
    rows = [build(source="manual", external_id="") for _ in range(3)]

    assert type(rows[0]).objects.filter(source="manual", external_id="").count() == 3


@pytest.mark.parametrize(
    ("model", "build", "fields"),
    [
        (Bug, factories.make_bug, {"title": "Crash"}),
        (Project, factories.make_project, {"name": "Other project"}),
    ],
    ids=["bug", "project"],
)
def test_full_clean_names_a_duplicate_natural_key_in_words(model, build, fields):
    build(source="csv", external_id="row-7")
    duplicate = model(source="csv", external_id="row-7", **fields)

    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()

    assert "A row with this source and external id already exists." in error.value.messages


def test_full_clean_names_a_duplicate_natural_key_of_hours_in_words():
    existing = factories.make_hours(source="csv", external_id="row-7")
    duplicate = EngineeringHours(
        source="csv",
        external_id="row-7",
        person=existing.person,
        project=existing.project,
        hours=1,
    )

    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()

    assert "A row with this source and external id already exists." in error.value.messages
