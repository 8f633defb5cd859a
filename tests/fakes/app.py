"""Routes of a fake upstream: requests in, responses out, no sockets.

A fake is a `FakeApp` with handlers registered by method and path pattern:

    app = FakeApp("github", tokens={"ghp_test"})

    @app.get("/repos/{owner}/{repo}")
    def get_repository(request: Request) -> dict:
        return {"full_name": f"{request.path_params['owner']}/{request.path_params['repo']}"}

A handler returns a `Response`, or a dict/list (JSON, 200), or `(status, payload)`
/ `(status, payload, headers)`, or None (204). It may raise `HTTPError` for an
error answer. `FakeServer` (in `server.py`) serves an app over real HTTP.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode

from requests.structures import CaseInsensitiveDict

Handler = Callable[["Request"], Any]

# `{name}` matches one path segment; `{name:path}` matches the rest, slashes included.
_PLACEHOLDER = re.compile(r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<kind>path))?\}")


@dataclass
class Request:
    """One HTTP request as a handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: CaseInsensitiveDict
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def int_param(self, name: str, default: int) -> int:
        """A query parameter as an int; a malformed value is the client's error (400)."""
        value = self.param(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise HTTPError(400, f"{name} must be an integer, not {value!r}") from None

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise HTTPError(400, "Problems parsing JSON") from None

    @property
    def base_url(self) -> str:
        """Scheme and host as the client addressed us, for absolute links (Link headers)."""
        return f"http://{self.headers.get('Host', '127.0.0.1')}"

    def url_with(self, **params: Any) -> str:
        """This request's absolute URL with some query parameters replaced."""
        query = {name: values[-1] for name, values in self.query.items()}
        query.update({name: str(value) for name, value in params.items()})
        return f"{self.base_url}{quote(self.path)}?{urlencode(query)}"


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status=status, body=body, headers=all_headers)

    @classmethod
    def text(cls, text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
        return cls(status=status, body=text.encode("utf-8"), headers=all_headers)


class HTTPError(Exception):
    """Raise from a handler to answer an error; the body is GitHub-shaped JSON by default."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.payload = payload if payload is not None else {"message": message}

    def response(self) -> Response:
        return Response.json(self.payload, status=self.status, headers=self.headers)


def as_response(result: Any) -> Response:
    """Turn whatever a handler returned into a Response."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status=204)
    if isinstance(result, tuple):
        status, payload, *rest = result
        headers = rest[0] if rest else None
        if isinstance(payload, bytes):
            return Response(status=status, body=payload, headers=dict(headers or {}))
        return Response.json(payload, status=status, headers=headers)
    if isinstance(result, bytes):
        return Response(body=result, headers={"Content-Type": "application/octet-stream"})
    if isinstance(result, str):
        return Response.text(result)
    return Response.json(result)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    public: bool


def compile_pattern(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[position : match.start()]))
        segment = ".+" if match.group("kind") == "path" else "[^/]+"
        parts.append(f"(?P<{match.group('name')}>{segment})")
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("".join(parts) + r"\Z")


def credentials_in(request: Request) -> tuple[str, str]:
    """(scheme, credential) from the Authorization header, scheme lower-cased."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower(), credential.strip()


class FakeApp:
    """The routes of one fake upstream, optionally behind a token.

    `tokens`: accepted `Authorization: Bearer <t>` / `token <t>` values (GitHub and
    Slack style). `basic`: accepted (user, password) pairs for Basic auth (Jira
    Cloud's email + API token). With neither, every request is let in. Routes
    registered with `public=True` never need credentials.
    """

    def __init__(
        self,
        name: str = "fake",
        *,
        tokens: Iterable[str] | None = None,
        basic: Iterable[tuple[str, str]] | None = None,
        routes: dict[tuple[str, str], Handler] | None = None,
    ) -> None:
        self.name = name
        self.tokens = frozenset(tokens or ())
        self.basic = frozenset(basic or ())
        self.routes: list[Route] = []
        for (method, pattern), handler in (routes or {}).items():
            self.add_route(method, pattern, handler)

    def add_route(self, method: str, pattern: str, handler: Handler, *, public: bool = False):
        route = Route(method.upper(), pattern, compile_pattern(pattern), handler, public)
        self.routes.append(route)
        return handler

    def route(self, method: str, pattern: str, *, public: bool = False):
        """Decorator: `@app.route("GET", "/repos/{owner}/{repo}")`."""

        def register(handler: Handler) -> Handler:
            return self.add_route(method, pattern, handler, public=public)

        return register

    def get(self, pattern: str, *, public: bool = False):
        return self.route("GET", pattern, public=public)

    def post(self, pattern: str, *, public: bool = False):
        return self.route("POST", pattern, public=public)

    def put(self, pattern: str, *, public: bool = False):
        return self.route("PUT", pattern, public=public)

    def patch(self, pattern: str, *, public: bool = False):
        return self.route("PATCH", pattern, public=public)

    def delete(self, pattern: str, *, public: bool = False):
        return self.route("DELETE", pattern, public=public)

    @property
    def requires_auth(self) -> bool:
        return bool(self.tokens or self.basic)

    def is_authorized(self, request: Request) -> bool:
        scheme, credential = credentials_in(request)
        if scheme in ("bearer", "token"):
            return credential in self.tokens
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, password = decoded.partition(":")
            return (user, password) in self.basic
        return False

    def unauthorized(self, request: Request) -> Response:
        """The 401 answer; a fake may override it with its upstream's exact shape."""
        return Response.json(
            {"message": "Bad credentials"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )

    def handle(self, request: Request) -> Response:
        """Route one request: 404 for an unknown path, 405 for a known path and wrong method."""
        path_matched = False
        for route in self.routes:
            match = route.regex.match(request.path)
            if match is None:
                continue
            path_matched = True
            if route.method != request.method:
                continue
            if self.requires_auth and not route.public and not self.is_authorized(request):
                return self.unauthorized(request)
            request.path_params = {
                name: unquote(value) for name, value in match.groupdict().items()
            }
            try:
                return as_response(route.handler(request))
            except HTTPError as error:
                return error.response()
        if path_matched:
            return Response.json({"message": "Method Not Allowed"}, status=405)
        return Response.json({"message": "Not Found"}, status=404)


class LiveCredentialsApp(FakeApp):
    """A FakeApp whose accepted credentials live on its fake (`fake.accepts`) and change
    at run time (a test revokes a token); subclasses check a request's credential their
    upstream's way in `is_authorized`."""

    def __init__(self, name: str, fake: Any) -> None:
        super().__init__(name)
        self.fake = fake

    @property
    def requires_auth(self) -> bool:
        return True
