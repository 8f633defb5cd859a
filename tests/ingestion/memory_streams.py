"""In-memory streams for the harness tests and the benchmark.

Importing this module registers two streams under the source "test":

- `test/repositories` → tracking.Repository, versioned by `updated_at`;
- `test/commits` → tracking.Commit, with a Ref to its repository, an IdentityRef
  for its author (with an email, so a Person is linked) and `branches` as a
  merge field.

Records are deterministic functions of their number, so a subprocess (the crash
test) builds the same data as the test that started it. A stream's records are
whatever `records` holds; with `HUB_MEMORY_STREAM_COMMITS=N` in the environment
the commits stream starts with N records over `HUB_MEMORY_STREAM_REPOSITORIES`
repositories (default 10), and the repositories stream with those repositories.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest

from ingestion.errors import RecordRejected, TransientError
from ingestion.streams import (
    FetchContext,
    IdentityRef,
    Page,
    Ref,
    Row,
    Stream,
    get_stream,
    register,
)
from tracking.models import Commit, Repository

SOURCE = "test"
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
AUTHOR_POOL = 50


def repository_record(number: int, *, version: int = 0) -> dict[str, Any]:
    return {
        "id": number,
        "full_name": f"acme/widget-{number}",
        "description": f"Widget {number}, revision {version}",
        "default_branch": "main",
        "updated_at": (EPOCH + dt.timedelta(minutes=number + version)).isoformat(),
    }


def commit_record(
    number: int, *, repositories: int = 10, version: int = 0, branch: str = "main"
) -> dict[str, Any]:
    author = number % AUTHOR_POOL
    return {
        "sha": f"{number:040x}",
        "repository_id": number % repositories,
        "branch": branch,
        "message": f"Change {number}" + (f" (amended {version})" if version else ""),
        "author": {"id": f"u{author}", "login": f"dev{author}", "email": f"dev{author}@acme.test"},
        "committed_at": (EPOCH + dt.timedelta(seconds=number)).isoformat(),
        "additions": number % 97,
        "deletions": number % 13,
    }


def poison(record: dict[str, Any]) -> dict[str, Any]:
    """The same record with a date the normalizer cannot read."""
    return {**record, "committed_at": "not a date"}


class MemoryStream(Stream):
    """Pages of `records` in order, `page_size` at a time; the cursor is an offset."""

    page_size = 1000

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.fetch_calls = 0
        # Raise a TransientError after this many pages of one fetch (a failing upstream).
        self.fail_after_pages: int | None = None

    def reset(self) -> None:
        self.records = []
        self.fetch_calls = 0
        self.fail_after_pages = None

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        self.fetch_calls += 1
        records = self.records
        if context.since is not None:
            records = [r for r in records if self.record_time(r) >= context.since]
        offset = context.cursor["offset"] if context.cursor else 0
        pages = 0
        while True:
            if self.fail_after_pages is not None and pages >= self.fail_after_pages:
                raise TransientError("upstream answered 503 (test)")
            end = offset + self.page_size
            next_cursor = {"offset": end} if end < len(records) else None
            yield Page(records=records[offset:end], next_cursor=next_cursor)
            pages += 1
            if next_cursor is None:
                return
            offset = end


@register
class RepositoriesStream(MemoryStream):
    source = SOURCE
    entity = "repositories"
    model = Repository
    version_field = "updated_at"

    def __init__(self) -> None:
        super().__init__()
        if os.environ.get("HUB_MEMORY_STREAM_COMMITS"):
            repositories = int(os.environ.get("HUB_MEMORY_STREAM_REPOSITORIES", "10"))
            self.records = [repository_record(n) for n in range(repositories)]

    def natural_key(self, record: dict[str, Any]) -> str:
        return str(record["id"])

    def record_time(self, record: dict[str, Any]) -> dt.datetime:
        return dt.datetime.fromisoformat(record["updated_at"])

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        owner, _, name = record["full_name"].partition("/")
        if not name:
            raise RecordRejected(f"full_name {record['full_name']!r} is not owner/name")
        return [
            Row(
                Repository,
                {
                    "full_name": record["full_name"],
                    "owner": owner,
                    "name": name,
                    "description": record.get("description", ""),
                    "default_branch": record.get("default_branch", ""),
                    "updated_at": self.record_time(record),
                },
            )
        ]


@register
class CommitsStream(MemoryStream):
    source = SOURCE
    entity = "commits"
    model = Commit
    merge_fields = frozenset({"branches"})

    def __init__(self) -> None:
        super().__init__()
        count = int(os.environ.get("HUB_MEMORY_STREAM_COMMITS", "0"))
        repositories = int(os.environ.get("HUB_MEMORY_STREAM_REPOSITORIES", "10"))
        self.records = [commit_record(n, repositories=repositories) for n in range(count)]

    def natural_key(self, record: dict[str, Any]) -> str:
        return record["sha"]

    def record_time(self, record: dict[str, Any]) -> dt.datetime:
        return dt.datetime.fromisoformat(record["committed_at"])

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        author = record.get("author")
        return [
            Row(
                Commit,
                {
                    "repository": Ref(Repository, SOURCE, str(record["repository_id"])),
                    "sha": record["sha"],
                    "branches": [record["branch"]],
                    "message": record["message"],
                    "author": IdentityRef(
                        SOURCE,
                        author["id"],
                        username=author["login"],
                        display_name=author["login"],
                        email=author["email"],
                    )
                    if author
                    else None,
                    "author_name": author["login"] if author else "",
                    "author_email": author["email"] if author else "",
                    "committed_at": self.record_time(record),
                    "additions": record["additions"],
                    "deletions": record["deletions"],
                },
            )
        ]


def repositories_stream() -> RepositoriesStream:
    return get_stream(SOURCE, "repositories")  # type: ignore[return-value]


def commits_stream() -> CommitsStream:
    return get_stream(SOURCE, "commits")  # type: ignore[return-value]


# Fixtures are named apart from their functions so test modules can import them
# (`from tests.ingestion.memory_streams import repositories_fixture`) without
# shadowing the name their tests take as an argument.
@pytest.fixture(name="repositories")
def repositories_fixture() -> Iterator[RepositoriesStream]:
    stream = repositories_stream()
    stream.reset()
    yield stream
    stream.reset()


@pytest.fixture(name="commits")
def commits_fixture() -> Iterator[CommitsStream]:
    stream = commits_stream()
    stream.reset()
    yield stream
    stream.reset()
