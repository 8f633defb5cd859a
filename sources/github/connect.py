"""Disconnecting a connected GitHub account: revoke upstream, forget the token locally."""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from social_django.models import UserSocialAuth

from ingestion.encryption import DecryptionError, decrypt
from sources.github.models import CredentialKind, GitHubCredential
from sources.github.oauth import BACKEND_NAME

__all__ = ["disconnect", "revoke_grant"]

logger = logging.getLogger(__name__)


def disconnect(credential: GitHubCredential, by_user: Any) -> bool:
    """Disconnect a connected account; True when GitHub confirmed the grant is revoked.

    Revoking upstream is best effort: when GitHub cannot be reached or refuses, the
    failure is logged (never the token) and the hub forgets the token all the same,
    since a person asking to disconnect wants the hub to stop using it now. The
    account's social-auth association goes too; the credential row stays, marked
    disconnected, for its history.
    """
    if credential.kind != CredentialKind.OAUTH:
        raise ValueError(
            "Only a connected account can be disconnected; the GITHUB_TOKEN credential "
            "goes away when the setting is removed."
        )
    revoked = revoke_grant(credential)
    with transaction.atomic():
        GitHubCredential.objects.filter(pk=credential.pk).update(
            disconnected_at=timezone.now(), token_ciphertext=""
        )
        UserSocialAuth.objects.filter(
            provider=BACKEND_NAME, extra_data__login=credential.login
        ).delete()
    credential.refresh_from_db()
    logger.info(
        "GitHub credential %r (%s) disconnected by %s; grant revoked on GitHub: %s",
        credential.label,
        credential.pk,
        by_user.get_username() if by_user is not None else "system",
        "yes" if revoked else "no",
    )
    return revoked


def revoke_grant(credential: GitHubCredential) -> bool:
    """Ask GitHub to revoke the OAuth app's grant for this account (all its tokens).

    True on GitHub's 204; False, logged, on anything else. Never raises for an
    upstream failure.
    """
    if not credential.token_ciphertext:
        return False
    client_id = settings.SOCIAL_AUTH_GITHUB_KEY
    client_secret = settings.SOCIAL_AUTH_GITHUB_SECRET
    if not client_id or not client_secret:
        logger.warning(
            "GitHub credential %s: not revoked on GitHub, SOCIAL_AUTH_GITHUB_KEY and "
            "SOCIAL_AUTH_GITHUB_SECRET are not both set",
            credential.pk,
        )
        return False
    try:
        token = decrypt(credential.token_ciphertext)
    except DecryptionError as error:
        logger.warning("GitHub credential %s: not revoked on GitHub: %s", credential.pk, error)
        return False
    url = f"{settings.GITHUB_API_URL.rstrip('/')}/applications/{client_id}/grant"
    try:
        # DELETE /applications/{client_id}/grant (Basic auth: the OAuth app's id and secret)
        response = requests.delete(
            url,
            auth=(client_id, client_secret),
            json={"access_token": token},
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            timeout=settings.GITHUB_TIMEOUT,
        )
    except requests.RequestException as error:
        # The exception's text may quote the request; its class says enough.
        logger.warning(
            "GitHub credential %s: not revoked on GitHub, the request failed (%s)",
            credential.pk,
            type(error).__name__,
        )
        return False
    if response.status_code != 204:
        logger.warning(
            "GitHub credential %s: not revoked on GitHub, it answered %s (404: the grant "
            "is already gone, or the client id/secret is wrong)",
            credential.pk,
            response.status_code,
        )
        return False
    return True
