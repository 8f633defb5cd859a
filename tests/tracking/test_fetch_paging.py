"""Keyset paging of the fetch API: every row once, in (time, id) order, whatever is
inserted meanwhile, at a cost that does not grow with the data."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tracking.factories import (
    make_bug,
    make_build,
    make_chat_message,
    make_commit,
    make_hours,
    make_identity,
    make_issue,
    make_person,
    make_project,
    make_pull_request,
    make_repository,
    make_sprint,
)
from tracking.api.fetch import ENTITIES
from tracking.models import AuditLog, Commit, Issue

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def fetch(client, source: str, entity: str, **params):
    return client.get(f"/api/fetch/{source}/{entity}", params)


def add_commits(repository, times: list[dt.datetime], prefix: str = "c") -> list[Commit]:
    commits = [
        Commit(
            repository=repository,
            sha=f"{prefix}{index:039d}",
            external_id=f"{repository.full_name}@{prefix}{index}",
            committed_at=time,
        )
        for index, time in enumerate(times)
    ]
    Commit.objects.bulk_create(commits)
    return list(Commit.objects.filter(external_id__startswith=f"{repository.full_name}@{prefix}"))


def in_time_order(commits: list[Commit]) -> list[int]:
    return [commit.pk for commit in sorted(commits, key=lambda c: (c.committed_at, c.pk))]


def read_pages(
    client, source: str = "all", entity: str = "commits", between_pages=None, **params
) -> list[list[dict]]:
    """The items of every page of a listing, page by page, following next_cursor;
    `between_pages(last_item)` runs after each page but the last."""
    pages, cursor = [], None
    while True:
        response = fetch(client, source, entity, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.json()
        body = response.json()
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        if between_pages:
            between_pages(body["data"][-1])


def ids_of(pages: list[list[dict]]) -> list[int]:
    return [item["id"] for page in pages for item in page]


def test_250_rows_in_pages_of_100_come_each_once_in_time_then_id_order(staff_client):
    # Three rows share each time, so pages also break ties by id.
    commits = add_commits(
        make_repository(), [T0 + dt.timedelta(minutes=i // 3) for i in range(250)]
    )

    pages = read_pages(staff_client, limit=100)

    assert [len(page) for page in pages] == [100, 100, 50]
    assert ids_of(pages) == in_time_order(commits)


def test_a_listing_of_exactly_one_page_has_no_next_cursor(staff_client):
    add_commits(make_repository(), [T0 + dt.timedelta(minutes=i) for i in range(100)])

    body = fetch(staff_client, "all", "commits", limit=100).json()

    assert len(body["data"]) == 100
    assert body["next_cursor"] is None


def test_the_default_page_holds_100_rows(staff_client):
    add_commits(make_repository(), [T0 + dt.timedelta(minutes=i) for i in range(101)])

    body = fetch(staff_client, "all", "commits").json()

    assert len(body["data"]) == 100
    assert body["next_cursor"] is not None


def test_rows_inserted_between_pages_never_make_an_original_row_skipped_or_repeated(
    staff_client,
):
    repository = make_repository()
    originals = add_commits(repository, [T0 + dt.timedelta(minutes=i // 2) for i in range(250)])
    original_ids = set(in_time_order(originals))
    inserted = []

    def ingest_meanwhile(last_item: dict) -> None:
        cursor_time = dt.datetime.fromisoformat(last_item["committed_at"])
        # Older than every row, just older than the cursor, at its very time (with a
        # higher id), and newer than every row.
        times = [
            T0 - dt.timedelta(days=1),
            cursor_time - dt.timedelta(microseconds=1),
            cursor_time,
            T0 + dt.timedelta(days=1),
        ]
        inserted.extend(add_commits(repository, times, prefix=f"new{len(inserted)}-"))

    pages = read_pages(staff_client, limit=100, between_pages=ingest_meanwhile)

    items = [item for page in pages for item in page]
    ids = ids_of(pages)
    assert len(ids) == len(set(ids)), "no row is repeated"
    assert [i for i in ids if i in original_ids] == in_time_order(originals)
    assert len(inserted) == 8
    # What the listing shows is in (time, id) order as well.
    shown = [(dt.datetime.fromisoformat(item["committed_at"]), item["id"]) for item in items]
    assert shown == sorted(shown)


def test_the_limit_may_change_between_pages(staff_client):
    commits = add_commits(make_repository(), [T0 + dt.timedelta(minutes=i) for i in range(30)])
    first = fetch(staff_client, "all", "commits", limit=10).json()

    second = fetch(staff_client, "all", "commits", limit=20, cursor=first["next_cursor"]).json()

    assert [item["id"] for item in first["data"] + second["data"]] == in_time_order(commits)
    assert second["next_cursor"] is None


def test_sprints_not_started_are_left_out_of_time_order_and_listed_by_changed_since(staff_client):
    started = make_sprint(start_at=T0)
    future = make_sprint(start_at=None)

    by_start = fetch(staff_client, "jira", "sprints").json()["data"]
    by_change = fetch(staff_client, "jira", "sprints", changed_since="2000-01-01T00:00:00Z").json()[
        "data"
    ]

    assert [item["id"] for item in by_start] == [started.pk]
    assert {item["id"] for item in by_change} == {started.pk, future.pk}


def test_pages_by_change_time_hand_on_to_each_other(staff_client):
    repository = make_repository()
    commits = [
        make_commit(repository=repository, last_seen_at=T0 + (5 - n) * dt.timedelta(hours=1))
        for n in range(5)
    ]

    pages = read_pages(
        staff_client, "github", "commits", changed_since="2024-01-01T00:00:00Z", limit=2
    )

    assert ids_of(pages) == [commit.pk for commit in reversed(commits)]


# --- cost: no OFFSET, no COUNT, a row comparison, and a constant number of queries ---------


def two_rows_of_every_entity() -> None:
    for build in (
        make_identity,
        make_person,
        make_project,
        make_repository,
        make_commit,
        make_pull_request,
        make_issue,
        make_bug,
        make_build,
        make_chat_message,
        make_hours,
    ):
        build()
        build()
    for _ in range(2):
        make_sprint(start_at=T0)
        AuditLog.objects.create(
            actor="test",
            content_type=ContentType.objects.get_for_model(Commit),
            object_id="1",
            object_repr="a commit",
            action="ingest",
        )


@pytest.mark.parametrize("entity", sorted(ENTITIES))
@pytest.mark.parametrize("changed", [False, True], ids=["by time", "by change"])
def test_no_query_of_a_page_after_a_cursor_uses_offset_or_count(staff_client, entity, changed):
    two_rows_of_every_entity()
    params = {"limit": 1, **({"changed_since": "2000-01-01T00:00:00Z"} if changed else {})}
    first = fetch(staff_client, "all", entity, **params).json()

    with CaptureQueriesContext(connection) as queries:
        response = fetch(staff_client, "all", entity, cursor=first["next_cursor"], **params)

    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    for query in queries.captured_queries:
        sql = query["sql"].upper()
        assert "OFFSET" not in sql
        assert "COUNT(" not in sql


def test_a_page_after_a_cursor_asks_for_rows_after_a_time_id_pair(staff_client):
    add_commits(make_repository(), [T0 + dt.timedelta(minutes=i) for i in range(3)])
    cursor = fetch(staff_client, "all", "commits", limit=1).json()["next_cursor"]

    with CaptureQueriesContext(connection) as queries:
        fetch(staff_client, "all", "commits", limit=1, cursor=cursor)

    # The form an index on (committed_at, id) serves with one range scan.
    row_comparison = re.compile(r'\("?\w+"?\."?committed_at"?, "?\w+"?\."?id"?\) > \(')
    assert any(row_comparison.search(query["sql"]) for query in queries.captured_queries)


@pytest.mark.parametrize("entity", ["commits", "issues"])
def test_the_number_of_queries_per_page_does_not_grow_with_the_rows_on_it(staff_client, entity):
    def queries_for_a_page_of(count: int) -> int:
        Commit.objects.all().delete()
        Issue.objects.all().delete()
        repository = make_repository()
        add_commits(repository, [T0 + dt.timedelta(minutes=i) for i in range(count)])
        sprint = make_sprint()
        for _ in range(count):
            make_issue().sprints.add(sprint)
        with CaptureQueriesContext(connection) as queries:
            body = fetch(staff_client, "all", entity, limit=100).json()
        assert len(body["data"]) == count
        return len(queries.captured_queries)

    assert queries_for_a_page_of(1) == queries_for_a_page_of(50)
