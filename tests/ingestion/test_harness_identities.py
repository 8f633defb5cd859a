"""Identities named by records: created once, linked to the Person with the same email."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingestion.harness import run_sync
from tests.ingestion.memory_streams import (
    AUTHOR_POOL,
    commit_record,
)
from tracking.models import Commit, Identity, Person

pytestmark = pytest.mark.django_db


def test_each_author_becomes_one_identity(three_repositories, commits):
    commits.records = [commit_record(n, repositories=3) for n in range(2500)]

    run_sync(commits)

    assert Identity.objects.filter(source="test").count() == AUTHOR_POOL
    author = Commit.objects.get(external_id=f"{7:040x}").author
    assert (author.external_id, author.username) == ("u7", "dev7")


def test_new_identity_is_linked_to_the_person_with_the_same_email(three_repositories, commits):
    alice = Person.objects.create(name="Alice", email="Dev7@Acme.test")
    commits.records = [commit_record(7, repositories=3)]

    run_sync(commits)

    assert Identity.objects.get(external_id="u7").person == alice


def test_a_person_is_created_for_an_unknown_email(three_repositories, commits):
    commits.records = [commit_record(8, repositories=3)]

    run_sync(commits)

    person = Identity.objects.get(external_id="u8").person
    assert (person.name, person.email) == ("dev8", "dev8@acme.test")


def test_identities_are_resolved_with_a_bounded_number_of_queries_per_page(
    three_repositories, commits
):
    commits.records = [commit_record(n, repositories=3) for n in range(1000)]
    run_sync(commits)
    commits.records = [commit_record(n, repositories=3) for n in range(1000, 2000)]

    with CaptureQueriesContext(connection) as queries:
        run_sync(commits)

    identity_queries = [q for q in queries if "tracking_identity" in q["sql"]]
    assert len(identity_queries) == 1
