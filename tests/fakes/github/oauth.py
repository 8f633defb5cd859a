"""GitHub's OAuth app web flow, as social-core's `github` / `github-enterprise` backends drive it.

    GET    /login/oauth/authorize      → 302 to redirect_uri?code=…&state=… (auto-approved)
    POST   /login/oauth/access_token   → {"access_token": "gho_…", "token_type": "bearer", "scope"}
    DELETE /applications/{client_id}/grant (Basic client_id:secret) → 204, tokens revoked
    DELETE /applications/{client_id}/token (Basic client_id:secret) → 204, that token revoked

Errors at the token endpoint are 200s with an "error" key, as GitHub answers them.
https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode

from tests.fakes.app import FakeApp, HTTPError, Request, Response, credentials_in

if TYPE_CHECKING:
    from tests.fakes.github.fake import FakeGitHub

CODE_LIFETIME_SECONDS = 600
TROUBLESHOOTING = (
    "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors/"
)
TOKEN_ERRORS = {
    "incorrect_client_credentials": "The client_id and/or client_secret passed are incorrect.",
    "redirect_uri_mismatch": "The redirect_uri MUST match the registered callback URL for this "
    "application.",
    "bad_verification_code": "The code passed is incorrect or expired.",
}
_ALPHABET = string.ascii_letters + string.digits


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    scope: str
    issued_at: float
    used: bool = False


def normalized_scope(scope: str | None) -> str:
    """GitHub accepts scopes separated by commas or spaces and answers them comma-separated."""
    return ",".join(part for part in (scope or "").replace(" ", ",").split(",") if part)


def form(request: Request) -> dict[str, str]:
    """Parameters from the query, a form body or a JSON body (GitHub takes any of them)."""
    values = {name: found[0] for name, found in request.query.items() if found}
    content_type = request.headers.get("Content-Type", "")
    if "json" in content_type:
        body = request.json() or {}
        values.update({name: str(value) for name, value in body.items()})
    elif request.body:
        parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        values.update({name: found[0] for name, found in parsed.items() if found})
    return values


def basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, credential = credentials_in(request)
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(credential, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


class OAuthServer:
    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.codes: dict[str, Grant] = {}
        self._lock = threading.Lock()

    # GET /login/oauth/authorize
    def authorize(self, request: Request) -> Response:
        fake = self.fake
        client_id, redirect_uri = request.param("client_id"), request.param("redirect_uri")
        state, scope = request.param("state"), request.param("scope")
        fake.last_authorize = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
        }
        if client_id != fake.oauth_client_id:
            raise HTTPError(400, f"Unknown OAuth application client_id {client_id!r}")
        if not redirect_uri:
            raise HTTPError(400, "redirect_uri is required")
        code = secrets.token_hex(10)
        with self._lock:
            self.codes[code] = Grant(client_id, redirect_uri, normalized_scope(scope), time.time())
        answer = {"code": code, **({"state": state} if state is not None else {})}
        separator = "&" if "?" in redirect_uri else "?"
        location = f"{redirect_uri}{separator}{urlencode(answer)}"
        return Response(status=302, headers={"Location": location})

    # POST /login/oauth/access_token
    def access_token(self, request: Request) -> Response:
        fake = self.fake
        values = form(request)
        client_id = values.get("client_id")
        client_secret = values.get("client_secret")
        if client_id is None and (basic := basic_credentials(request)):
            client_id, client_secret = basic
        if (client_id, client_secret) != (fake.oauth_client_id, fake.oauth_client_secret):
            return self._token_answer(request, error="incorrect_client_credentials")
        with self._lock:
            grant = self.codes.get(values.get("code", ""))
            expired = grant is None or time.time() - grant.issued_at > CODE_LIFETIME_SECONDS
            if grant is None or grant.used or expired or grant.client_id != client_id:
                return self._token_answer(request, error="bad_verification_code")
            redirect_uri = values.get("redirect_uri")
            if redirect_uri and redirect_uri != grant.redirect_uri:
                return self._token_answer(request, error="redirect_uri_mismatch")
            grant.used = True
        token = "gho_" + "".join(secrets.choice(_ALPHABET) for _ in range(36))
        fake.issued_tokens[token] = grant.scope
        fake.issue_token(token)
        answer = {"access_token": token, "token_type": "bearer", "scope": grant.scope}
        return self._token_answer(request, answer=answer)

    # DELETE /applications/{client_id}/grant: revokes every token the app holds for the user.
    def delete_grant(self, request: Request) -> Response:
        token = self._token_to_revoke(request)
        for issued in list(self.fake.issued_tokens):
            self.fake.revoke_token(issued)
        self.fake.revoke_token(token)
        return Response(status=204)

    # DELETE /applications/{client_id}/token: revokes that one token.
    def delete_token(self, request: Request) -> Response:
        self.fake.revoke_token(self._token_to_revoke(request))
        return Response(status=204)

    def _token_to_revoke(self, request: Request) -> str:
        fake = self.fake
        if request.path_params["client_id"] != fake.oauth_client_id:
            raise HTTPError(404, "Not Found")
        if basic_credentials(request) != (fake.oauth_client_id, fake.oauth_client_secret):
            payload = {
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
            }
            raise HTTPError(401, "Bad credentials", payload=payload)
        token = (request.json() or {}).get("access_token")
        if not token:
            raise HTTPError(422, 'Invalid request.\n\n"access_token" wasn\'t supplied.')
        if token not in fake.issued_tokens or not fake.accepts(token):
            raise HTTPError(404, "Not Found")
        return token

    @staticmethod
    def _token_answer(
        request: Request, *, answer: dict[str, str] | None = None, error: str | None = None
    ) -> Response:
        if error is not None:
            answer = {
                "error": error,
                "error_description": TOKEN_ERRORS[error],
                "error_uri": TROUBLESHOOTING + "#" + error.replace("_", "-"),
            }
        assert answer is not None
        if "json" in request.headers.get("Accept", ""):
            return Response.json(answer)
        # Without Accept: application/json GitHub answers form-encoded.
        content_type = "application/x-www-form-urlencoded; charset=utf-8"
        return Response(body=urlencode(answer).encode(), headers={"Content-Type": content_type})


def register_oauth(app: FakeApp, fake: FakeGitHub) -> OAuthServer:
    server = OAuthServer(fake)
    app.add_route("GET", "/login/oauth/authorize", server.authorize, public=True)
    app.add_route("POST", "/login/oauth/access_token", server.access_token, public=True)
    app.add_route("DELETE", "/applications/{client_id}/grant", server.delete_grant, public=True)
    app.add_route("DELETE", "/applications/{client_id}/token", server.delete_token, public=True)
    return server
