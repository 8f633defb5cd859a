"""The "Connect GitHub" flow: the social-auth backend, and the pipeline steps that store a token.

A staff member signed in to the hub connects a GitHub account; the hub never signs
anyone in or creates a user with GitHub. The flow is social-auth-app-django's
(`social:begin` → GitHub's authorize page → `social:complete`), with:

- `GitHubConnectOAuth2`: social-core's `github-enterprise` backend (its OAuth and API
  URLs are settings, unlike the `github` backend's) made association-only, so the
  OAuth `state` is bound to the staff member who started, and reading the hub's
  own settings (GITHUB_OAUTH_URL, GITHUB_API_URL, SOCIAL_AUTH_GITHUB_KEY/SECRET).
- the pipeline in settings.SOCIAL_AUTH_PIPELINE, ending with `store_credential`,
  which puts the token, encrypted, on a GitHubCredential and keeps it out of
  UserSocialAuth.extra_data (social-core's `load_extra_data` would store it there
  in plain text, so the pipeline does not run it).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from social_core.backends.github_enterprise import GithubEnterpriseOAuth2
from social_core.exceptions import AuthPolicyError, AuthResponseError

from ingestion.encryption import encrypt, token_fingerprint
from sources.github.models import CredentialKind, GitHubCredential

__all__ = [
    "BACKEND_NAME",
    "TOKEN_FIELDS",
    "GitHubConnectOAuth2",
    "require_staff",
    "save_connected_credential",
    "store_credential",
]

logger = logging.getLogger(__name__)

BACKEND_NAME = "github-enterprise"

# Keys of UserSocialAuth.extra_data that would hold a credential: never stored there.
TOKEN_FIELDS = frozenset({"access_token", "refresh_token", "id_token", "token", "oauth_token"})


class GitHubConnectOAuth2(GithubEnterpriseOAuth2):
    """`github-enterprise`, connecting accounts to signed-in staff only.

    ASSOCIATION_ONLY makes social-core refuse to start without a signed-in user, bind
    the `state` it sends to GitHub to that user, and check both on the callback.
    """

    name = BACKEND_NAME
    title = "GitHub"
    ASSOCIATION_ONLY = True

    # What social-core reads as SOCIAL_AUTH_GITHUB_ENTERPRISE_<NAME>, taken from the
    # hub's settings instead: one place configures the GitHub host for syncs and
    # OAuth alike, and override_settings in tests reaches both.
    HUB_SETTINGS = {
        "KEY": "SOCIAL_AUTH_GITHUB_KEY",
        "SECRET": "SOCIAL_AUTH_GITHUB_SECRET",
        "URL": "GITHUB_OAUTH_URL",
        "API_URL": "GITHUB_API_URL",
    }

    def setting(self, name: str, default: Any = None) -> Any:
        if name in self.HUB_SETTINGS:
            return getattr(settings, self.HUB_SETTINGS[name], None) or default
        return super().setting(name, default)


def require_staff(backend: GitHubConnectOAuth2, user: Any = None, *args: Any, **kwargs: Any):
    """Pipeline step: only an active staff member may connect an account (never create one)."""
    if user is None or not user.is_active or not user.is_staff:
        raise AuthPolicyError(backend, code="authentication_disallowed", stage="pipeline")


def store_credential(
    backend: GitHubConnectOAuth2,
    uid: str,
    user: Any,
    response: dict[str, Any],
    details: dict[str, Any],
    social: Any = None,
    *args: Any,
    **kwargs: Any,
) -> dict[str, Any]:
    """Pipeline step, in place of `load_extra_data`: the token goes, encrypted, to a
    GitHubCredential; UserSocialAuth.extra_data keeps only what is not a credential."""
    token = response.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthResponseError(
            backend, code="missing_claim", claim="access_token", stage="pipeline"
        )
    login = str(response.get("login") or details.get("username") or "")
    # The token response names the scopes GitHub granted ("repo,read:org"), which may
    # be fewer than those asked for.
    scopes = str(response.get("scope") or "")
    extra_data = {
        **(social.extra_data or {}),
        **backend.extra_data(user, uid, response, details, kwargs),
    }
    with transaction.atomic():
        credential = save_connected_credential(user=user, login=login, token=token, scopes=scopes)
        social.extra_data = {
            key: value for key, value in extra_data.items() if key not in TOKEN_FIELDS
        }
        social.save()
    logger.info("GitHub account %s connected by %s", login, user.get_username())
    return {"credential": credential}


def save_connected_credential(
    *, user: Any, login: str, token: str, scopes: str
) -> GitHubCredential:
    """Create or refresh the OAuth credential of GitHub account `login`, token encrypted.

    A reconnection refreshes the account's row (its rate-limit history and requests
    made stay: GitHub counts an OAuth app's budget per user, not per token).
    """
    fingerprint = token_fingerprint(token)
    credential = (
        GitHubCredential.objects.filter(fingerprint=fingerprint).first()
        or GitHubCredential.objects.filter(kind=CredentialKind.OAUTH, login=login).first()
        or GitHubCredential(kind=CredentialKind.OAUTH)
    )
    credential.kind = CredentialKind.OAUTH
    credential.fingerprint = fingerprint
    credential.login = login
    credential.label = f"{login} (connected by {user.get_username()})"[:200]
    credential.scopes = scopes[:300]
    credential.token_ciphertext = encrypt(token)
    credential.connected_by = user
    credential.connected_at = timezone.now()
    credential.disconnected_at = None
    credential.broken_at = None
    credential.broken_reason = ""
    credential.save()
    return credential
