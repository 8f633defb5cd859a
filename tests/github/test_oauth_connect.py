"""Connect GitHub: a staff member's OAuth round trip against the fake GitHub, the token
stored encrypted (and nowhere else), and disconnecting.

The browser's part (following GitHub's redirects) is played by `requests` against
the fake; the hub's part by Django's test client. social-core talks to the fake over
real HTTP: nothing is mocked.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from social_django.models import UserSocialAuth

from ingestion.encryption import decrypt
from sources.github.models import CredentialKind, GitHubCredential
from tests.fakes.github import FakeGitHub

pytestmark = pytest.mark.django_db

BACKEND = "github-enterprise"
BEGIN_URL = reverse("social:begin", args=[BACKEND])
COMPLETE_URL = reverse("social:complete", args=[BACKEND])
CONNECT_URL = reverse("github:connect")


@pytest.fixture(autouse=True)
def oauth_app(settings, github_server):
    """The hub registered as an OAuth app of the fake (client id and secret are the fake's
    defaults), which serves the OAuth pages and the API on one root."""
    settings.GITHUB_OAUTH_URL = github_server.url
    settings.GITHUB_API_URL = github_server.url
    settings.SOCIAL_AUTH_GITHUB_KEY = "hub-client-id"
    settings.SOCIAL_AUTH_GITHUB_SECRET = "hub-client-secret"
    return settings


def authorize_at_github(authorize_url: str) -> dict[str, str]:
    """The browser at GitHub's authorize page (auto-approved): the callback's parameters."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    assert callback.path == COMPLETE_URL
    return {name: values[0] for name, values in parse_qs(callback.query).items()}


def connect(client) -> tuple[object, dict[str, str]]:
    """The whole round trip; returns the hub's answer to the callback and its parameters."""
    begun = client.post(BEGIN_URL)
    assert begun.status_code == 302, begun
    callback = authorize_at_github(begun["Location"])
    return client.get(COMPLETE_URL, callback, follow=True), callback


def issued_token(upstream: FakeGitHub) -> str:
    (token,) = upstream.issued_tokens
    return token


def every_stored_text() -> str:
    """Every row of every table, and every session's decoded data, as one text."""
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                texts.append(" ".join(_as_text(value) for value in row))
    for session in Session.objects.all():
        texts.append(json.dumps(session.get_decoded()))
    return "\n".join(texts)


def _as_text(value: object) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def test_connect_sends_the_browser_to_github_with_state_and_the_repo_and_org_scopes(
    staff_client, github_server
):
    response = staff_client.post(BEGIN_URL)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}" == github_server.url
    assert location.path == "/login/oauth/authorize"
    query = {name: values[0] for name, values in parse_qs(location.query).items()}
    assert query["client_id"] == "hub-client-id"
    assert query["scope"] == "repo,read:org"
    assert len(query["state"]) >= 32
    assert query["redirect_uri"] == f"http://testserver{COMPLETE_URL}"


def test_connecting_stores_the_token_encrypted_on_a_credential(
    staff_client, staff_user, github_upstream
):
    response, _ = connect(staff_client)

    assert response.redirect_chain[-1][0] == CONNECT_URL
    credential = GitHubCredential.objects.get()
    assert credential.kind == CredentialKind.OAUTH
    assert credential.login == "octocat"
    assert credential.label == "octocat (connected by staff)"
    assert credential.scopes == "repo,read:org"
    assert credential.connected_by == staff_user
    assert credential.disconnected_at is None
    assert decrypt(credential.token_ciphertext) == issued_token(github_upstream)


def test_the_token_in_plain_text_is_in_no_table_nor_session(staff_client, github_upstream):
    connect(staff_client)

    token = issued_token(github_upstream)
    stored = every_stored_text()
    assert "octocat" in stored  # the dump does see the connection's rows
    assert token not in stored


def test_the_social_auth_association_keeps_no_token(staff_client, staff_user):
    connect(staff_client)

    association = UserSocialAuth.objects.get()
    assert association.user == staff_user
    assert association.provider == BACKEND
    assert association.extra_data["login"] == "octocat"
    assert not {"access_token", "refresh_token"} & set(association.extra_data)


def test_connecting_creates_no_user(staff_client, django_user_model):
    connect(staff_client)

    assert list(django_user_model.objects.values_list("username", flat=True)) == ["staff"]


def test_the_connect_page_lists_the_credential_but_never_its_token(staff_client, github_upstream):
    connect(staff_client)
    credential = GitHubCredential.objects.get()

    page = staff_client.get(CONNECT_URL).content.decode()

    assert "octocat (connected by staff)" in page
    assert "Disconnect" in page
    assert issued_token(github_upstream) not in page
    assert credential.token_ciphertext not in page


def test_a_tampered_state_is_refused_before_any_code_is_exchanged(staff_client, github_upstream):
    callback = authorize_at_github(staff_client.post(BEGIN_URL)["Location"])
    callback["state"] = callback["state"][:-4] + "abcd"

    response = staff_client.get(COMPLETE_URL, callback, follow=True)

    assert response.redirect_chain[-1][0] == CONNECT_URL
    assert "Connecting GitHub failed" in response.content.decode()
    assert not GitHubCredential.objects.exists()
    assert github_upstream.issued_tokens == {}


def test_a_callback_without_state_is_refused(staff_client, github_upstream):
    callback = authorize_at_github(staff_client.post(BEGIN_URL)["Location"])
    del callback["state"]

    response = staff_client.get(COMPLETE_URL, callback, follow=True)

    assert "Connecting GitHub failed" in response.content.decode()
    assert github_upstream.issued_tokens == {}


def test_a_code_github_refuses_is_reported_and_changes_nothing(staff_client, github_upstream):
    _, first_callback = connect(staff_client)
    first_token = issued_token(github_upstream)
    second_callback = authorize_at_github(staff_client.post(BEGIN_URL)["Location"])
    # The first code again (GitHub accepts a code once), with the new state.
    replayed = {"code": first_callback["code"], "state": second_callback["state"]}

    response = staff_client.get(COMPLETE_URL, replayed, follow=True)

    assert "Connecting GitHub failed" in response.content.decode()
    assert list(github_upstream.issued_tokens) == [first_token]
    assert decrypt(GitHubCredential.objects.get().token_ciphertext) == first_token


def test_anonymous_visitors_are_sent_to_sign_in_instead_of_github(client):
    response = client.post(BEGIN_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert f"{BACKEND}_state" not in client.session


def test_signed_in_users_who_are_not_staff_cannot_connect(plain_client):
    response = plain_client.post(BEGIN_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert f"{BACKEND}_state" not in plain_client.session


def test_a_callback_reaching_a_signed_out_visitor_exchanges_no_code(staff_client, github_upstream):
    callback = authorize_at_github(staff_client.post(BEGIN_URL)["Location"])
    staff_client.logout()

    response = staff_client.get(COMPLETE_URL, callback)

    assert response["Location"].startswith(reverse("admin:login"))
    assert github_upstream.issued_tokens == {}
    assert not GitHubCredential.objects.exists()


def test_connect_starts_only_from_a_form_post(staff_client):
    assert staff_client.get(BEGIN_URL).status_code == 405


def test_connect_is_refused_with_an_explanation_when_no_oauth_app_is_configured(
    staff_client, settings
):
    settings.SOCIAL_AUTH_GITHUB_KEY = ""

    response = staff_client.post(BEGIN_URL, follow=True)

    assert response.redirect_chain == [(CONNECT_URL, 302)]
    page = response.content.decode()
    assert "SOCIAL_AUTH_GITHUB_KEY" in page
    assert 'value="Connect GitHub" disabled' in page


def test_reconnecting_the_same_account_refreshes_its_credential(staff_client, github_upstream):
    connect(staff_client)
    first = GitHubCredential.objects.get()
    connect(staff_client)

    credential = GitHubCredential.objects.get()
    assert credential.pk == first.pk
    newest = list(github_upstream.issued_tokens)[-1]
    assert decrypt(credential.token_ciphertext) == newest


def test_an_account_connected_by_one_staff_member_cannot_be_taken_by_another(
    staff_client, django_user_model
):
    connect(staff_client)
    other_staff = Client()
    other_staff.force_login(django_user_model.objects.create_user("other", is_staff=True))

    response, _ = connect(other_staff)

    assert "Connecting GitHub failed" in response.content.decode()
    assert GitHubCredential.objects.get().connected_by.username == "staff"


def test_disconnect_revokes_the_grant_at_github_and_forgets_the_token(
    staff_client, github_upstream
):
    connect(staff_client)
    credential = GitHubCredential.objects.get()
    token = issued_token(github_upstream)

    response = staff_client.post(reverse("github:disconnect", args=[credential.pk]), follow=True)

    assert "GitHub revoked its access" in response.content.decode()
    credential.refresh_from_db()
    assert credential.disconnected_at is not None
    assert credential.token_ciphertext == ""
    assert credential.status() == "disconnected"
    assert not github_upstream.accepts(token)
    assert not UserSocialAuth.objects.exists()


def test_disconnect_forgets_the_token_even_when_github_cannot_be_reached(
    staff_client, github_upstream, github_server, caplog
):
    connect(staff_client)
    credential = GitHubCredential.objects.get()
    token = issued_token(github_upstream)
    github_server.stop()

    with caplog.at_level(logging.WARNING):
        response = staff_client.post(
            reverse("github:disconnect", args=[credential.pk]), follow=True
        )

    assert "did not confirm the revocation" in response.content.decode()
    credential.refresh_from_db()
    assert credential.token_ciphertext == ""
    assert credential.disconnected_at is not None
    assert "not revoked on GitHub" in caplog.text
    assert token not in caplog.text


def test_disconnect_is_a_form_post(staff_client):
    connect(staff_client)
    credential = GitHubCredential.objects.get()

    response = staff_client.get(reverse("github:disconnect", args=[credential.pk]))

    assert response.status_code == 405
    credential.refresh_from_db()
    assert credential.is_active


def test_users_who_are_not_staff_cannot_disconnect(staff_client, plain_user):
    connect(staff_client)
    credential = GitHubCredential.objects.get()
    plain = Client()
    plain.force_login(plain_user)

    response = plain.post(reverse("github:disconnect", args=[credential.pk]))

    assert response["Location"].startswith(reverse("admin:login"))
    credential.refresh_from_db()
    assert credential.is_active
    assert credential.token_ciphertext


def test_disconnecting_twice_says_it_was_already_done(staff_client):
    connect(staff_client)
    url = reverse("github:disconnect", args=[GitHubCredential.objects.get().pk])
    staff_client.post(url)

    response = staff_client.post(url, follow=True)

    assert "was already disconnected" in response.content.decode()


def test_a_github_token_credential_cannot_be_disconnected_here(staff_client):
    credential = GitHubCredential.objects.create(
        kind=CredentialKind.TOKEN, fingerprint="f" * 64, label="GITHUB_TOKEN"
    )

    response = staff_client.post(reverse("github:disconnect", args=[credential.pk]))

    assert response.status_code == 404
