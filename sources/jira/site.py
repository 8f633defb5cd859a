"""The facts a Jira sync needs about its site, read once and kept in `JiraSite`.

- Cloud or Data Center (serverInfo `deploymentType`): Cloud searches through
  `/rest/api/3/search/jql` with `nextPageToken` (its `/rest/api/3/search`
  answers 410), Data Center through `/rest/api/2/search` with `startAt`.
- The user's time zone (`/myself`), in which Jira reads JQL dates.
- The fields (`/field`): which custom fields hold story points and sprints, when
  JIRA_STORY_POINTS_FIELD / JIRA_SPRINT_FIELD do not say.

They are read again after SITE_FACTS_MAX_AGE, when the credential changes, and
after the site refused the credential, so a sync starts with the search itself.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from ingestion.errors import PermanentError
from sources.jira.client import (
    CLOUD_API,
    DATA_CENTER_API,
    Credentials,
    JiraClient,
    RequestCount,
    check_host,
    configured_credentials,
)
from sources.jira.jql import known_time_zone
from sources.jira.models import JiraSite

logger = logging.getLogger("ingestion")

# Fields and time zones change rarely; a renamed field is found again within this.
SITE_FACTS_MAX_AGE = dt.timedelta(hours=6)
STORY_POINTS_NAMES = ("story points", "story point estimate")
# The custom field types Jira Software gives these fields.
STORY_POINTS_TYPE = "com.pyxis.greenhopper.jira:jsw-story-points"
SPRINT_TYPE = "com.pyxis.greenhopper.jira:gh-sprint"


@dataclass(frozen=True)
class SiteFacts:
    base_url: str
    deployment_type: str
    time_zone: str
    account_id: str
    account_name: str
    fields: list[dict[str, Any]]

    @property
    def is_cloud(self) -> bool:
        return self.deployment_type == "Cloud"

    @property
    def api_version(self) -> str:
        return CLOUD_API if self.is_cloud else DATA_CENTER_API

    @property
    def account(self) -> str:
        return self.account_name or self.account_id

    def field_clauses(self) -> dict[str, str]:
        """Clause name → field id, built as the jira library builds its own map."""
        return {
            str(name): str(field["id"])
            for field in self.fields
            for name in field.get("clauseNames") or []
        }

    def story_points_fields(self) -> list[str]:
        """JIRA_STORY_POINTS_FIELD (an id or a field name), else every field named
        "Story Points" or "Story point estimate", or of Jira Software's story points type."""
        if settings.JIRA_STORY_POINTS_FIELD:
            return [self._configured_field("JIRA_STORY_POINTS_FIELD")]
        ordered = sorted(
            (field for field in self.fields if _is_story_points(field)),
            key=lambda field: _name_rank(field, STORY_POINTS_NAMES),
        )
        return [str(field["id"]) for field in ordered]

    def sprint_field(self) -> str:
        """JIRA_SPRINT_FIELD, else the field of Jira Software's sprint type, else the
        custom field named "Sprint"; "" when the site has none (no Jira Software)."""
        if settings.JIRA_SPRINT_FIELD:
            return self._configured_field("JIRA_SPRINT_FIELD")
        by_type = [f for f in self.fields if f.get("custom") == SPRINT_TYPE]
        by_name = [f for f in self.fields if _lower_name(f) == "sprint" and _is_custom(f)]
        found = by_type or by_name
        return str(found[0]["id"]) if found else ""

    def _configured_field(self, setting: str) -> str:
        wanted = str(getattr(settings, setting)).strip()
        for field in self.fields:
            if str(field["id"]) == wanted:
                return wanted
        named = [str(f["id"]) for f in self.fields if _lower_name(f) == wanted.lower()]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise PermanentError(
                f"{setting}={wanted!r} names {len(named)} fields ({', '.join(named)}); "
                "set it to the id of the one to use."
            )
        raise PermanentError(
            f"{setting}={wanted!r} is not a field of {self.base_url} that "
            f"{self.account} can see: set it to a custom field id such as customfield_10016, "
            "or leave it empty to find the field by name."
        )


def _lower_name(field: dict[str, Any]) -> str:
    return str(field.get("name") or "").strip().lower()


def _is_custom(field: dict[str, Any]) -> bool:
    return str(field.get("id", "")).startswith("customfield_")


def _is_story_points(field: dict[str, Any]) -> bool:
    if field.get("custom") == STORY_POINTS_TYPE:
        return True
    return _is_custom(field) and _lower_name(field) in STORY_POINTS_NAMES


def _name_rank(field: dict[str, Any], names: tuple[str, ...]) -> tuple[int, str]:
    name = _lower_name(field)
    return (names.index(name) if name in names else len(names), str(field["id"]))


def _compact_fields(fields: Any) -> list[dict[str, Any]]:
    """The part of GET /field the hub uses (a site has hundreds of fields)."""
    if not isinstance(fields, list):
        raise PermanentError("GET field: Jira answered something other than a list of fields.")
    compact = []
    for field in fields:
        if not isinstance(field, dict) or not field.get("id"):
            continue
        schema = field.get("schema") if isinstance(field.get("schema"), dict) else {}
        compact.append(
            {
                "id": str(field["id"]),
                "name": str(field.get("name") or ""),
                "custom": str(schema.get("custom") or ""),
                "clauseNames": [str(name) for name in field.get("clauseNames") or []],
            }
        )
    return compact


def _facts_of(row: JiraSite) -> SiteFacts:
    return SiteFacts(
        base_url=row.base_url,
        deployment_type=row.deployment_type,
        time_zone=row.time_zone,
        account_id=row.account_id,
        account_name=row.account_name,
        fields=list(row.fields or []),
    )


def stored_facts(credentials: Credentials) -> SiteFacts | None:
    """The kept facts, if they were read with these credentials lately and not refused."""
    row = JiraSite.objects.filter(base_url=credentials.base_url).first()
    if row is None or row.checked_at is None or row.is_refused:
        return None
    if row.credential_fingerprint != credentials.fingerprint:
        return None
    if timezone.now() - row.checked_at > SITE_FACTS_MAX_AGE:
        return None
    return _facts_of(row)


def discover(credentials: Credentials, count: RequestCount) -> tuple[SiteFacts, JiraClient]:
    """Read the site's facts (three requests), keep them, and return the client to use."""
    # serverInfo exists under /rest/api/2 on Cloud and Data Center alike.
    probe = JiraClient(credentials, api_version=DATA_CENTER_API, count=count)
    try:
        info = probe.server_info()
    finally:
        probe.close()
    if not isinstance(info, dict):
        raise PermanentError(
            f"{credentials.base_url} answered serverInfo with something that is not Jira's: "
            "check JIRA_BASE_URL (the site's root, e.g. https://your-site.atlassian.net)."
        )
    deployment_type = str(info.get("deploymentType") or "Server")
    api_version = CLOUD_API if deployment_type == "Cloud" else DATA_CENTER_API
    client = JiraClient(credentials, api_version=api_version, count=count)
    try:
        me = client.myself()
        fields = _compact_fields(client.fields())
    except BaseException:
        client.close()
        raise
    time_zone = str(me.get("timeZone") or "") if isinstance(me, dict) else ""
    if not known_time_zone(time_zone):
        logger.warning(
            "Jira did not give a known time zone for %s (%r): incremental searches start "
            "14 hours early so that no offset can skip an update",
            credentials.label,
            time_zone,
        )
    values = {
        "credential_fingerprint": credentials.fingerprint,
        "deployment_type": deployment_type[:20],
        "version": str(info.get("version") or "")[:50],
        "account_id": str(me.get("accountId") or me.get("key") or "")[:200],
        "account_name": str(me.get("emailAddress") or me.get("name") or "")[:200],
        "time_zone": time_zone[:64],
        "fields": fields,
        "checked_at": timezone.now(),
        "refused_at": None,
        "refused_reason": "",
    }
    # Django's update_or_create survives another worker reading the site at the same moment.
    row, _ = JiraSite.objects.update_or_create(base_url=credentials.base_url, defaults=values)
    return _facts_of(row), client


@dataclass
class JiraSession:
    """One fetch's client and what it knows about the site."""

    client: JiraClient
    facts: SiteFacts
    credentials: Credentials

    @property
    def requests(self) -> int:
        return self.client.requests


@contextmanager
def fetching() -> Iterator[JiraSession]:
    """A session for one fetch: deferred while the host's breaker is open, the site's facts
    read or recalled, and the client closed however the fetch ends (the harness may
    abandon it)."""
    credentials = configured_credentials()
    check_host(credentials)
    count = RequestCount()
    facts = stored_facts(credentials)
    if facts is None:
        facts, client = discover(credentials, count)
    else:
        client = JiraClient(credentials, api_version=facts.api_version, count=count)
    try:
        client.adopt(facts.deployment_type, facts.field_clauses())
        yield JiraSession(client, facts, credentials)
    finally:
        client.close()
