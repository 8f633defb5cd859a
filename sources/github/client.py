"""Requests to the GitHub REST API through PyGithub's requester, the way the hub needs them.

PyGithub's own list objects cannot send `If-None-Match`, retry 5xx at once
with no delay, and may sleep an hour waiting for a rate reset. So the streams
call `Requester.requestJson` (PyGithub's HTTP layer: auth, base URL, GitHub
Enterprise paths) and this module decides everything around each request:

- the credential's shared budget is checked before it (`budget.py`): below the
  reserve the sync stops and the job resumes at the reset;
- requests for one credential never run concurrently, across processes;
- secondary rate limits block the credential for at least their Retry-After;
- 5xx, timeouts and resets are retried a few times with backoff, then raised
  as TransientError for the job layer; 401 marks the credential broken;
- list requests remember the ETag of their first page, and a 304 (which costs
  no budget) ends the list: nothing changed since the last successful run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone
from github import Auth, Github

from ingestion.backoff import retry_after_seconds
from ingestion.breaker import defer_while_open, host_key, record_failure, record_success
from ingestion.errors import WAIT_RATE_LIMIT, Deferred, PermanentError, TransientError
from ingestion.streams import FetchContext
from sources.github.budget import (
    Lease,
    RateObservation,
    deferred_until_reset,
    primary_wait,
)
from sources.github.credentials import (
    ActiveCredential,
    active_credential,
    mark_broken,
    mark_working,
)
from sources.github.models import GitHubCredential

_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
SECONDARY_LIMIT_MARKERS = ("secondary rate limit", "abuse detection")
# GitHub's advice when a secondary limit comes without Retry-After: wait at least a minute.
SECONDARY_DEFAULT_WAIT = 60.0

RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    socket.timeout,
    ConnectionError,
)


@dataclass
class Answer:
    status: int
    headers: dict[str, Any]
    data: Any = None

    @property
    def etag(self) -> str:
        return str(self.headers.get("etag", ""))

    @property
    def next_url(self) -> str | None:
        match = _NEXT_LINK.search(str(self.headers.get("link", "")))
        return match.group(1) if match else None


@dataclass
class ListPage:
    records: list[Any]
    next_url: str | None
    requests: int
    not_modified: bool = False
    # How many items an enveloped list says it holds in all (0: a bare list, which does not say).
    total_count: int = 0


def _path_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path or url


def _list_items(data: Any, path: str, items_key: str | None) -> tuple[list[Any], int]:
    """A list page's items, and the total the list counts: a bare JSON list, or one GitHub
    wraps as `{"total_count": N, "<items_key>": [...]}` (the Actions runs and jobs)."""
    if items_key is None:
        return (data if isinstance(data, list) else []), 0
    envelope = data if isinstance(data, dict) else {}
    items = envelope.get(items_key)
    if not isinstance(items, list):
        raise PermanentError(f"GET {path} answered no {items_key!r} list: not GitHub's shape.")
    total = envelope.get("total_count")
    return items, total if isinstance(total, int) else len(items)


def _message_of(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message", ""))[:300]
    return ""


@contextmanager
def fetching(context: FetchContext) -> Iterator[GitHubClient]:
    """A client for one fetch: refused (deferred) while the host's breaker is open, and
    its connection closed however the fetch ends (the harness may abandon it)."""
    client = GitHubClient(context)
    try:
        client.check_host()
        yield client
    finally:
        client.close()


class GitHubClient:
    """One sync's requests: one credential, its shared budget, ETags and retries.

    `context` receives the retries and the new ETags.
    """

    def __init__(
        self,
        context: FetchContext | None = None,
        *,
        credential: ActiveCredential | None = None,
        kind: str | None = None,
    ) -> None:
        if credential is None:
            credential, kind = active_credential()
        self.credential = credential
        self.kind = kind or ""
        self.context = context
        self.api_url = settings.GITHUB_API_URL.rstrip("/")
        self.host = urllib.parse.urlsplit(self.api_url).hostname or self.api_url
        self.timeout = settings.GITHUB_TIMEOUT
        # Requests sent, retries included: each page reports its share to the harness.
        self.requests = 0
        self.accepted = False
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self.github = Github(
            auth=Auth.Token(credential.token),
            base_url=self.api_url,
            timeout=int(max(1, self.timeout)),
            per_page=100,
            # Our retries and waits, not PyGithub's (immediate 5xx repeats, hour-long sleeps).
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )

    # --- the host's circuit breaker -------------------------------------------------------
    def check_host(self) -> None:
        """Defer (not fail) when the upstream host's breaker is open."""
        defer_while_open(host_key(self.host), self.host)

    def close(self) -> None:
        """Close PyGithub's pooled connection (a sync's client is not reused)."""
        self.github.close()

    # --- single requests --------------------------------------------------------------------
    def get(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        *,
        etag: str = "",
        allow: tuple[int, ...] = (),
    ) -> Answer:
        """GET `url` (a path or a URL from a Link header); 200/304 or a status in `allow`.

        Raises TransientError (after retries), PermanentError or Deferred.
        """
        attempts = 0
        while True:
            attempts += 1
            try:
                answer = self._send(url, params, etag)
            except TransientError as failure:
                wait = self._wait_before_retry(failure, attempts)
                if wait is None:
                    record_failure(host_key(self.host))
                    raise
                if self.context is not None:
                    self.context.retries += 1
                time.sleep(wait)
                continue
            if answer.status in (200, 304) or answer.status in allow:
                return answer
            raise self._permanent(url, answer)

    def _wait_before_retry(self, failure: TransientError, attempts: int) -> float | None:
        if attempts > settings.GITHUB_RETRIES:
            return None
        backoff = settings.GITHUB_RETRY_BACKOFF * 2 ** (attempts - 1)
        wait = max(backoff, failure.retry_after or 0.0)
        if wait > settings.GITHUB_MAX_INLINE_WAIT:
            return None  # a long wait is the job layer's, not a sleeping worker's
        return wait

    def _send(self, url: str, params: dict[str, Any] | None, etag: str) -> Answer:
        lease = Lease(self.credential.pk, self.holder, self.timeout)
        row = lease.acquire()
        released = False
        try:
            now = timezone.now()
            if row.blocked_until and row.blocked_until > now:
                wait = (row.blocked_until - now).total_seconds()
                raise TransientError(
                    f"GitHub asked {row.label!r} to slow down (secondary rate limit)",
                    retry_after=wait,
                )
            wait = primary_wait(row, now)
            if wait is not None:
                raise deferred_until_reset(row, wait)
            headers = {"Accept": "application/vnd.github+json"}
            if etag:
                headers["If-None-Match"] = etag
            self.requests += 1
            path = _path_of(url)
            try:
                status, response_headers, body = self.github.requester.requestJson(
                    "GET", url, parameters=params, headers=headers
                )
            except RETRYABLE_EXCEPTIONS as error:
                raise TransientError(
                    f"GET {path} failed: {type(error).__name__} talking to {self.host}"
                ) from None
            answer = Answer(status, response_headers)
            observation = RateObservation.from_headers(response_headers)
            blocked_until = self._secondary_block(answer, body)
            lease.release(
                observation,
                counted=status != 304,
                not_modified=status == 304,
                blocked_until=blocked_until,
            )
            released = True
            return self._interpret(answer, body, path, blocked_until, observation)
        finally:
            if not released:
                lease.release()

    def _secondary_block(self, answer: Answer, body: str) -> dt.datetime | None:
        """When a secondary limit answered, the moment the credential may be used again."""
        if answer.status not in (403, 429):
            return None
        retry_after = retry_after_seconds(answer.headers)
        lowered = body.lower() if isinstance(body, str) else ""
        is_secondary = any(marker in lowered for marker in SECONDARY_LIMIT_MARKERS)
        primary_spent = str(answer.headers.get("x-ratelimit-remaining", "")) == "0"
        if retry_after is None and not is_secondary:
            return None
        if primary_spent and not is_secondary:
            return None
        return timezone.now() + dt.timedelta(seconds=retry_after or SECONDARY_DEFAULT_WAIT)

    def _interpret(
        self,
        answer: Answer,
        body: str,
        path: str,
        blocked_until: dt.datetime | None,
        observation: RateObservation | None,
    ) -> Answer:
        status = answer.status
        if status == 304:
            return answer
        if 200 <= status < 300:
            try:
                answer.data = json.loads(body) if body else None
            except ValueError:
                raise TransientError(f"GET {path} answered a body that is not JSON") from None
            if not self.accepted:
                # Once per sync: a success ends the host's run of failures, and a
                # GITHUB_TOKEN refused before and accepted now is healthy again.
                record_success(host_key(self.host))
                mark_working(self.credential.pk)
                self.accepted = True
            return answer
        if blocked_until is not None:
            wait = (blocked_until - timezone.now()).total_seconds()
            raise TransientError(
                f"GitHub secondary rate limit on {path}: waiting {wait:.0f} s", retry_after=wait
            )
        if status in (403, 429) and observation is not None and observation.remaining == 0:
            reset_at = observation.reset_at
            seconds = (reset_at - timezone.now()).total_seconds() + 1.0 if reset_at else 60.0
            if seconds > 0:
                raise Deferred(
                    seconds,
                    WAIT_RATE_LIMIT,
                    f"GitHub rate limit of {self.credential.label!r} is spent; "
                    f"the sync resumes at {reset_at.isoformat() if reset_at else 'the reset'}.",
                )
        if status == 429 or status >= 500:
            raise TransientError(
                f"GET {path} answered {status}", retry_after=retry_after_seconds(answer.headers)
            )
        try:
            answer.data = json.loads(body) if body else None
        except ValueError:
            answer.data = None
        return answer

    def _permanent(self, url: str, answer: Answer) -> PermanentError:
        path = _path_of(url)
        message = _message_of(answer.data)
        if answer.status == 401:
            mark_broken(self.credential.pk, f"401 {message or 'Bad credentials'}")
            return PermanentError(
                f"GitHub refused the credential {self.credential.label!r} (401 "
                f"{message or 'Bad credentials'}): {self.credential.fix_hint(self.kind)}."
            )
        if answer.status == 403:
            return PermanentError(
                f"GitHub denied {path} to {self.credential.label!r} (403 {message}): give the "
                "token access to it (scopes repo and read:org, or the organisation's SSO)."
            )
        if answer.status == 404:
            return PermanentError(
                f"GitHub has no {path} for {self.credential.label!r} (404): the repository or "
                "organisation is gone, renamed, or not visible to this token."
            )
        return PermanentError(f"GET {path} answered {answer.status}: {message}")

    # --- lists --------------------------------------------------------------------------------
    def list_pages(
        self,
        path: str,
        params: dict[str, Any],
        *,
        resume_url: str | None = None,
        first_page_covers_list: bool = True,
        conditional: bool = True,
        allow: tuple[int, ...] = (),
        items_key: str | None = None,
    ) -> Iterator[ListPage]:
        """The pages of a list, following `Link: rel="next"`: a bare JSON list, or with
        `items_key` the list GitHub wraps in an object under that key.

        The first page is asked for with the ETag kept from the last successful
        run; a 304 ends the list. Only lists whose first page changes whenever any
        item changes (sorted by change, newest first) may rely on that; for the
        others (`first_page_covers_list=False`) the ETag is kept only when the
        whole list fitted on one page. An answer with a status in `allow` (a
        repository that is empty, a run deleted meanwhile) is an empty list.
        """
        key = self.etag_key(path, params)
        if resume_url is not None:
            url: str | None = resume_url
            first = False
        else:
            url, first = path, True
        while url is not None:
            etag = self._remembered_etag(key) if first and conditional else ""
            before = self.requests
            answer = self.get(url, params if first else None, etag=etag, allow=allow)
            used = self.requests - before
            if answer.status == 304:
                self._keep_etag(key, etag)
                yield ListPage([], None, used, not_modified=True)
                return
            if answer.status in allow:
                yield ListPage([], None, used)
                return
            next_url = answer.next_url
            covers = first_page_covers_list or next_url is None
            if first and conditional and answer.etag and covers:
                self._keep_etag(key, answer.etag)
            records, total = _list_items(answer.data, _path_of(url), items_key)
            yield ListPage(records, next_url, used, total_count=total)
            url, first = next_url, False

    @staticmethod
    def etag_key(path: str, params: dict[str, Any]) -> str:
        query = urllib.parse.urlencode(sorted((k, str(v)) for k, v in params.items()))
        return f"{path}?{query}"

    def get_conditional(self, path: str, *, allow: tuple[int, ...] = ()) -> Answer:
        """GET one object with the ETag of the last successful run (304: unchanged)."""
        key = self.etag_key(path, {})
        etag = self._remembered_etag(key)
        answer = self.get(path, etag=etag, allow=allow)
        if answer.status in (200, 304):
            self._keep_etag(key, answer.etag or etag)
        return answer

    def _remembered_etag(self, key: str) -> str:
        """The ETag kept by the last successful run; none on a full sync, which re-reads."""
        if self.context is None or self.context.full:
            return ""
        return self.context.etags.get(key, "")

    def _keep_etag(self, key: str, etag: str) -> None:
        if self.context is not None and etag:
            self.context.new_etags[key] = etag

    # --- the budget as GitHub reports it ----------------------------------------------------------
    def refresh_rate_limit(self) -> dict[str, Any]:
        """GET /rate_limit (free) and record the core budget; returns GitHub's `core` block."""
        answer = self.get("/rate_limit")
        data = answer.data if isinstance(answer.data, dict) else {}
        core = data.get("resources", {}).get("core") or data.get("rate") or {}
        observation = RateObservation.from_headers(
            {f"x-ratelimit-{name}": value for name, value in core.items()}
        )
        if observation is not None:
            GitHubCredential.objects.filter(pk=self.credential.pk).update(
                **observation.as_fields(), rate_seen_at=timezone.now()
            )
        return core
