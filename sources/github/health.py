"""The GitHub credentials in /api/health: a refused token makes the hub "degraded"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Q

from ingestion.encryption import token_fingerprint
from ingestion.health import DEGRADED, OK, UNKNOWN, Check, register_check
from sources.github.models import CredentialKind, GitHubCredential


def credentials_in_use() -> list[GitHubCredential]:
    """Connected accounts, and the row of the GITHUB_TOKEN set now (not of replaced ones)."""
    in_use = Q(kind=CredentialKind.OAUTH, disconnected_at__isnull=True)
    if settings.GITHUB_TOKEN:
        in_use |= Q(kind=CredentialKind.TOKEN, fingerprint=token_fingerprint(settings.GITHUB_TOKEN))
    return list(GitHubCredential.objects.filter(in_use))


def iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def describe(credential: GitHubCredential) -> dict[str, Any]:
    """A credential as the API, health and admin may show it: never the token."""

    return {
        "id": credential.pk,
        "label": credential.label,
        "kind": credential.kind,
        "login": credential.login,
        "status": credential.status(),
        "broken_reason": credential.broken_reason,
        "limit": credential.rate_limit,
        "remaining": credential.rate_remaining,
        "used": credential.rate_used,
        "reset": iso(credential.rate_reset_at),
        "seen_at": iso(credential.rate_seen_at),
        "blocked_until": iso(credential.blocked_until),
        "requests_made": credential.requests_made,
        "not_modified": credential.not_modified,
    }


@register_check("github_credentials")
def check_github_credentials() -> Check:
    credentials = credentials_in_use()
    if not credentials and not settings.GITHUB_TOKEN:
        return Check(UNKNOWN, {"reason": "GitHub is not configured", "credentials": []})
    described = [describe(credential) for credential in credentials]
    broken = any(credential.is_broken for credential in credentials)
    return Check(DEGRADED if broken else OK, {"credentials": described})
