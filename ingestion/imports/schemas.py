"""What each import type reads: its columns (with aliases), its references and its keys.

One schema per type (projects, bugs, hours, people). The engine does the rest:
reading, batching, validation by the model's own rules, writing and reporting.
The column names here are also the export's headers, so an exported file
imports back as it is.
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models.functions import Lower

from ingestion.choices import ImportType
from ingestion.imports.values import CellParser, parser_for
from ingestion.load import rows_by_keys
from tracking.github_urls import normalize_github_url, repository_full_name
from tracking.models import Bug, EngineeringHours, Identity, Person, Project
from tracking.models.bugs import reserve_bug_numbers

_HEADER_NOISE = re.compile(r"[\s_\-.]+")


def header_key(text: str) -> str:
    """ "GitHub URL", "github_url", " Github-Url " → "githuburl"."""
    return _HEADER_NOISE.sub("", text).lower()


@dataclass(frozen=True)
class Column:
    """One column a file may have, and the model field (or reference) it fills."""

    name: str
    field: str
    aliases: tuple[str, ...] = ()
    # The column must be in the file, and each row's cell filled.
    required: bool = False
    # An empty cell leaves the stored value alone (fields with a default or derived
    # from others); otherwise an empty cell clears the field.
    keeps_when_empty: bool = False
    # Names a row of another model ("project", "person", "bug"), resolved per batch.
    reference: str = ""
    # Identifies the row; used to find it, never changed by an update.
    key_only: bool = False
    description: str = ""
    # Reads the cell instead of the model field's own parser.
    parse: CellParser | None = None

    @property
    def header_keys(self) -> list[str]:
        return [header_key(self.name), *(header_key(alias) for alias in self.aliases)]


@dataclass
class ParsedRow:
    """One data row on its way through the engine."""

    number: int
    cells: list[str]
    # Field values parsed from the row's filled cells, by field name (references: text).
    values: dict[str, Any] = field(default_factory=dict)
    # Fields whose cell was empty.
    empty: set[str] = field(default_factory=set)
    # (column name, cell value, reason)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    existing_pk: int | None = None
    # What a schema finds out about the row in its batch queries (a bug's project).
    extra: dict[str, Any] = field(default_factory=dict)

    def reject(self, column: Column, reason: str, value: Any) -> None:
        self.errors.append((column.name, str(value), reason))


class ImportSchema:
    """The columns of one import type and how its rows find their stored twin."""

    import_type: ClassVar[str]
    model: ClassVar[type[models.Model]]
    columns: ClassVar[tuple[Column, ...]]
    # Shown in the preview and the docs: how rows are matched.
    matching: ClassVar[str]

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def parsers(self) -> dict[str, CellParser]:
        """How each non-reference column's cell is read: its own parser, else its field's."""
        parsers: dict[str, CellParser] = {}
        for column in self.columns:
            if column.reference:
                continue
            if column.parse is not None:
                parsers[column.field] = column.parse
            else:
                parsers[column.field] = parser_for(self.model._meta.get_field(column.field))
        return parsers

    def model_field(self, column: Column) -> models.Field | None:
        """The model field the column's value is validated by (None: not a model field)."""
        try:
            return self.model._meta.get_field(column.field)
        except FieldDoesNotExist:
            return None

    def check_batch(self, rows: Sequence[ParsedRow]) -> None:
        """Rules that need the database, checked for a batch at once (after references)."""

    def attach(self, instance: models.Model, row: ParsedRow) -> None:
        """Give the instance related rows its clean() reads, known from the batch queries."""

    def before_insert(self, instances: Sequence[models.Model]) -> None:
        """Work the new rows need in their transaction before they are inserted."""

    def row_keys(self, row: ParsedRow) -> list[str]:
        """Each unique value of the row, as "kind:value": two rows of one file sharing one
        are the same row given twice (none: the row cannot be matched)."""
        raise NotImplementedError

    @staticmethod
    def key_label(key: str) -> str:
        return KEY_LABELS[key.split(":", 1)[0]]

    def find_existing(self, rows: Sequence[ParsedRow]) -> None:
        """Set `existing_pk` on the rows a stored row matches: one query per key kind."""
        raise NotImplementedError

    def prepare(self, instance: models.Model) -> None:
        """Fields derived from the others, as the model's save() would set them."""

    def after_write(self, rows: Sequence[ParsedRow]) -> None:
        """Work that needs the written rows' ids, in the batch's transaction."""


KEY_LABELS = {
    "url": "GitHub URL",
    "name": "name",
    "number": "bug number",
    "id": "source and external id",
    "entry": "person, date, bug, project and note",
    "email": "email",
}


# --- References -------------------------------------------------------------------------


def _looks_like_url(text: str) -> bool:
    return "/" in text


def stored_projects(urls: Iterable[str], lower_names: Iterable[str]) -> list[tuple[int, str, str]]:
    """(pk, github_url, lower-case name) of the projects with one of the normalized
    URLs or one of the names (in any case): one query."""
    rows = Project.objects.annotate(lower_name=Lower("name")).filter(
        models.Q(github_url__in=list(urls)) | models.Q(lower_name__in=list(lower_names))
    )
    return list(rows.values_list("pk", "github_url", "lower_name"))


def people_by_name(lower_names: Iterable[str], **filters: Any) -> dict[str, list[int]]:
    """{lower-case name: [pk, ...]} of the people with one of the names, in any case."""
    named: dict[str, list[int]] = defaultdict(list)
    rows = Person.objects.annotate(lower_name=Lower("name")).filter(
        lower_name__in=list(lower_names), **filters
    )
    for pk, lower_name in rows.values_list("pk", "lower_name"):
        named[lower_name].append(pk)
    return named


def resolve_projects(texts: Iterable[str]) -> dict[str, int | str]:
    """Project cell → id, by GitHub URL (any form) or by name in any case.
    A text nobody matches maps to the reason."""
    by_url: dict[str, str] = {}
    by_name: dict[str, str] = {}
    found: dict[str, int | str] = {}
    for text in texts:
        # Every cell is also tried as a name: a project may be called "infra/tools".
        by_name[text.lower()] = text
        if _looks_like_url(text):
            with contextlib.suppress(ValidationError):
                by_url[normalize_github_url(text)] = text
    for pk, github_url, lower_name in stored_projects(by_url, by_name):
        if github_url in by_url:
            found[by_url[github_url]] = pk
        if lower_name in by_name:
            found[by_name[lower_name]] = pk
    for text in by_name.values():
        found.setdefault(text, f"No project named or linked to {text!r}; import projects first.")
    return found


def resolve_people(texts: Iterable[str]) -> dict[str, int | str]:
    """Person cell → id, by email, or by name when exactly one person has it."""
    by_email = {text.lower(): text for text in texts if "@" in text}
    by_name = {text.lower(): text for text in texts if "@" not in text}
    found: dict[str, int | str] = {}
    for pk, email in Person.objects.filter(email__in=list(by_email)).values_list("pk", "email"):
        found[by_email[email]] = pk
    for lower_name, pks in people_by_name(by_name).items():
        text = by_name[lower_name]
        found[text] = (
            pks[0]
            if len(pks) == 1
            else f"{len(pks)} people are named {text!r}; give their email instead."
        )
    for text in [*by_email.values(), *by_name.values()]:
        found.setdefault(text, f"No person with the email or name {text!r}; import people first.")
    return found


def resolve_bugs(texts: Iterable[str]) -> dict[str, int | str]:
    by_number = {text.strip().upper(): text for text in texts}
    found: dict[str, int | str] = {}
    for pk, number in Bug.objects.filter(number__in=list(by_number)).values_list("pk", "number"):
        found[by_number[number]] = pk
    for text in by_number.values():
        found.setdefault(text, f"No bug numbered {text!r}.")
    return found


REFERENCE_RESOLVERS = {
    "project": resolve_projects,
    "person": resolve_people,
    "bug": resolve_bugs,
}


# --- Projects ---------------------------------------------------------------------------


class ProjectSchema(ImportSchema):
    import_type = ImportType.PROJECTS
    model = Project
    matching = "by GitHub URL (in any form), then by name in any case"
    columns = (
        Column("name", "name", ("project", "project name", "title"), required=True),
        Column(
            "github_url",
            "github_url",
            ("github", "repo url", "repository url", "repo", "repository", "git url"),
            parse=normalize_github_url,
        ),
        Column("description", "description", ("summary", "details")),
        Column("status", "status", ("state",), keeps_when_empty=True),
        Column("jira_project_key", "jira_project_key", ("jira key", "jira project", "jira")),
        Column("owner", "owner", ("owner email", "lead", "project lead"), reference="person"),
        Column("tags", "tags", ("labels", "tag")),
        Column("external_id", "external_id", ("id", "external id"), key_only=True),
    )

    def row_keys(self, row: ParsedRow) -> list[str]:
        keys = [f"name:{row.values['name'].lower()}"]
        if row.values.get("github_url"):
            keys.append(f"url:{row.values['github_url']}")
        return keys

    def find_existing(self, rows: Sequence[ParsedRow]) -> None:
        urls = {row.values["github_url"] for row in rows if row.values.get("github_url")}
        names = {row.values["name"].lower() for row in rows}
        by_url: dict[str, int] = {}
        by_name: dict[str, tuple[int, str]] = {}
        for pk, github_url, lower_name in stored_projects(urls, names):
            if github_url:
                by_url[github_url] = pk
            by_name[lower_name] = (pk, github_url)
        for row in rows:
            url = row.values.get("github_url")
            row.existing_pk = by_url.get(url) if url else None
            if row.existing_pk is not None:
                continue
            pk, stored_url = by_name.get(row.values["name"].lower(), (None, ""))
            if pk is not None and url and stored_url and stored_url != url:
                row.reject(
                    self.column("github_url"),
                    f"Project {row.values['name']!r} already links to {stored_url}; "
                    "change the name, or the URL.",
                    value=url,
                )
                continue
            row.existing_pk = pk

    def prepare(self, instance: models.Model) -> None:
        instance.github_repository = repository_full_name(instance.github_url)


# --- Bugs -------------------------------------------------------------------------------

BUG_NUMBER = re.compile(r"^BUG-(\d{6})-(\d{4,})$")


def check_bug_number(text: str) -> str:
    number = text.strip().upper()
    if not BUG_NUMBER.match(number):
        raise ValidationError(
            f"{text!r} is not a bug number (BUG-YYYYMM-NNNN).", code="invalid_bug_number"
        )
    return number


class BugSchema(ImportSchema):
    import_type = ImportType.BUGS
    model = Bug
    matching = "by bug number, then by (source, external id)"
    columns = (
        Column(
            "number",
            "number",
            ("bug number", "bug", "bug no", "bug #"),
            key_only=True,
            parse=check_bug_number,
        ),
        Column("title", "title", ("summary", "name", "subject"), required=True),
        Column("description", "description", ("details", "body")),
        Column("severity", "severity", (), keeps_when_empty=True),
        Column("priority", "priority", (), keeps_when_empty=True),
        Column("status", "status", ("state",), keeps_when_empty=True),
        Column("project", "project", ("project name", "project url"), reference="project"),
        Column("assignee", "assignee", ("assigned to", "owner"), reference="person"),
        Column("reporter", "reporter", ("reported by", "author"), reference="person"),
        Column("sla_hours", "sla_hours", ("sla", "sla hours")),
        Column(
            "created_at",
            "created_at",
            ("created", "reported", "reported at", "opened", "date"),
            keeps_when_empty=True,
        ),
        Column(
            "resolved_at",
            "resolved_at",
            ("resolved", "closed at", "fixed at"),
            keeps_when_empty=True,
        ),
        Column("url", "url", ("link", "issue url")),
        Column("source", "source", ("origin",), key_only=True),
        Column(
            "external_id",
            "external_id",
            ("external id", "id", "key", "issue key", "issue id", "ticket"),
            key_only=True,
        ),
    )

    def row_keys(self, row: ParsedRow) -> list[str]:
        keys = []
        if row.values.get("number"):
            keys.append(f"number:{row.values['number']}")
        if row.values.get("external_id"):
            keys.append(f"id:{row.values.get('source') or 'csv'}:{row.values['external_id']}")
        return keys

    def find_existing(self, rows: Sequence[ParsedRow]) -> None:
        numbers = {row.values["number"] for row in rows if row.values.get("number")}
        by_number = dict(Bug.objects.filter(number__in=list(numbers)).values_list("number", "pk"))
        wanted: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            if row.values.get("external_id") and row.values.get("number") not in by_number:
                wanted[row.values.get("source") or "csv"].add(row.values["external_id"])
        by_external_id: dict[tuple[str, str], int] = {}
        for source, external_ids in wanted.items():
            # The load stage's lookup: served by the partial natural-key index.
            stored = rows_by_keys(
                Bug, {"source": source}, list(external_ids), ["external_id", "id"]
            )
            for external_id, pk in stored:
                by_external_id[(source, external_id)] = pk
        for row in rows:
            row.existing_pk = by_number.get(row.values.get("number"))
            if row.existing_pk is None and row.values.get("external_id"):
                key = (row.values.get("source") or "csv", row.values["external_id"])
                row.existing_pk = by_external_id.get(key)

    def prepare(self, instance: models.Model) -> None:
        instance.refresh_derived_fields()

    def before_insert(self, instances: Sequence[models.Model]) -> None:
        # Numbers a file brings (from the tracker it came from) are kept; the month's
        # counter moves past them so the next numbered bug does not take one again.
        reserve_bug_numbers([bug.number for bug in instances if bug.number])


# --- Engineering hours ------------------------------------------------------------------


class HoursSchema(ImportSchema):
    import_type = ImportType.HOURS
    model = EngineeringHours
    matching = "by external id, else by (person, date, bug, project, note)"
    columns = (
        Column("person", "person", ("email", "engineer", "who", "name"), True, reference="person"),
        Column("date", "date", ("day", "work date"), required=True),
        Column("hours", "hours", ("time", "duration", "hours spent", "spent"), required=True),
        Column("bug", "bug", ("bug number",), reference="bug"),
        Column("project", "project", ("project name",), reference="project"),
        Column("note", "note", ("notes", "comment", "description")),
        Column("external_id", "external_id", ("external id", "id", "entry id"), key_only=True),
    )

    def row_keys(self, row: ParsedRow) -> list[str]:
        if row.values.get("external_id"):
            return [f"id:csv:{row.values['external_id']}"]
        return ["entry:" + repr(self._entry(row.values))]

    def check_batch(self, rows: Sequence[ParsedRow]) -> None:
        """A bug's hours count on the bug's project (the model's own rule, with the bug's
        project read for the whole batch at once rather than per row)."""
        bug_ids = {row.values["bug_id"] for row in rows if row.values.get("bug_id")}
        bugs = {
            pk: (project_id, number)
            for pk, project_id, number in Bug.objects.filter(pk__in=bug_ids).values_list(
                "pk", "project_id", "number"
            )
        }
        for row in rows:
            bug_id = row.values.get("bug_id")
            if bug_id is None:
                continue
            project_id, number = bugs[bug_id]
            row.extra["bug"] = Bug(pk=bug_id, project_id=project_id, number=number)
            if not row.values.get("project_id"):
                row.values["project_id"] = project_id

    def find_existing(self, rows: Sequence[ParsedRow]) -> None:
        external_ids = [row.values["external_id"] for row in rows if row.values.get("external_id")]
        by_external_id = dict(
            rows_by_keys(EngineeringHours, {"source": "csv"}, external_ids, ["external_id", "id"])
        )
        keyless = [row for row in rows if not row.values.get("external_id")]
        by_entry: dict[tuple, int] = {}
        if keyless:
            stored = EngineeringHours.objects.filter(
                person_id__in={row.values["person_id"] for row in keyless},
                date__in={row.values["date"] for row in keyless},
            ).values_list("pk", "person_id", "date", "bug_id", "project_id", "note")
            for pk, *entry in stored:
                by_entry.setdefault(tuple(entry), pk)
        for row in rows:
            values = row.values
            if values.get("external_id"):
                row.existing_pk = by_external_id.get(values["external_id"])
            else:
                row.existing_pk = by_entry.get(self._entry(values))

    @staticmethod
    def _entry(values: dict[str, Any]) -> tuple:
        return (
            values["person_id"],
            values["date"],
            values.get("bug_id"),
            values.get("project_id"),
            values.get("note", ""),
        )

    def attach(self, instance: models.Model, row: ParsedRow) -> None:
        if "bug" in row.extra:
            # The model's clean() reads the bug's project; it is known from the batch query.
            instance._state.fields_cache["bug"] = row.extra["bug"]


# --- People -----------------------------------------------------------------------------

# Sources whose accounts a people row may name, each in a column of its own.
ACCOUNT_COLUMNS = ("github", "jira", "slack")


def account_column(source: str, aliases: tuple[str, ...], what: str) -> Column:
    return Column(
        source,
        source,
        aliases,
        key_only=True,
        parse=str.strip,
        description=f"A {what} already synced; linked to this person.",
    )


class PeopleSchema(ImportSchema):
    import_type = ImportType.PEOPLE
    model = Person
    matching = "by email in any case, then by name when the row has no email"
    columns = (
        Column("name", "name", ("full name", "display name", "person"), required=True),
        Column("email", "email", ("e-mail", "mail", "email address")),
        *(
            account_column(source, aliases, what)
            for source, aliases, what in (
                ("github", ("github login", "github user", "github username"), "GitHub login"),
                (
                    "jira",
                    ("jira user", "jira account", "jira username"),
                    "Jira account (name or email)",
                ),
                ("slack", ("slack user", "slack handle", "slack username"), "Slack user name"),
            )
        ),
    )

    def row_keys(self, row: ParsedRow) -> list[str]:
        email = row.values.get("email")
        return [f"email:{email}"] if email else [f"name:{row.values['name'].lower()}"]

    def find_existing(self, rows: Sequence[ParsedRow]) -> None:
        emails = {row.values["email"] for row in rows if row.values.get("email")}
        by_email = dict(Person.objects.filter(email__in=list(emails)).values_list("email", "pk"))
        names = {row.values["name"].lower() for row in rows if not row.values.get("email")}
        # A row without email matches only a person without one: one with an email is
        # somebody else who may share the name.
        by_name = people_by_name(names, email="")
        for row in rows:
            email = row.values.get("email")
            if email:
                row.existing_pk = by_email.get(email)
            else:
                pks = by_name.get(row.values["name"].lower(), [])
                row.existing_pk = pks[0] if len(pks) == 1 else None

    def check_batch(self, rows: Sequence[ParsedRow]) -> None:
        """Check each account cell names one synced identity; keep its id on the row."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            for source in ACCOUNT_COLUMNS:
                if row.values.get(source):
                    wanted[source].add(row.values[source].lower())
        found: dict[tuple[str, str], int] = {}
        for source, names in wanted.items():
            identities = Identity.objects.annotate(lower_username=Lower("username")).filter(
                models.Q(lower_username__in=list(names)) | models.Q(email__in=list(names)),
                source=source,
            )
            for pk, username, email in identities.values_list("pk", "lower_username", "email"):
                found.setdefault((source, username), pk)
                if email:
                    found.setdefault((source, email.lower()), pk)
        for row in rows:
            for source in ACCOUNT_COLUMNS:
                name = row.values.get(source)
                if not name:
                    continue
                pk = found.get((source, name.lower()))
                if pk is None:
                    row.reject(
                        self.column(source),
                        f"No {source} account {name!r} has been synced yet; "
                        f"sync {source} first, or leave the cell empty.",
                        value=name,
                    )
                else:
                    row.extra[f"{source}_identity"] = pk

    def after_write(self, rows: Sequence[ParsedRow]) -> None:
        linking = [row for row in rows if any(key.endswith("_identity") for key in row.extra)]
        if not linking:
            return
        # The people just inserted have ids now (COPY gives none back): find them again.
        self.find_existing(linking)
        by_person: dict[int, list[int]] = defaultdict(list)
        for row in linking:
            for source in ACCOUNT_COLUMNS:
                identity_pk = row.extra.get(f"{source}_identity")
                if identity_pk and row.existing_pk:
                    by_person[row.existing_pk].append(identity_pk)
        for person_pk, identity_pks in by_person.items():
            Identity.objects.filter(pk__in=identity_pks).exclude(person_id=person_pk).update(
                person_id=person_pk
            )


SCHEMAS: dict[str, ImportSchema] = {
    schema.import_type: schema
    for schema in (ProjectSchema(), BugSchema(), HoursSchema(), PeopleSchema())
}


def get_schema(import_type: str) -> ImportSchema:
    try:
        return SCHEMAS[import_type]
    except KeyError:
        valid = ", ".join(SCHEMAS)
        raise ValueError(f"Unknown import type {import_type!r}; valid: {valid}.") from None
