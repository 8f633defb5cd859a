"""Removing secrets from text before it is logged, stored or returned.

`redact(text)` replaces every known secret value (read from settings) and every
token-shaped string with "[REDACTED]". Used by the logging filter for every log
record, and by the pipeline wherever an error message is stored (job.last_error,
SyncRun.error, rejected records) or returned by the API.

Two layers, because either alone leaks:
- known values: the configured tokens themselves, whatever their shape (a Jira
  API token has no recognisable prefix);
- patterns: tokens we were never told about (a token in a URL, an Authorization
  header echoed by an upstream error page).
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

REDACTED = "[REDACTED]"

# Settings that hold secrets whatever their name; plus every setting whose name
# ends with one of SECRET_SUFFIXES.
SECRET_SETTING_NAMES = (
    "GITHUB_TOKEN",
    "JIRA_API_TOKEN",
    "JIRA_PAT",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "GITHUB_WEBHOOK_SECRET",
    "SECRET_KEY",
    "HUB_ENCRYPTION_KEY",
    "SOCIAL_AUTH_GITHUB_SECRET",
    "HUB_ADMIN_PASSWORD",
    "METRICS_TOKEN",
)
SECRET_SUFFIXES = ("_TOKEN", "_SECRET", "_PASSWORD", "_KEY", "_PAT")
# Shorter values are not redacted by value: replacing "abc" everywhere would
# mangle ordinary text, and a real secret is never that short.
MIN_SECRET_LENGTH = 6

TOKEN_PATTERNS = [
    # GitHub: classic and fine-grained personal tokens, OAuth, app and refresh tokens.
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    # Slack: bot, user, app, refresh tokens.
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"),
    re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"),
    # An Authorization header as text, e.g. "Authorization: Basic dXNlcjpwYXNz" or
    # a repr of a headers dict: "'Authorization': 'token abc'". The value runs to
    # the end of the quoted string or the line.
    re.compile(
        r"""(?i)(\bauthorization["']?\s*[:=]\s*["']?)[^"'\r\n,}]+""",
    ),
    # Cookie / Set-Cookie headers carry session ids.
    re.compile(r"""(?i)(\b(?:set-)?cookie["']?\s*[:=]\s*["']?)[^"'\r\n}]+"""),
    # Credentials after a scheme: "Bearer abc…", "Basic abc…", "token abc…". After
    # "token" (an ordinary English word too) only a value with a digit counts.
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(\btoken\s+)(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}"),
    # Secrets in query strings and form bodies: ?access_token=…, &client_secret=…
    re.compile(
        r"(?i)(\b(?:access_token|refresh_token|client_secret|api_key|apikey|password|token|secret)=)"
        r"[^&\s\"']+"
    ),
    # user:password@host in URLs.
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?=@)"),
]


def _is_secret_setting(name: str) -> bool:
    return name.isupper() and (name in SECRET_SETTING_NAMES or name.endswith(SECRET_SUFFIXES))


# Cached per process because redact() runs on every log record; cleared when a
# setting changes (override_settings in tests sends setting_changed).
_known_secrets_cache: list[str] | None = None


@receiver(setting_changed)
def _forget_known_secrets(**kwargs: object) -> None:
    global _known_secrets_cache
    _known_secrets_cache = None


def known_secrets() -> list[str]:
    """Every secret value configured in settings, longest first (so a secret that
    contains another is replaced whole)."""
    global _known_secrets_cache
    if _known_secrets_cache is None:
        _known_secrets_cache = _read_known_secrets()
    return _known_secrets_cache


def _read_known_secrets() -> list[str]:
    values: set[str] = set()
    for name in dir(settings):
        if not _is_secret_setting(name):
            continue
        value = getattr(settings, name, None)
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            values.add(value)
    return sorted(values, key=len, reverse=True)


@lru_cache(maxsize=8)
def _known_secrets_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    if not secrets:
        return None
    return re.compile("|".join(re.escape(secret) for secret in secrets))


def _replace_keeping_prefix(match: re.Match[str]) -> str:
    # Patterns with a group keep their label ("Authorization: ") so the reader
    # still sees what was removed.
    prefix = match.group(1) if match.re.groups else ""
    return f"{prefix}{REDACTED}"


def redact(text: str) -> str:
    """`text` with every known secret and token-shaped string replaced by [REDACTED]."""
    if not text:
        return text
    pattern = _known_secrets_pattern(tuple(known_secrets()))
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for token_pattern in TOKEN_PATTERNS:
        text = token_pattern.sub(_replace_keeping_prefix, text)
    return text


def redact_value(value: object) -> object:
    """Redact strings inside a JSON-like value (dicts, lists), leaving other types alone."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value
