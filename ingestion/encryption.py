"""Encryption at rest for the secrets the hub keeps (connected accounts' OAuth tokens).

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) with keys from the
`HUB_ENCRYPTION_KEY` setting: one Fernet key, or several separated by commas to
rotate. The first key encrypts; every key decrypts (a MultiFernet), so a new key
goes first and the old one stays listed until nothing encrypted with it is left.

    encrypt("gho_…") -> "gAAAAAB…"      decrypt("gAAAAAB…") -> "gho_…"

Never log what `decrypt` returns.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "DecryptionError",
    "EncryptionKeyError",
    "decrypt",
    "encrypt",
    "generate_key",
    "token_fingerprint",
]

GENERATE_KEY_COMMAND = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class EncryptionKeyError(ImproperlyConfigured):
    """HUB_ENCRYPTION_KEY is missing or is not a list of Fernet keys."""


class DecryptionError(Exception):
    """A stored ciphertext that none of the configured keys opens."""


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible name for a token: tells two tokens apart, reveals neither."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A new random Fernet key, as HUB_ENCRYPTION_KEY expects it."""
    return Fernet.generate_key().decode("ascii")


def encrypt(text: str) -> str:
    """`text` encrypted with the first key of HUB_ENCRYPTION_KEY (URL-safe ASCII)."""
    return _fernet(settings.HUB_ENCRYPTION_KEY).encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """The text `encrypt` returned `ciphertext` for, with any key of HUB_ENCRYPTION_KEY."""
    try:
        return _fernet(settings.HUB_ENCRYPTION_KEY).decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        # InvalidToken carries no message; say what usually causes it.
        raise DecryptionError(
            "Cannot decrypt a stored secret with any key in HUB_ENCRYPTION_KEY: it was most "
            "likely encrypted with a key that has since been removed (rotated away) or "
            "replaced. Put the old key back after the new one in HUB_ENCRYPTION_KEY "
            "(comma-separated), or reconnect the account."
        ) from error


def parse_keys(value: str) -> list[Fernet]:
    """The Fernet keys in `value` (comma-separated), or an error naming HUB_ENCRYPTION_KEY."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise EncryptionKeyError(
            f"HUB_ENCRYPTION_KEY is empty. Generate a key with: {GENERATE_KEY_COMMAND}"
        )
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError) as error:
            # The message must not echo the key: it is a secret even when malformed.
            raise EncryptionKeyError(
                f"HUB_ENCRYPTION_KEY key #{position} is not a Fernet key (32 bytes, "
                f"URL-safe base64, 44 characters). Generate one with: {GENERATE_KEY_COMMAND}"
            ) from error
    return fernets


@lru_cache(maxsize=4)
def _fernet(value: str) -> MultiFernet:
    # Keyed by the setting's value, so override_settings in tests takes effect.
    return MultiFernet(parse_keys(value))
