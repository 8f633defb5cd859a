"""The `jira` library's client, built the way the hub needs it, and its errors made ours.

- Credentials: Jira Cloud takes the account's email and an API token (basic
  auth), Jira Data Center / Server a personal access token (bearer). JIRA_PAT
  wins when both are set (Cloud has no PATs).
- No retries in the library (`max_retries=0`): its 429/503 handling sleeps up
  to a minute inside the worker. Every failure is raised at once as the
  pipeline's TransientError (429, 5xx, timeouts, resets; with the upstream's
  Retry-After) or PermanentError (401/403: which variables to fix), and the
  job layer decides when to come back; the run resumes from its checkpoint.
- Each call is one HTTP request (`json_result=True`, one page per call), counted
  for the run's request total.
- `JIRAError.__str__` prints the request's headers, Authorization included: our
  messages are built from its status and Jira's own error text only.
"""

from __future__ import annotations

import functools
import hashlib
import queue
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import requests
from django.conf import settings
from django.utils import timezone
from jira import JIRA, JIRAError

from ingestion.backoff import retry_after_seconds
from ingestion.breaker import defer_while_open, host_key, record_failure, record_success
from ingestion.errors import PermanentError, TransientError
from ingestion.redaction import redact
from sources.jira.models import JiraSite

T = TypeVar("T")

CLOUD_API = "3"
DATA_CENTER_API = "2"
# The Agile API pages sprints and boards by at most 50.
AGILE_PAGE_SIZE = 50

TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
BAD_URL_EXCEPTIONS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


@dataclass(frozen=True)
class Credentials:
    """The configured site and how to sign in to it. The secret never appears in a repr."""

    base_url: str
    kind: str  # "api_token" (Cloud: email + API token) or "pat" (Data Center)
    user: str = ""
    secret: str = field(default="", repr=False)

    @property
    def fingerprint(self) -> str:
        """Tells credentials apart without keeping them."""
        material = f"{self.base_url}\0{self.kind}\0{self.user}\0{self.secret}".encode()
        return hashlib.sha256(material).hexdigest()[:32]

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).hostname or self.base_url

    @property
    def label(self) -> str:
        return f"{self.user} (JIRA_EMAIL + JIRA_API_TOKEN)" if self.user else "JIRA_PAT"

    def fix_hint(self) -> str:
        if self.kind == "pat":
            return (
                "check JIRA_PAT: a personal access token of the Data Center / Server site "
                "(Profile → Personal Access Tokens), not expired or revoked"
            )
        return (
            "check JIRA_EMAIL and JIRA_API_TOKEN: the Atlassian account's email and an API "
            "token from id.atlassian.com (Security → API tokens), not expired or revoked"
        )


def is_configured() -> bool:
    return bool(
        settings.JIRA_BASE_URL
        and (settings.JIRA_PAT or (settings.JIRA_EMAIL and settings.JIRA_API_TOKEN))
    )


def configured_base_url() -> str:
    """JIRA_BASE_URL as the site is kept by (`JiraSite.base_url`)."""
    return settings.JIRA_BASE_URL.strip().rstrip("/")


def configured_credentials() -> Credentials:
    """The credentials from settings, or a PermanentError naming what to set."""
    base_url = configured_base_url()
    if not base_url:
        raise PermanentError(
            "Jira is not configured: set JIRA_BASE_URL, and JIRA_EMAIL with JIRA_API_TOKEN "
            "(Jira Cloud) or JIRA_PAT (Jira Data Center / Server)."
        )
    if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
        raise PermanentError(
            f"JIRA_BASE_URL must start with https:// (or http://), not {base_url!r}."
        )
    if settings.JIRA_PAT:
        return Credentials(base_url, "pat", secret=settings.JIRA_PAT)
    if settings.JIRA_EMAIL and settings.JIRA_API_TOKEN:
        return Credentials(
            base_url, "api_token", user=settings.JIRA_EMAIL, secret=settings.JIRA_API_TOKEN
        )
    if settings.JIRA_EMAIL or settings.JIRA_API_TOKEN:
        missing = "JIRA_API_TOKEN" if settings.JIRA_EMAIL else "JIRA_EMAIL"
        raise PermanentError(
            f"Jira Cloud needs both JIRA_EMAIL and JIRA_API_TOKEN; {missing} is not set."
        )
    raise PermanentError(
        "Jira has no credentials: set JIRA_EMAIL and JIRA_API_TOKEN (Jira Cloud) or "
        "JIRA_PAT (Jira Data Center / Server)."
    )


def check_host(credentials: Credentials) -> None:
    """Defer (not fail) while the host's circuit breaker is open."""
    defer_while_open(host_key(credentials.host), credentials.host)


def mark_refused(credentials: Credentials, reason: str) -> None:
    """Record that the site refused the credential (shown by /api/health), and forget the
    facts read with it, so the next sync checks the credential before anything else."""
    values = {
        "refused_at": timezone.now(),
        "refused_reason": reason[:500],
        "checked_at": None,
        "credential_fingerprint": credentials.fingerprint,
    }
    # Django's update_or_create survives another worker creating the row meanwhile.
    JiraSite.objects.update_or_create(base_url=credentials.base_url, defaults=values)


@dataclass
class Attempt:
    """What one library call gave: its value, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None


def _attempt(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Attempt:
    """Run one library call, keeping its failure for the caller (it may run in a thread;
    it touches nothing but the network)."""
    try:
        return Attempt(value=function(*args, **kwargs))
    except (JIRAError, *BAD_URL_EXCEPTIONS, *TRANSIENT_EXCEPTIONS, ValueError) as error:
        return Attempt(error=error)


@dataclass
class RequestCount:
    """Requests sent by one fetch, over every client it used (and its read-ahead thread)."""

    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self) -> None:
        with self.lock:
            self.sent += 1


@dataclass(frozen=True)
class Request:
    """One library call to make (network only), its name, and the statuses that mean
    something for it (a 404 board, a 400 search)."""

    what: str
    call: Callable[[], Any]
    errors: dict[int, str] = field(default_factory=dict)


def _search(
    what: str,
    search: Callable[..., Any],
    jql: str,
    fields: list[str],
    max_results: int,
    errors: dict[int, str] | None,
) -> Request:
    """A search page to make: one request, its answer the JSON as Jira sent it."""
    call = functools.partial(
        search, jql, maxResults=max_results, fields=list(fields), json_result=True
    )
    return Request(what, call, errors or {})


State = TypeVar("State")
_END = object()


class Chain(Generic[State]):
    """Requests each made from the answer before (the pages of one search), sent by a
    thread ahead of the reader, with at most `depth` answers waiting.

    The upstream's answer time then overlaps the harness's work on the pages before
    instead of adding to it. The thread only makes the library calls and works out
    the next request (`next_state` must be pure); what an answer means (its errors,
    the circuit breaker) is decided as the reader takes it, in the reader's thread.
    The thread stops after the first failed request.
    """

    def __init__(
        self,
        client: JiraClient,
        first: State,
        request_for: Callable[[State], Request],
        next_state: Callable[[State, Any], State | None],
        depth: int = 4,
    ) -> None:
        self.client = client
        self._request_for = request_for
        self._next_state = next_state
        self._answers: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(first,), name="jira-read-ahead", daemon=True
        )
        self._thread.start()

    def _run(self, state: State | None) -> None:
        try:
            while state is not None and not self._stop.is_set():
                request = self._request_for(state)
                self.client.count.add()
                attempt = _attempt(request.call)
                self._put((state, request, attempt))
                if attempt.error is not None:
                    return
                state = self._next_state(state, attempt.value)
        except Exception as error:  # a bug here: the reader raises it
            self._put((state, None, Attempt(error=error)))
        finally:
            self._put(_END)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._answers.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[tuple[State, Any]]:
        """(state, answer) of each request in turn; raises at the first that failed."""
        while True:
            item = self._answers.get()
            if item is _END:
                return
            state, request, attempt = item
            if request is None:
                raise attempt.error
            yield state, self.client.outcome(request.what, attempt, request.errors)

    def close(self) -> None:
        """Stop reading ahead (a request in flight ends within the client's timeout)."""
        self._stop.set()
        self._thread.join(timeout=settings.JIRA_TIMEOUT + 1)


class JiraClient:
    """The `jira` library's client for one fetch, and the calls the streams make.

    `api_version` is "3" on Cloud (whose enhanced search lives there) and "2" on
    Data Center. `adopt` hands the library what the hub already knows about the
    site, so it sends nothing but the calls below.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_version: str = DATA_CENTER_API,
        count: RequestCount | None = None,
    ) -> None:
        self.credentials = credentials
        self.count = count or RequestCount()
        self.accepted = False
        auth: dict[str, Any] = (
            {"token_auth": credentials.secret}
            if credentials.kind == "pat"
            else {"basic_auth": (credentials.user, credentials.secret)}
        )
        self.jira = JIRA(
            server=credentials.base_url,
            options={"rest_api_version": api_version, "check_update": False},
            get_server_info=False,  # read once and kept (sources.jira.site)
            max_retries=0,  # the pipeline owns retries and waits
            timeout=settings.JIRA_TIMEOUT,
            **auth,
        )

    def adopt(self, deployment_type: str, field_clauses: dict[str, str]) -> None:
        """What the library would otherwise read itself before its first search.

        `deploymentType` decides whether the library runs Cloud-only methods such as
        `enhanced_search_issues` (it reads it from serverInfo when built with
        get_server_info=True); the clause map is what its `_fields_cache` fills from
        GET /field before translating the `fields` of a search.
        """
        self.jira.deploymentType = deployment_type
        if field_clauses:
            self.jira._fields_cache_value = dict(field_clauses)

    def close(self) -> None:
        self.jira.close()

    @property
    def requests(self) -> int:
        return self.count.sent

    # --- one request, our errors ----------------------------------------------------------------
    def call(
        self,
        what: str,
        function: Callable[..., T],
        *args: Any,
        errors: dict[int, str] | None = None,
        site_check: bool = False,
        **kwargs: Any,
    ) -> T:
        """One library call (one request). `errors` gives the message for a status that
        means something in this call (a 404 board, a 400 search); `site_check` marks
        the calls that vouch for the credential (serverInfo, myself)."""
        self.count.add()
        return self.outcome(
            what, _attempt(function, *args, **kwargs), errors or {}, site_check=site_check
        )

    def run(self, request: Request) -> Any:
        self.count.add()
        return self.outcome(request.what, _attempt(request.call), request.errors)

    def chain(
        self,
        first: State,
        request_for: Callable[[State], Request],
        next_state: Callable[[State, Any], State | None],
    ) -> Chain[State]:
        return Chain(self, first, request_for, next_state)

    def outcome(
        self, what: str, attempt: Attempt, errors: dict[int, str], *, site_check: bool = False
    ) -> Any:
        """The answer of a request, or the error it means for the pipeline."""
        error = attempt.error
        if error is None:
            if not self.accepted:
                # Once per fetch: a success ends the host's run of failures.
                record_success(host_key(self.credentials.host))
                self.accepted = True
            return attempt.value
        if isinstance(error, JIRAError):
            raise self._error(what, error, errors, site_check) from None
        if isinstance(error, BAD_URL_EXCEPTIONS):
            raise PermanentError(
                f"JIRA_BASE_URL {self.credentials.base_url!r} is not a usable URL."
            ) from None
        record_failure(host_key(self.credentials.host))
        if isinstance(error, TRANSIENT_EXCEPTIONS):
            raise TransientError(
                f"{what} failed: {type(error).__name__} talking to {self.credentials.host}"
            ) from None
        # A body that is not JSON: a proxy's error page, a cut-off answer.
        raise TransientError(f"{what}: Jira answered a body that is not JSON") from None

    def _error(
        self, what: str, error: JIRAError, errors: dict[int, str], site_check: bool
    ) -> Exception:
        status = error.status_code
        message = redact(str(error.text or "").strip())[:300]
        detail = f"{status} {message}".strip() if status else message
        if status is None or status == 429 or status >= 500:
            record_failure(host_key(self.credentials.host))
            headers = error.response.headers if error.response is not None else {}
            return TransientError(
                f"{what}: Jira answered {detail or 'no response'}",
                retry_after=retry_after_seconds(headers),
            )
        if status == 401 or (status == 403 and site_check):
            reason = f"{status} {message or 'Unauthorized'}"
            mark_refused(self.credentials, reason)
            return PermanentError(
                f"Jira at {self.credentials.base_url} refused the credentials of "
                f"{self.credentials.label} ({reason}): {self.credentials.fix_hint()}."
            )
        if status in errors:
            return PermanentError(f"{errors[status]} ({what}: {detail})")
        if status == 403:
            return PermanentError(
                f"{what}: Jira denied it to {self.credentials.label} ({detail}); give the "
                "account the permission (Browse projects) or leave the scope out."
            )
        if status == 410:
            return PermanentError(
                f"{what}: Jira answered 410 Gone, the endpoint was removed from this site "
                f"({message})."
            )
        return PermanentError(f"{what}: Jira answered {detail}")

    # --- the site -------------------------------------------------------------------------------
    def server_info(self) -> dict[str, Any]:
        # GET /rest/api/2/serverInfo
        return self.call("GET serverInfo", self.jira.server_info, site_check=True)

    def myself(self) -> dict[str, Any]:
        # GET /rest/api/{2,3}/myself
        return self.call("GET myself", self.jira.myself, site_check=True)

    def fields(self) -> list[dict[str, Any]]:
        # GET /rest/api/{2,3}/field
        return self.call("GET field", self.jira.fields)

    def project_keys(self) -> list[str]:
        # GET /rest/api/{2,3}/project (every project the account may browse)
        projects = self.call("GET project", self.jira.projects)
        return [str(project.key) for project in projects]

    # --- issues ---------------------------------------------------------------------------------
    def search_cloud(
        self,
        jql: str,
        *,
        fields: list[str],
        max_results: int,
        token: str | None = None,
        errors: dict[int, str] | None = None,
    ) -> Request:
        """One page of Cloud's enhanced search (`nextPageToken`, `isLast`), to make."""
        # GET /rest/api/3/search/jql
        search = functools.partial(self.jira.enhanced_search_issues, nextPageToken=token)
        return _search("GET /rest/api/3/search/jql", search, jql, fields, max_results, errors)

    def search_data_center(
        self,
        jql: str,
        *,
        fields: list[str],
        max_results: int,
        start_at: int = 0,
        errors: dict[int, str] | None = None,
    ) -> Request:
        """One page of the classic search (`startAt`, `total`), for Data Center / Server."""
        # GET /rest/api/2/search
        search = functools.partial(self.jira.search_issues, startAt=start_at)
        return _search("GET /rest/api/2/search", search, jql, fields, max_results, errors)

    # --- boards and sprints (Agile API) -----------------------------------------------------
    def board_sprints(
        self, board_id: int, *, start_at: int, errors: dict[int, str] | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of a board's sprints and whether it is the last (Data Center sends no
        `total`; an old one no `isLast` either: then a short page is the last)."""
        # GET /rest/agile/1.0/board/{boardId}/sprint
        page = self.call(
            f"GET /rest/agile/1.0/board/{board_id}/sprint",
            self.jira.sprints,
            board_id,
            startAt=start_at,
            maxResults=AGILE_PAGE_SIZE,
            errors=errors,
        )
        records = [sprint.raw for sprint in page]
        is_last = page.isLast if page.isLast is not None else len(records) < AGILE_PAGE_SIZE
        return records, bool(is_last) or not records

    def scrum_boards(self, project: str | None = None) -> list[int]:
        """Ids of the scrum boards (of one project, or all the account sees)."""
        ids: list[int] = []
        start_at = 0
        while True:
            # GET /rest/agile/1.0/board?type=scrum&projectKeyOrId=…
            page = self.call(
                "GET /rest/agile/1.0/board",
                self.jira.boards,
                startAt=start_at,
                maxResults=AGILE_PAGE_SIZE,
                type="scrum",
                projectKeyOrID=project,
            )
            ids.extend(int(board.id) for board in page)
            if page.isLast or len(page) < AGILE_PAGE_SIZE or not len(page):
                return ids
            start_at += len(page)
