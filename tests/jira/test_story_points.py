"""Story points and sprints live in custom fields, found by name unless settings name them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingestion.errors import PermanentError
from tracking.models import Issue

pytestmark = pytest.mark.django_db


def points_by_key(upstream, project: str = "ALPHA") -> dict[str, Decimal | None]:
    return {
        issue.key: None if issue.story_points is None else Decimal(str(issue.story_points))
        for issue in upstream.project_issues(project)
    }


def stored_points() -> dict[str, Decimal | None]:
    return dict(Issue.objects.values_list("key", "story_points"))


def test_story_points_are_found_by_name_on_cloud_and_data_center(any_jira):
    any_jira.sync("issues", "ALPHA")

    assert stored_points() == points_by_key(any_jira.upstream)
    assert any(points is not None for points in stored_points().values())


def test_a_story_points_field_with_another_id_is_found_by_its_name(make_jira):
    jira = make_jira(story_points_field="customfield_12345", story_points_name="Story Points")

    jira.sync("issues", "ALPHA")

    assert stored_points() == points_by_key(jira.upstream)
    fields = jira.query_of("/rest/api/3/search/jql")[0]["fields"]
    assert "customfield_12345" in fields


def test_the_configured_story_points_field_is_used(make_jira, settings):
    jira = make_jira(story_points_field="customfield_12345", story_points_name="Effort")
    settings.JIRA_STORY_POINTS_FIELD = "customfield_12345"

    jira.sync("issues", "ALPHA")

    assert stored_points() == points_by_key(jira.upstream)


def test_the_configured_story_points_field_may_be_given_by_name(make_jira, settings):
    jira = make_jira(story_points_field="customfield_12345", story_points_name="Effort")
    settings.JIRA_STORY_POINTS_FIELD = "Effort"

    jira.sync("issues", "ALPHA")

    assert stored_points() == points_by_key(jira.upstream)


def test_a_field_named_otherwise_is_not_taken_for_story_points(make_jira):
    jira = make_jira(story_points_field="customfield_12345", story_points_name="Effort")

    jira.sync("issues", "ALPHA")

    assert set(stored_points().values()) == {None}


def test_a_configured_field_the_site_does_not_have_fails_naming_the_setting(jira, settings):
    settings.JIRA_STORY_POINTS_FIELD = "customfield_99999"

    with pytest.raises(PermanentError, match="JIRA_STORY_POINTS_FIELD='customfield_99999' is not"):
        jira.sync("issues", "ALPHA")


def test_the_configured_sprint_field_is_used(jira, settings):
    jira.sync("sprints", "1")
    settings.JIRA_SPRINT_FIELD = "customfield_10020"

    jira.sync("issues", "ALPHA")

    assert Issue.sprints.through.objects.exists()


def test_a_configured_sprint_field_the_site_does_not_have_fails_naming_the_setting(jira, settings):
    settings.JIRA_SPRINT_FIELD = "Iteration"

    with pytest.raises(PermanentError, match="JIRA_SPRINT_FIELD='Iteration' is not a field"):
        jira.sync("issues", "ALPHA")
