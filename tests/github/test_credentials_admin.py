"""The GitHub credentials admin: read-only, never a token, disconnect as an action."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from sources.github.models import CredentialKind, GitHubCredential
from sources.github.oauth import save_connected_credential

pytestmark = pytest.mark.django_db

TOKEN = "gho_AdminPageMustNeverShowThis0123456789"
CHANGELIST_URL = reverse("admin:github_githubcredential_changelist")


@pytest.fixture
def connected(settings, staff_user, github_upstream, github_server) -> GitHubCredential:
    """An account connected with a token the fake GitHub issued to the hub's OAuth app."""
    settings.GITHUB_API_URL = github_server.url
    settings.SOCIAL_AUTH_GITHUB_KEY = github_upstream.oauth_client_id
    settings.SOCIAL_AUTH_GITHUB_SECRET = github_upstream.oauth_client_secret
    github_upstream.issued_tokens[TOKEN] = "repo,read:org"
    github_upstream.issue_token(TOKEN)
    credential = save_connected_credential(
        user=staff_user, login="octocat", token=TOKEN, scopes="repo,read:org"
    )
    GitHubCredential.objects.filter(pk=credential.pk).update(
        rate_limit=5000, rate_remaining=4990, rate_reset_at=timezone.now(), requests_made=10
    )
    credential.refresh_from_db()
    return credential


def test_the_list_shows_each_credential_and_its_budget_but_not_its_token(staff_client, connected):
    page = staff_client.get(CHANGELIST_URL).content.decode()

    assert "octocat (connected by staff)" in page
    assert "4990 / 5000" in page
    assert TOKEN not in page
    assert connected.token_ciphertext not in page


def test_the_list_links_to_connect_github(staff_client, connected):
    page = staff_client.get(CHANGELIST_URL).content.decode()

    assert f'href="{reverse("github:connect")}"' in page
    assert "Connect GitHub" in page


def test_a_credential_page_is_read_only_and_shows_no_token(staff_client, connected):
    response = staff_client.get(
        reverse("admin:github_githubcredential_change", args=[connected.pk])
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "octocat" in page
    assert TOKEN not in page
    assert connected.token_ciphertext not in page
    assert 'name="_save"' not in page
    assert 'name="label"' not in page  # no input: every field is read-only


def test_credentials_cannot_be_added_or_deleted_in_the_admin(staff_client, connected):
    add = staff_client.get(reverse("admin:github_githubcredential_add"))
    delete = staff_client.post(
        reverse("admin:github_githubcredential_delete", args=[connected.pk]), {"post": "yes"}
    )

    assert add.status_code == 403
    assert delete.status_code == 403
    assert GitHubCredential.objects.filter(pk=connected.pk).exists()


def test_the_disconnect_action_revokes_the_grant_and_forgets_the_token(
    staff_client, connected, github_upstream
):
    response = staff_client.post(
        CHANGELIST_URL,
        {"action": "disconnect_accounts", "_selected_action": [connected.pk]},
        follow=True,
    )

    assert "Disconnected 1 account(s); GitHub revoked access." in response.content.decode()
    connected.refresh_from_db()
    assert connected.status() == "disconnected"
    assert connected.token_ciphertext == ""
    assert not github_upstream.accepts(TOKEN)


def test_the_disconnect_action_skips_the_github_token_credential(staff_client):
    credential = GitHubCredential.objects.create(
        kind=CredentialKind.TOKEN, fingerprint="f" * 64, label="GITHUB_TOKEN setting"
    )

    response = staff_client.post(
        CHANGELIST_URL,
        {"action": "disconnect_accounts", "_selected_action": [credential.pk]},
        follow=True,
    )

    assert "Skipped 1" in response.content.decode()
    credential.refresh_from_db()
    assert credential.is_active


def test_social_auth_associations_have_no_admin_page(staff_client):
    response = staff_client.get("/admin/social_django/usersocialauth/")

    assert response.status_code == 404


def test_users_who_are_not_staff_cannot_see_credentials(plain_client, connected):
    response = plain_client.get(CHANGELIST_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
