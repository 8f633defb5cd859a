"""The Slack workspace and method pace pages: shown to staff, read-only, never the token."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sources.slack.models import MethodPace, SlackWorkspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(slack_channels, settings):
    settings.SLACK_REQUESTS_PER_MINUTE = 1
    slack_channels.upstream.rate_limit_next("users.list", retry_after=1)
    slack_channels.sync("users")
    return slack_channels


@pytest.mark.parametrize("model", [SlackWorkspace, MethodPace])
def test_the_list_and_the_row_render_without_the_token(staff_client, synced, model):
    row = model.objects.first()
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"

    listing = staff_client.get(reverse(f"{prefix}_changelist"))
    detail = staff_client.get(reverse(f"{prefix}_change", args=[row.pk]))

    assert listing.status_code == detail.status_code == 200
    assert "xoxb-test-token" not in listing.text + detail.text


def test_a_429_shows_on_its_method(staff_client, synced):
    listing = staff_client.get(reverse("admin:slack_methodpace_changelist"))

    assert "users.list" in listing.text
    assert MethodPace.objects.get(method="users.list").rate_limited == 1


@pytest.mark.parametrize("model", [SlackWorkspace, MethodPace])
def test_rows_cannot_be_added_by_hand(staff_client, model):
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"

    assert staff_client.get(reverse(f"{prefix}_add")).status_code == 403


def test_plain_users_cannot_see_them(plain_client):
    response = plain_client.get(reverse("admin:slack_methodpace_changelist"))

    assert response.status_code == 302
