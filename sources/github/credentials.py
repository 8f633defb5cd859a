"""Which GitHub token a sync uses, and marking one broken when GitHub refuses it.

A connected account (OAuth) wins; the `GITHUB_TOKEN` setting is the fallback.
The token itself lives only in memory here (`ActiveCredential.token`, never in
its repr); the database row holds its fingerprint, health and rate budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from ingestion.encryption import DecryptionError, decrypt, token_fingerprint
from ingestion.errors import PermanentError
from sources.github.models import CredentialKind, GitHubCredential

CONNECT_HINT = "connect GitHub again at /github/connect"


@dataclass(frozen=True)
class ActiveCredential:
    pk: int
    label: str
    token: str = field(repr=False)

    def fix_hint(self, kind: str) -> str:
        """What a person does about a refused token, naming the credential to fix."""
        if kind == CredentialKind.OAUTH:
            return f"{CONNECT_HINT} (the connection {self.label!r} was refused)"
        return "replace GITHUB_TOKEN with a valid personal access token, or connect GitHub"


def active_credential() -> tuple[ActiveCredential, str]:
    """The credential to sync with and its kind; PermanentError when there is none to use."""
    connected = (
        GitHubCredential.objects.filter(kind=CredentialKind.OAUTH, disconnected_at__isnull=True)
        .order_by("-connected_at", "-pk")
        .first()
    )
    if connected is not None:
        if connected.broken_at is not None:
            raise PermanentError(
                f"GitHub refused the connected account {connected.label!r} "
                f"({connected.broken_reason or '401'}): {CONNECT_HINT}."
            )
        try:
            token = decrypt(connected.token_ciphertext)
        except DecryptionError:
            mark_broken(connected.pk, "the stored token cannot be decrypted")
            raise PermanentError(
                f"The token of {connected.label!r} cannot be decrypted with HUB_ENCRYPTION_KEY "
                f"(was the key changed without keeping the old one?): {CONNECT_HINT}."
            ) from None
        return ActiveCredential(connected.pk, connected.label, token), CredentialKind.OAUTH
    token = settings.GITHUB_TOKEN
    if not token:
        raise PermanentError(
            "No GitHub credential: connect GitHub at /github/connect, or set GITHUB_TOKEN."
        )
    row, _ = GitHubCredential.objects.get_or_create(
        fingerprint=token_fingerprint(token),
        defaults={"kind": CredentialKind.TOKEN, "label": "GITHUB_TOKEN"},
    )
    return ActiveCredential(row.pk, row.label, token), CredentialKind.TOKEN


def mark_broken(credential_pk: int, reason: str) -> None:
    GitHubCredential.objects.filter(pk=credential_pk).update(
        broken_at=timezone.now(), broken_reason=reason[:300]
    )


def mark_working(credential_pk: int) -> None:
    """A token GitHub accepts again (a GITHUB_TOKEN re-enabled upstream) is healthy again."""
    GitHubCredential.objects.filter(pk=credential_pk, broken_at__isnull=False).update(
        broken_at=None, broken_reason=""
    )
