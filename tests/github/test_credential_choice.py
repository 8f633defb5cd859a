"""Which token a sync uses: a connected account first, GITHUB_TOKEN as the fallback."""

from __future__ import annotations

import pytest

from ingestion.encryption import encrypt, generate_key, token_fingerprint
from ingestion.errors import PermanentError
from sources.github.credentials import active_credential
from sources.github.models import CredentialKind, GitHubCredential

pytestmark = pytest.mark.django_db


def connect(token: str, login: str = "octocat") -> GitHubCredential:
    return GitHubCredential.objects.create(
        kind=CredentialKind.OAUTH,
        fingerprint=token_fingerprint(token),
        label=f"{login} (connected)",
        login=login,
        token_ciphertext=encrypt(token),
    )


def test_a_connected_account_is_used_before_github_token(settings):
    settings.GITHUB_TOKEN = "ghp_fallback"
    connect("gho_connected")

    credential, kind = active_credential()

    assert kind == CredentialKind.OAUTH
    assert credential.token == "gho_connected"
    assert "gho_connected" not in repr(credential)


def test_github_token_is_used_once_the_account_is_disconnected(settings):
    settings.GITHUB_TOKEN = "ghp_fallback"
    connected = connect("gho_connected")
    connected.disconnected_at = connected.connected_at
    connected.save()

    credential, kind = active_credential()

    assert kind == CredentialKind.TOKEN
    assert credential.token == "ghp_fallback"


def test_a_token_that_no_key_decrypts_marks_the_account_broken_and_says_why(settings):
    connected = connect("gho_connected")
    settings.HUB_ENCRYPTION_KEY = generate_key()  # the old key was replaced, not rotated

    with pytest.raises(PermanentError, match="HUB_ENCRYPTION_KEY"):
        active_credential()

    connected.refresh_from_db()
    assert connected.is_broken


def test_a_connected_account_refused_before_fails_fast_asking_to_reconnect(settings):
    settings.GITHUB_TOKEN = "ghp_fallback"
    connected = connect("gho_connected")
    GitHubCredential.objects.filter(pk=connected.pk).update(
        broken_at=connected.connected_at, broken_reason="401 Bad credentials"
    )

    with pytest.raises(PermanentError, match="connect GitHub again"):
        active_credential()
