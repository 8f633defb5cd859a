"""Slack Web API requests through slack-sdk's `WebClient`, one at a time.

`SlackClient` builds the WebClient from SLACK_API_URL, SLACK_BOT_TOKEN and
SLACK_TIMEOUT with slack-sdk's retry handlers turned off: its
RateLimitErrorRetryHandler sleeps through any Retry-After inside the worker
(a minute, under the 2025 limits) and tells no other worker, and any retry
made inside the SDK would skip the shared pace (`pace.py`), spending the one
request a minute twice. Retries are made by `paging.Reader`, each claimed from
the pace like a first request.

`send` makes one request and returns Slack's answer, or raises: an answer with
`ok: false` is always an error, never an empty page (a peer lost data by
reading one as "no more messages"). Slack's own trouble (5xx, 429,
`internal_error`, …) is a TransientError; a refused token, a missing scope or
any other error code is a SlackError (permanent) that says what to fix. A 429
also blocks the method for every worker until its Retry-After has passed.
"""

from __future__ import annotations

import datetime as dt
import http.client
import time
import urllib.parse
from typing import Any
from urllib.error import URLError

from django.conf import settings
from django.utils import timezone
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ingestion.backoff import retry_after_seconds
from ingestion.breaker import defer_while_open, host_key, record_failure, record_success
from ingestion.encryption import token_fingerprint
from ingestion.errors import WAIT_RATE_LIMIT, Deferred, PermanentError, TransientError
from sources.slack import pace
from sources.slack.models import SlackWorkspace

# Errors Slack documents as its own, temporary trouble.
TRANSIENT_CODES = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
# Errors that mean the token itself is refused, whatever the method.
TOKEN_CODES = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
        "org_login_required",
    }
)
# Slack always sends Retry-After with a 429; should it not, wait a Tier 1 minute.
DEFAULT_RETRY_AFTER = 60.0
# How long a method found unblocked is not looked up again.
UNBLOCKED_RECHECK_SECONDS = 1.0
# What urllib (slack-sdk's HTTP layer) raises when the connection fails, stalls or is cut.
CONNECTION_ERRORS = (URLError, TimeoutError, ConnectionError, http.client.HTTPException)
# slack-sdk's text for a body that is not JSON (a proxy's error page): not Slack's answer.
NOT_JSON_MARKER = "non-JSON"


class SlackError(PermanentError):
    """Slack answered `ok: false` with an error code retrying will not fix."""

    def __init__(self, message: str, *, method: str, code: str) -> None:
        super().__init__(message)
        self.method = method
        self.code = code


def configured_token() -> str:
    token = (settings.SLACK_BOT_TOKEN or "").strip()
    if not token:
        raise PermanentError(
            "SLACK_BOT_TOKEN is not set: create a Slack app, add a bot user with the scopes "
            "channels:read, groups:read, channels:history, groups:history, users:read and "
            "users:read.email, install it and set SLACK_BOT_TOKEN to its xoxb- token."
        )
    return token


class SlackClient:
    """One fetch's connection to Slack: the WebClient, the host's breaker, the pace."""

    def __init__(self) -> None:
        token = configured_token()
        self.fingerprint = token_fingerprint(token)
        self.api_url = settings.SLACK_API_URL
        self.host = urllib.parse.urlsplit(self.api_url).hostname or self.api_url
        self.accepted = False
        # Per method without a pace of its own: until when no 429 block needs looking for.
        self.unblocked_until: dict[str, float] = {}
        self.web = WebClient(
            token=token,
            base_url=self.api_url,
            timeout=max(1, round(settings.SLACK_TIMEOUT)),
            retry_handlers=[],
        )

    # --- the host's circuit breaker and the pace ------------------------------------------
    def check_host(self) -> None:
        """Defer (not fail) while the Slack host's breaker is open."""
        defer_while_open(host_key(self.host), self.host)

    def record_failure(self) -> None:
        record_failure(host_key(self.host))

    def claim(self, method: str) -> float:
        """0.0 when a request of `method` may go now, else the seconds to wait first.

        A method without a pace of its own is only checked for another worker's 429
        block, and at most once a second: a block missed meanwhile costs one more 429,
        which this client then records and waits out like any other.
        """
        if pace.interval_seconds(method):
            return pace.claim(self.fingerprint, method)
        now = time.monotonic()
        if self.unblocked_until.get(method, 0.0) > now:
            return 0.0
        wait = pace.blocked_for(self.fingerprint, method)
        if not wait:
            self.unblocked_until[method] = now + UNBLOCKED_RECHECK_SECONDS
        return wait

    def deferred(self, method: str, seconds: float) -> Deferred:
        at = timezone.now() + dt.timedelta(seconds=seconds)
        per_minute = settings.SLACK_REQUESTS_PER_MINUTE
        why = (
            f"The pace of {method} (SLACK_REQUESTS_PER_MINUTE={per_minute:g}, or a 429's "
            "Retry-After)"
            if method in pace.PACED_METHODS
            else f"Slack asked to wait before the next {method} (429 Retry-After)"
        )
        return Deferred(
            seconds,
            WAIT_RATE_LIMIT,
            f"{why}: the sync stopped at its checkpoint and resumes at "
            f"{at.isoformat(timespec='seconds')}.",
        )

    # --- one request ----------------------------------------------------------------------
    def send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """POST `method` with `params` (slack-sdk sends every method as a form POST).

        Returns the answer's data (always `ok: true`). Raises TransientError (its
        `retry_after` set on a 429) or SlackError.
        """
        return self.interpret(method, self.exchange(method, params))

    def exchange(self, method: str, params: dict[str, Any]) -> Any:
        """The HTTP exchange alone: slack-sdk's response, or the error it raised. Touches no
        database, so several may run at once in worker threads; `interpret` the outcome."""
        try:
            return self.web.api_call(method, params=params)
        except (SlackApiError, *CONNECTION_ERRORS) as error:
            return error

    def interpret(self, method: str, outcome: Any) -> dict[str, Any]:
        """An exchange's outcome → Slack's data, or the error it stands for."""
        if isinstance(outcome, SlackApiError):
            raise self._failure(method, outcome.response)
        if isinstance(outcome, BaseException):
            raise TransientError(
                f"{method} failed: {type(outcome).__name__} talking to {self.host}"
            )
        data = outcome.data
        if not isinstance(data, dict):
            raise TransientError(f"{method} answered a body that is not a JSON object")
        if not self.accepted:
            # Once per fetch: a success ends the host's run of failures.
            record_success(host_key(self.host))
            self.accepted = True
        return data

    def _failure(self, method: str, response: Any) -> Exception:
        status = int(response.status_code)
        data = response.data if isinstance(response.data, dict) else {}
        code = str(data.get("error") or "")
        if status == 429 or code == "ratelimited":
            seconds = retry_after_seconds(response.headers)
            if seconds is None:
                seconds = DEFAULT_RETRY_AFTER
            pace.block(self.fingerprint, method, seconds)
            self.unblocked_until.pop(method, None)
            return TransientError(
                f"Slack rate-limited {method} (429): no request before {seconds:.0f} s have passed",
                retry_after=seconds,
            )
        if status >= 500 or code in TRANSIENT_CODES or NOT_JSON_MARKER in code:
            return TransientError(f"{method} answered {status} {code or '(no error code)'}")
        if status != 200:
            return SlackError(
                f"{self.api_url} answered {status} to {method}: check SLACK_API_URL "
                "(Slack's is https://slack.com/api/).",
                method=method,
                code=code or str(status),
            )
        if code in TOKEN_CODES:
            return SlackError(
                f"Slack refused SLACK_BOT_TOKEN ({code}): create a new bot token (reinstall "
                "the app to the workspace) and set SLACK_BOT_TOKEN to it.",
                method=method,
                code=code,
            )
        if code == "missing_scope":
            needed = str(data.get("needed") or "?")
            return SlackError(
                f"SLACK_BOT_TOKEN lacks the scope {needed} that {method} needs: add it under "
                "OAuth & Permissions in the Slack app's settings and reinstall the app.",
                method=method,
                code=code,
            )
        return SlackError(
            f"Slack answered {method} with error {code or '(none)'}", method=method, code=code
        )

    # --- the workspace ----------------------------------------------------------------------
    def remember_workspace(self, answer: dict[str, Any]) -> SlackWorkspace:
        """Keep what `auth.test` said about the token's workspace."""
        workspace, _ = SlackWorkspace.objects.update_or_create(
            fingerprint=self.fingerprint,
            defaults={
                "team_id": str(answer.get("team_id") or "")[:50],
                "team": str(answer.get("team") or "")[:200],
                "url": str(answer.get("url") or "")[:300],
                "bot_user_id": str(answer.get("user_id") or "")[:50],
                "bot_id": str(answer.get("bot_id") or "")[:50],
                "checked_at": timezone.now(),
            },
        )
        return workspace

    def stored_workspace(self) -> SlackWorkspace | None:
        return SlackWorkspace.objects.filter(fingerprint=self.fingerprint).first()


def connect() -> SlackClient:
    """A client for one fetch, refused (deferred) while the host's breaker is open.

    Nothing to close afterwards: slack-sdk's urllib layer opens a connection per request.
    """
    client = SlackClient()
    client.check_host()
    return client
