"""What every ingested row carries: where it came from and when it was seen."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

# Columns that describe a row's provenance or identity rather than its content;
# they never take part in the content signature.
PROVENANCE_FIELDS = frozenset(
    {"id", "source", "external_id", "raw_signature", "first_seen_at", "last_seen_at"}
)


def _signature_default(value: Any) -> str:
    if isinstance(value, dt.datetime):
        # Signatures must not change with the connection's time zone.
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, Decimal):
        # 3.5 and 3.50 are one value; a DecimalField reads back with its own scale.
        return format(value.normalize(), "f")
    if isinstance(value, dt.date):
        return str(value)
    raise TypeError(f"cannot sign a value of type {type(value).__name__}")


def content_signature(fields: dict[str, Any]) -> str:
    """A stable hash of normalized content: equal content gives an equal signature.

    An unchanged re-ingest compares equal and is skipped; a changed one is an update.
    """
    payload = {k: v for k, v in fields.items() if k not in PROVENANCE_FIELDS}
    encoded = json.dumps(payload, sort_keys=True, default=_signature_default, ensure_ascii=False)
    return hashlib.blake2b(encoded.encode("utf-8"), digest_size=16).hexdigest()


class Provenance(models.Model):
    """Source, natural key and signature of an ingested row.

    `external_id` is the upstream's stable id (a GitHub node id, a Jira issue id,
    "<channel>:<ts>" for Slack); each concrete model makes (source, external_id)
    unique in the database. `last_seen_at` moves when an ingest changed the row:
    an unchanged re-read is a no-op by design, and `SyncState` records when a
    stream was last read.
    """

    external_id = models.CharField("external id", max_length=255, blank=True, default="")
    raw_signature = models.CharField(max_length=32, blank=True, default="", editable=False)
    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)
    last_seen_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        # An edit by hand (admin, manual API) is a change like an ingested one: the
        # fetch API's `changed_since` extraction pages by this time and must see it.
        # A new row keeps the time it was given (loaders set when it was seen).
        if not self._state.adding:
            self.last_seen_at = timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "last_seen_at"}
        super().save(*args, **kwargs)

    def content_fields(self) -> dict[str, Any]:
        """The row's content, by column name, as the signature sees it."""
        return {
            field.attname: field.value_from_object(self)
            for field in self._meta.concrete_fields
            if field.attname not in PROVENANCE_FIELDS
        }

    def sign(self) -> None:
        self.raw_signature = content_signature(self.content_fields())


def natural_key_constraint(model_label: str, *, optional: bool = False) -> models.UniqueConstraint:
    """The (source, external_id) uniqueness every ingested model declares.

    Rows entered by hand have no external id; for them the key is optional and
    the constraint partial.
    """
    if optional:
        return models.UniqueConstraint(
            fields=["source", "external_id"],
            condition=~models.Q(external_id=""),
            name=f"{model_label}_natural_key",
            violation_error_message="A row with this source and external id already exists.",
        )
    return models.UniqueConstraint(
        fields=["source", "external_id"],
        name=f"{model_label}_natural_key",
        violation_error_message="A row with this source and external id already exists.",
    )
