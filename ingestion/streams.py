"""The stream contract, and the registry that maps (source, entity) to streams.

A stream is one (source, entity) pair, such as `github/commits`, optionally run
for a scope (a repository, a Jira project, a Slack channel). It knows three
things: how to fetch pages of raw records from a cursor, how to normalize one
raw record into model fields (pure: no database), and its natural key. The
harness (`ingestion.harness`) does everything else: locking, checkpoints,
keeping raw payloads, resolving references, the bulk upsert, counts and audit.

A source is a package under `sources/` whose `streams` module calls
`register(...)`; `autodiscover()` imports them all when the app starts, so
adding a source edits nothing here.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import models


@dataclass(frozen=True)
class IdentityRef:
    """An account named by a record (an author, an assignee), resolved per page by the harness.

    The harness finds or creates the Identity by (source, external_id) with one
    query per page, and links new identities to the Person with the same email.
    """

    source: str
    external_id: str
    username: str = ""
    display_name: str = ""
    email: str = ""
    is_bot: bool = False


@dataclass(frozen=True)
class Ref:
    """A row of another model that must already exist, by its natural key.

    Resolved per page with one query per model. A record whose Ref is missing is
    rejected (for example a commit of a repository not synced yet), unless the
    Ref is not `required`: then the field is left empty (a repository whose
    project nobody has entered yet).

    `by` looks the row up by another unique column instead of `external_id`
    (a Project by its `github_url`); with `source` "" any source matches.
    """

    model: type[models.Model]
    source: str
    external_id: str
    by: str = "external_id"
    required: bool = True


@dataclass(frozen=True)
class PersonRef:
    """The Person with this email, made (named `name`) in the page's transaction when
    nobody has one yet: how an account read from a source's user list joins the same
    person as that person's accounts elsewhere, as IdentityRef accounts do."""

    email: str
    name: str = ""


@dataclass
class Row:
    """One normalized row: the model and its field values.

    `fields` holds column values by field name, including `external_id`;
    `source` defaults to the stream's source. Foreign keys hold an IdentityRef, a
    Ref or a PersonRef (or None); many-to-many fields hold a list of Refs.
    """

    model: type[models.Model]
    fields: dict[str, Any]


@dataclass(frozen=True)
class Page:
    """One page of raw records as the upstream sent them.

    `next_cursor` is where to resume once this page is committed (None: this was
    the last page). It is stored in SyncState in the same transaction as the
    page's rows, so a crash resumes after the last committed page.
    """

    records: list[dict[str, Any]]
    next_cursor: dict[str, Any] | None
    requests: int = 1


@dataclass
class FetchContext:
    """What a stream needs to fetch: where to start and what to count.

    `since` is the incremental lower bound (the high-water mark minus the
    stream's overlap), None on a full sync. `cursor` is the resume point of an
    interrupted run, None when starting afresh. Streams add to `retries` when
    their client retried a request.

    `etags` are the conditional-request validators (URL → ETag) the stream kept
    in its last successful run; the stream puts this run's into `new_etags`, and
    the harness stores them only when the run succeeds, so a 304 never stands
    for data that a failed run did not commit.
    """

    scope: str
    since: dt.datetime | None
    cursor: dict[str, Any] | None
    full: bool = False
    retries: int = 0
    etags: dict[str, str] = field(default_factory=dict)
    new_etags: dict[str, str] = field(default_factory=dict)


class Stream:
    """Base class of every stream. Subclasses set the class attributes and the three methods."""

    source: ClassVar[str]
    entity: ClassVar[str]
    # The model the first Row of each record goes to.
    model: ClassVar[type[models.Model]]
    # True when the stream runs per scope (a repository, a project, a channel).
    scoped: ClassVar[bool] = False
    # Another source whose scopes this stream runs for (github_actions streams run per
    # GitHub repository): that source's sync queues it, once its scopes are known, and
    # the schedule does not run this stream's source on its own.
    scopes_of: ClassVar[str] = ""
    # Re-read window on incremental syncs, sized to the upstream's time resolution.
    overlap: ClassVar[dt.timedelta] = dt.timedelta(0)
    # List fields whose stored values are kept and joined with the incoming ones
    # (a commit seen on a second branch keeps the first).
    merge_fields: ClassVar[frozenset[str]] = frozenset()
    # A field that orders versions of a record (e.g. "updated_at"): an incoming
    # record older than the stored row is skipped, so late events never move a row back.
    version_field: ClassVar[str | None] = None

    @property
    def name(self) -> str:
        return f"{self.source}/{self.entity}"

    def configured_scopes(self) -> list[str]:
        """The scopes the schedule syncs (from settings); [""] for an unscoped stream."""
        return [""]

    def fetch_pages(self, context: FetchContext) -> Iterator[Page]:
        """Pages of raw records from `context.cursor` (or the start), oldest change first
        where the upstream allows it. Raise TransientError / PermanentError on failure."""
        raise NotImplementedError

    def natural_key(self, record: dict[str, Any]) -> str:
        """The record's key, unique per source: becomes `external_id` of the first Row."""
        raise NotImplementedError

    def normalize(self, record: dict[str, Any], scope: str) -> list[Row]:
        """Raw record → rows (first the stream's own model, then any derived rows, such
        as a Bug for an issue labelled bug). Pure. Raise RecordRejected for bad input."""
        raise NotImplementedError

    def record_time(self, record: dict[str, Any]) -> dt.datetime | None:
        """The record's change time, for the high-water mark (None: not incremental)."""
        return None


class UnknownStream(LookupError):
    def __init__(self, source: str, entity: str) -> None:
        valid = ", ".join(sorted(_registry)) or "none"
        super().__init__(f"No stream {source}/{entity}. Known streams: {valid}.")


_registry: dict[str, Stream] = {}


def register(stream_class: type[Stream]) -> type[Stream]:
    """Class decorator: make a stream known by its "source/entity" name."""
    stream = stream_class()
    _registry[stream.name] = stream
    return stream_class


def get_stream(source: str, entity: str) -> Stream:
    try:
        return _registry[f"{source}/{entity}"]
    except KeyError:
        raise UnknownStream(source, entity) from None


def all_streams() -> Iterable[Stream]:
    return [_registry[name] for name in sorted(_registry)]


def autodiscover() -> None:
    """Import `sources.<name>.streams` for every source package."""
    import_source_modules("streams")


def import_source_modules(name: str) -> None:
    """Import `sources.<package>.<name>` for every source package that has one
    (its streams, its webhook receiver): how a source registers itself."""
    import sources

    for module in pkgutil.iter_modules(sources.__path__):
        if not module.ispkg:
            continue
        wanted = f"sources.{module.name}.{name}"
        try:
            importlib.import_module(wanted)
        except ModuleNotFoundError as error:
            if error.name != wanted:
                raise
