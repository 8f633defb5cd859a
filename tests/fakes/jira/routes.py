"""The fake Jira's REST endpoints, with Jira's parameters, page limits and error shapes.

Cloud serves REST v3 (and v2, as Cloud does) and the enhanced search; its
classic `/rest/api/{2,3}/search` answers 410 Gone, as Cloud has since 2025.
Data Center serves REST v2 (and `latest`) and the classic search; it has no v3.
Both serve the Agile API. Every route needs the site's credentials (serverInfo
too: Jira answers 401 to bad credentials whatever the path).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
from typing import TYPE_CHECKING, Any

from tests.fakes.app import HTTPError, LiveCredentialsApp, Request, Response, credentials_in
from tests.fakes.jira.data import (
    CLOUD,
    SITE,
    avatar_urls,
    field_list,
    jira_time,
    render_agile_sprint,
    render_project,
    render_user,
)
from tests.fakes.jira.jql import jql_error

if TYPE_CHECKING:
    from tests.fakes.jira.fake import FakeJira

ID_FIELDS = frozenset({"id", "key", "issuekey"})
# Jira's page caps: the enhanced search gives up to 5,000 ids, 100 issues with fields;
# the classic search 1,000 (jira.search.views.default.max); the Agile API 50.
CLOUD_ID_PAGE = 5000
CLOUD_PAGE = 100
DATA_CENTER_PAGE = 1000
AGILE_PAGE = 50
SEARCH_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


def jira_error(status: int, message: str) -> HTTPError:
    return HTTPError(status, message, payload={"errorMessages": [message], "errors": {}})


class JiraApp(LiveCredentialsApp):
    """A FakeApp whose credentials are the fake's, with Jira's 401."""

    def __init__(self, fake: FakeJira) -> None:
        super().__init__("jira", fake)

    def is_authorized(self, request: Request) -> bool:
        scheme, credential = credentials_in(request)
        user, secret = "", credential
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, secret = decoded.partition(":")
        return self.fake.accepts(scheme, user, secret)

    def unauthorized(self, request: Request) -> Response:
        message = "You are not authenticated. Authentication required to perform this operation."
        headers = {"WWW-Authenticate": 'Basic realm="protected-area"'}
        if self.fake.deployment != CLOUD:
            headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        return Response.json(
            {"errorMessages": [message], "errors": {}}, status=401, headers=headers
        )


def _with_site(request: Request, payload: Any) -> Response:
    """JSON with the site's placeholder address replaced by the one the client used."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    body = body.replace(SITE.encode(), request.base_url.encode())
    return Response(body=body, headers={"Content-Type": "application/json;charset=UTF-8"})


def _wanted_fields(request: Request, default: set[str] | None) -> set[str] | None:
    """The `fields` asked for (repeated and/or comma-separated); None means all."""
    values = request.query.get("fields")
    if not values:
        return default
    names = {name.strip() for value in values for name in value.split(",") if name.strip()}
    if names & {"*all", "*navigable"}:
        return None
    return names


def _query_hash(jql: str) -> str:
    return hashlib.blake2b(jql.encode(), digest_size=6).hexdigest()


def _encode_token(jql: str, after: tuple[int, ...]) -> str:
    payload = json.dumps({"q": _query_hash(jql), "after": after})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_token(jql: str, token: str) -> tuple[int, ...]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if payload["q"] != _query_hash(jql):
            raise ValueError("another query's token")
        return tuple(int(part) for part in payload["after"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise jql_error("The provided nextPageToken is invalid or expired.") from None


def build_app(fake: FakeJira) -> JiraApp:
    app = JiraApp(fake)
    cloud = fake.deployment == CLOUD
    versions = {"2", "3", "latest"} if cloud else {"2", "latest"}

    def api_version(request: Request) -> str:
        version = request.path_params["version"]
        if version not in versions:
            raise jira_error(404, "null for uri: " + request.path)
        return version

    # GET /rest/api/{2,3}/serverInfo
    def server_info(request: Request) -> Response:
        api_version(request)
        now = jira_time(fake.now_ms, fake.zone)
        if cloud:
            info = {
                "baseUrl": SITE,
                "displayUrl": SITE,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100281,
                "buildDate": "2025-01-10T00:00:00.000-0800",
                "serverTime": now,
                "scmInfo": "7c3a4d9b1e2f",
                "serverTitle": "Jira",
                "defaultLocale": {"locale": "en_US"},
                "serverTimeZone": "Etc/UTC",
            }
        else:
            info = {
                "baseUrl": SITE,
                "version": "9.12.15",
                "versionNumbers": [9, 12, 15],
                "deploymentType": "Server",
                "buildNumber": 9120015,
                "buildDate": "2024-10-01T00:00:00.000+0000",
                "serverTime": now,
                "scmInfo": "4bd9aa3f8b0d",
                "serverTitle": "Jira",
            }
        return _with_site(request, info)

    # GET /rest/api/{2,3}/myself
    def myself(request: Request) -> Response:
        api_version(request)
        user = render_user(fake.hub_user, fake.deployment, fake.time_zone) or {}
        user.update(
            {
                "emailAddress": fake.hub_user.email,
                "locale": "en_US",
                "groups": {"size": 1, "items": []},
                "applicationRoles": {"size": 1, "items": []},
                "expand": "groups,applicationRoles",
            }
        )
        return _with_site(request, user)

    # GET /rest/api/{2,3}/field
    def fields(request: Request) -> Response:
        api_version(request)
        return _with_site(request, field_list(fake.fields))

    # GET /rest/api/{2,3}/project
    def projects(request: Request) -> Response:
        version = api_version(request)
        api = fake.api if version == "latest" else version
        with fake.lock:
            listed = [render_project(project, api) for project in fake.projects.values()]
        return _with_site(request, listed)

    # GET /rest/api/3/search/jql  (Cloud's enhanced search: nextPageToken, isLast)
    def search_jql(request: Request) -> Response:
        api_version(request)
        if not cloud:
            raise jira_error(404, "null for uri: " + request.path)
        text = request.param("jql") or ""
        wanted = _wanted_fields(request, set())  # the enhanced search returns ids by default
        ids_only = wanted is not None and wanted <= ID_FIELDS
        size = request.int_param("maxResults", 50)
        size = max(1, min(size, CLOUD_ID_PAGE if ids_only else CLOUD_PAGE))
        token = request.param("nextPageToken")
        with fake.lock:
            _, issues, keys = fake.search(text)
            start = bisect.bisect_right(keys, _decode_token(text, token)) if token else 0
            page = issues[start : start + size]
            payload: dict[str, Any] = {
                "issues": [
                    {"id": str(issue.id)} if not wanted else fake.render_issue(issue, wanted)
                    for issue in page
                ]
            }
            more = start + size < len(issues)
            if more:
                payload["nextPageToken"] = _encode_token(text, keys[start + size - 1])
            payload["isLast"] = not more
        return _with_site(request, payload)

    # GET /rest/api/2/search  (Data Center's classic search: startAt, total; 410 on Cloud)
    def search(request: Request) -> Response:
        api_version(request)
        if cloud:
            raise jira_error(410, SEARCH_GONE)
        text = request.param("jql") or ""
        wanted = _wanted_fields(request, None)
        start = max(0, request.int_param("startAt", 0))
        size = max(0, min(request.int_param("maxResults", 50), DATA_CENTER_PAGE))
        with fake.lock:
            _, issues, _ = fake.search(text)
            page = issues[start : start + size]
            payload = {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(issues),
                "issues": [fake.render_issue(issue, wanted) for issue in page],
            }
        return _with_site(request, payload)

    # GET /rest/agile/1.0/board
    def boards(request: Request) -> Response:
        start = max(0, request.int_param("startAt", 0))
        size = max(1, min(request.int_param("maxResults", 50), AGILE_PAGE))
        wanted_type = request.param("type")
        project = request.param("projectKeyOrId")
        with fake.lock:
            key = fake.has_project(project) if project else None
            if project and key is None:
                raise jira_error(400, f"No project could be found with key '{project}'.")
            listed = [
                board
                for board in sorted(fake.boards.values(), key=lambda board: board.id)
                if (not wanted_type or board.type in wanted_type.split(","))
                and (key is None or board.project == key)
            ]
            page = listed[start : start + size]
            values = [
                {
                    "id": board.id,
                    "self": f"{SITE}/rest/agile/1.0/board/{board.id}",
                    "name": board.name,
                    "type": board.type,
                    "location": {
                        "projectId": fake.projects[board.project].id,
                        "displayName": f"{board.project.title()} ({board.project})",
                        "projectName": board.project.title(),
                        "projectKey": board.project,
                        "projectTypeKey": "software",
                        "avatarURI": avatar_urls(board.project)["48x48"],
                        "name": f"{board.project.title()} ({board.project})",
                    },
                }
                for board in page
            ]
        payload = {
            "maxResults": size,
            "startAt": start,
            "total": len(listed),
            "isLast": start + size >= len(listed),
            "values": values,
        }
        return _with_site(request, payload)

    # GET /rest/agile/1.0/board/{boardId}/sprint  (startAt, isLast; no total on Data Center)
    def board_sprints(request: Request) -> Response:
        board_id = request.path_params["board_id"]
        board = fake.boards.get(int(board_id)) if board_id.isdigit() else None
        if board is None:
            raise jira_error(404, "Board does not exist or you do not have permission to see it.")
        if board.type != "scrum":
            raise jira_error(400, "The board does not support sprints")
        start = max(0, request.int_param("startAt", 0))
        size = max(1, min(request.int_param("maxResults", 50), AGILE_PAGE))
        states = set((request.param("state") or "").split(",")) - {""}
        with fake.lock:
            listed = [s for s in fake.board_sprints(board.id) if not states or s.state in states]
            values = [render_agile_sprint(s, fake.zone) for s in listed[start : start + size]]
        payload: dict[str, Any] = {
            "maxResults": size,
            "startAt": start,
            "isLast": start + size >= len(listed),
            "values": values,
        }
        if cloud:
            payload["total"] = len(listed)
        return _with_site(request, payload)

    app.add_route("GET", "/rest/api/{version}/serverInfo", server_info)
    app.add_route("GET", "/rest/api/{version}/myself", myself)
    app.add_route("GET", "/rest/api/{version}/field", fields)
    app.add_route("GET", "/rest/api/{version}/project", projects)
    app.add_route("GET", "/rest/api/{version}/search/jql", search_jql)
    app.add_route("GET", "/rest/api/{version}/search", search)
    app.add_route("GET", "/rest/agile/1.0/board", boards)
    app.add_route("GET", "/rest/agile/1.0/board/{board_id}/sprint", board_sprints)
    return app
