"""Resolving the references a page of normalized rows names, with one query per model.

`resolve_identities` finds the Identity of every IdentityRef in a page and
creates the missing ones, linked to the Person with the same email (a Person is
created when an email is known and nobody has it yet). `resolve_refs` finds the
rows named by Refs; a Ref with no row is the caller's to reject.

Creation uses INSERT … ON CONFLICT DO NOTHING (bulk_create with
ignore_conflicts) and then reads back, so two streams creating the same
account at once both end with the one row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import models
from django.utils import timezone

from ingestion.streams import IdentityRef, PersonRef, Ref
from tracking.models import Identity, Person, content_signature

IdentityKey = tuple[str, str]
RefKey = tuple[type[models.Model], str, str, str]


def identity_key(ref: IdentityRef) -> IdentityKey:
    return (ref.source, ref.external_id)


def ref_key(ref: Ref) -> RefKey:
    return (ref.model, ref.source, ref.by, ref.external_id)


def _pks_by_natural_key(
    model: type[models.Model], source: str, external_ids: Iterable[str]
) -> list[tuple[str, int]]:
    """(external_id, pk) of the stored rows: one query, served by the natural-key index."""
    return list(
        model._default_manager.filter(source=source, external_id__in=external_ids).values_list(
            "external_id", "pk"
        )
    )


def _pks_by_column(
    model: type[models.Model], source: str, column: str, values: Iterable[str]
) -> list[tuple[str, int]]:
    """(value, pk) of the rows whose `column` is one of `values`; the lowest pk wins a tie."""
    rows = model._default_manager.filter(**{f"{column}__in": values})
    if source:
        rows = rows.filter(source=source)
    return list(rows.order_by("-pk").values_list(column, "pk"))


def resolve_refs(refs: Iterable[Ref]) -> dict[RefKey, int]:
    """Primary keys of the existing rows named by `refs`; missing ones are absent."""
    wanted: dict[tuple[type[models.Model], str, str], set[str]] = defaultdict(set)
    for ref in refs:
        wanted[(ref.model, ref.source, ref.by)].add(ref.external_id)
    found: dict[RefKey, int] = {}
    for (model, source, by), values in wanted.items():
        if by == "external_id":
            rows = _pks_by_natural_key(model, source, values)
        else:
            rows = _pks_by_column(model, source, by, values)
        # Later pairs overwrite earlier ones: with "-pk" ordering the lowest pk is kept.
        found.update(((model, source, by, value), pk) for value, pk in rows)
    return found


def _stored_identities(by_source: dict[str, set[str]]) -> dict[IdentityKey, int]:
    found: dict[IdentityKey, int] = {}
    for source, external_ids in by_source.items():
        rows = _pks_by_natural_key(Identity, source, external_ids)
        found.update(((source, external_id), pk) for external_id, pk in rows)
    return found


def people_by_email(names_by_email: dict[str, str]) -> dict[str, int]:
    """Person ids by lower-cased email, creating a Person for each email nobody has.

    `names_by_email` gives the name a new Person gets (the account's display name).
    """
    names = {email.strip().lower(): name for email, name in names_by_email.items() if email.strip()}
    wanted = set(names)
    if not wanted:
        return {}
    found = dict(Person.objects.filter(email__in=wanted).values_list("email", "pk"))
    missing = wanted - found.keys()
    if missing:
        now = timezone.now()
        Person.objects.bulk_create(
            [
                Person(
                    name=(names[email] or email.split("@", 1)[0])[:200],
                    email=email,
                    created_at=now,
                    updated_at=now,
                )
                for email in sorted(missing)
            ],
            ignore_conflicts=True,
        )
        found.update(Person.objects.filter(email__in=missing).values_list("email", "pk"))
    return found


def person_key(ref: PersonRef) -> tuple[str, str]:
    return ("person", ref.email.strip().lower())


def resolve_people(refs: Iterable[PersonRef]) -> dict[tuple[str, str], int]:
    """Person ids for every ref, by `person_key`, making the people nobody has yet."""
    names = {ref.email: ref.name for ref in refs}
    return {("person", email): pk for email, pk in people_by_email(names).items()}


def resolve_identities(refs: Iterable[IdentityRef]) -> dict[IdentityKey, int]:
    """Identity ids for every ref, creating the missing identities (and their people)."""
    unique = {identity_key(ref): ref for ref in refs}
    if not unique:
        return {}
    by_source: dict[str, set[str]] = defaultdict(set)
    for source, external_id in unique:
        by_source[source].add(external_id)
    found = _stored_identities(by_source)
    missing = [ref for key, ref in unique.items() if key not in found]
    if not missing:
        return found
    people = people_by_email(
        {ref.email: ref.display_name or ref.username for ref in missing if ref.email}
    )
    now = timezone.now()
    new_identities = []
    for ref in missing:
        identity = Identity(
            source=ref.source,
            external_id=ref.external_id,
            username=ref.username[:200],
            display_name=ref.display_name[:200],
            email=ref.email.strip().lower()[:254],
            is_bot=ref.is_bot,
            person_id=people.get(ref.email.strip().lower()),
            first_seen_at=now,
            last_seen_at=now,
        )
        identity.raw_signature = content_signature(identity.content_fields())
        new_identities.append(identity)
    Identity.objects.bulk_create(new_identities, ignore_conflicts=True)
    missing_by_source: dict[str, set[str]] = defaultdict(set)
    for ref in missing:
        missing_by_source[ref.source].add(ref.external_id)
    found.update(_stored_identities(missing_by_source))
    return found
