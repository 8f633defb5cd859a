"""GitHub repository URLs in one canonical form, so the same repository is one key."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# git@github.com:owner/repo.git
_SCP_FORM = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):(?P<path>.+)$")
_OWNER_REPO = re.compile(r"^[A-Za-z0-9-_.]+/[A-Za-z0-9-_.]+$")


def normalize_github_url(url: str) -> str:
    """`https://host/owner/repo` in lower case, whatever form it was typed in.

    Accepts https/http URLs, scheme-less `github.com/owner/repo`, the SSH form
    `git@github.com:owner/repo.git`, trailing `.git` and slashes. GitHub compares
    owners and repository names case-insensitively, and so do we.
    """
    text = url.strip()
    if not text:
        return ""
    scp = _SCP_FORM.match(text)
    if scp and "://" not in text:
        host, path = scp["host"], scp["path"]
    else:
        without_scheme = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", text)
        host, _, path = without_scheme.partition("/")
        host = host.rsplit("@", 1)[-1]
    path = path.split("?", 1)[0].split("#", 1)[0].strip("/")
    if path.lower().endswith(".git"):
        path = path[:-4]
    path = path.strip("/")
    if not host or not _OWNER_REPO.match(path):
        raise ValidationError(
            "Enter a GitHub repository URL such as https://github.com/owner/repo.",
            code="invalid_github_url",
        )
    return f"https://{host.lower()}/{path.lower()}"


def repository_full_name(normalized_url: str) -> str:
    """`owner/repo` from a normalized URL ('' when there is none)."""
    if not normalized_url:
        return ""
    return normalized_url.split("/", 3)[3]
