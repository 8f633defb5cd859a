"""Which fields hold story points and sprints, from a site's field list (fixtures/jira)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.errors import PermanentError
from sources.jira.site import SiteFacts, _compact_fields

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jira"


@pytest.fixture
def facts() -> SiteFacts:
    fields = _compact_fields(json.loads((FIXTURES / "cloud_fields.json").read_text()))
    return SiteFacts(
        base_url="https://your-domain.atlassian.net",
        deployment_type="Cloud",
        time_zone="Australia/Sydney",
        account_id="5b10a2844c20165700ede21g",
        account_name="mia@example.com",
        fields=fields,
    )


def test_both_story_points_fields_are_read_story_points_first(facts, settings):
    settings.JIRA_STORY_POINTS_FIELD = ""

    assert facts.story_points_fields() == ["customfield_10028", "customfield_10016"]


def test_the_sprint_field_is_the_one_of_jira_softwares_sprint_type(facts, settings):
    settings.JIRA_SPRINT_FIELD = ""

    # customfield_10040 is a text field someone also named "Sprint".
    assert facts.sprint_field() == "customfield_10020"


def test_a_configured_name_that_names_two_fields_asks_for_the_id(facts, settings):
    settings.JIRA_SPRINT_FIELD = "Sprint"

    with pytest.raises(
        PermanentError, match=r"names 2 fields .customfield_10020, customfield_10040."
    ):
        facts.sprint_field()


def test_the_clause_names_map_as_the_jira_library_maps_them(facts):
    clauses = facts.field_clauses()

    assert clauses["id"] == clauses["key"] == "issuekey"
    assert clauses["cf[10016]"] == clauses["Story point estimate"] == "customfield_10016"
    assert clauses["updatedDate"] == "updated"


def test_cloud_searches_through_api_version_3(facts):
    assert facts.is_cloud
    assert facts.api_version == "3"


def test_a_field_list_that_is_not_a_list_is_refused():
    with pytest.raises(PermanentError, match="something other than a list of fields"):
        _compact_fields({"errorMessages": []})
