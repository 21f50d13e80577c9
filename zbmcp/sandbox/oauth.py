"""The Zoho Accounts endpoints (§8), served on the same host as the API:

    GET  /oauth/v2/auth            consent, given at once for the sandbox's default user; 302 to redirect_uri
    POST /oauth/v2/token           authorization_code and refresh_token grants; params in the body or query
    POST /oauth/v2/token/revoke    ?token=<refresh token>
    GET  /oauth/serverinfo         the data-centre map, with this server as the only location

Token-endpoint errors come back as HTTP 200 with {"error": ...} (§8.8), except "Access Denied" for too many
refreshes, which is HTTP 400 with Zoho's three-key body (§8.5). Nothing secret is logged.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from zbmcp.sandbox import scopes
from zbmcp.sandbox.records import TokenRequest
from zbmcp.sandbox.tokens import ACCESS_DENIED, AccessToken, TokenError

if TYPE_CHECKING:
    from zbmcp.sandbox.sandbox import Sandbox

log = logging.getLogger("zbmcp.sandbox")


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class OAuthEndpoints:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/v2/auth", self.authorize, methods=["GET"]),
            Route("/oauth/v2/token", self.token, methods=["POST"]),
            Route("/oauth/v2/token/revoke", self.revoke, methods=["POST"]),
            Route("/oauth/serverinfo", self.serverinfo, methods=["GET"]),
        ]

    async def authorize(self, request: Request) -> Response:
        sandbox = self._sandbox
        params = request.query_params
        client = sandbox.tokens.clients.get(params.get("client_id", ""))
        if client is None:
            return _error_page("Invalid Client", "The client_id is not registered with this sandbox.")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return _error_page("Invalid Redirect Uri", "The redirect_uri does not match the client's.")
        accounts_server = sandbox.settings.accounts_server or base_url(request)
        reply: dict[str, str] = {}
        requested = scopes.split(params.get("scope", ""))
        if params.get("response_type") != "code":
            reply["error"] = "unsupported_response_type"
        elif not requested or scopes.invalid(requested):
            reply["error"] = "invalid_scope"
        else:
            with sandbox.lock:
                reply["code"] = sandbox.tokens.grant(
                    client.client_id, sandbox.default_user_id, requested, redirect_uri,
                    offline=params.get("access_type", "online").lower() == "offline",
                    force_consent=params.get("prompt", "").lower() == "consent",
                )
        reply.update({"location": sandbox.settings.location, "accounts-server": accounts_server})
        if "state" in params:
            reply["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + separator + urlencode(reply), status_code=302)

    async def token(self, request: Request) -> Response:
        sandbox = self._sandbox
        params = await _params(request)
        grant_type = params.get("grant_type", "")
        client_id = params.get("client_id", "")
        try:
            with sandbox.lock:
                body = self._grant(request, grant_type, client_id, params)
        except TokenError as error:
            self._record(grant_type, error.error, client_id)
            if error.error == "Access Denied":
                return JSONResponse(ACCESS_DENIED, status_code=400)
            return JSONResponse({"error": error.error})  # §8.8: HTTP 200 with an error field
        self._record(grant_type, "ok", client_id)
        return JSONResponse(body)

    async def revoke(self, request: Request) -> Response:
        params = await _params(request)
        with self._sandbox.lock:
            revoked = self._sandbox.tokens.revoke(params.get("token", ""))
        self._record("revoke", "ok" if revoked else "invalid_token", None)
        if not revoked:
            return JSONResponse({"error": "invalid_token"}, status_code=400)  # §8.6
        return JSONResponse({"status": "success"})

    async def serverinfo(self, request: Request) -> Response:
        here = self._sandbox.settings.accounts_server or base_url(request)
        return JSONResponse({"result": "success", "locations": {self._sandbox.settings.location: here}})

    def _grant(self, request: Request, grant_type: str, client_id: str, params: dict[str, str]) -> dict[str, object]:
        tokens = self._sandbox.tokens
        secret = params.get("client_secret", "")
        if grant_type == "authorization_code":
            access, refresh = tokens.exchange_code(client_id, secret, params.get("code", ""),
                                                   params.get("redirect_uri"))
            return self._token_body(request, access, refresh.token if refresh else None)
        if grant_type == "refresh_token":
            access = tokens.refresh(client_id, secret, params.get("refresh_token", ""))
            return self._token_body(request, access, None)  # §8.3: no new refresh token
        raise TokenError("unsupported_grant_type")

    def _token_body(self, request: Request, access: AccessToken, refresh_token: str | None) -> dict[str, object]:
        body: dict[str, object] = {"access_token": access.token}
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        body.update({
            "scope": ",".join(access.scopes),
            "api_domain": self._sandbox.settings.api_domain or base_url(request),
            "token_type": "Bearer",
            "expires_in": self._sandbox.tokens.expires_in(access),
        })
        return body

    def _record(self, grant_type: str, outcome: str, client_id: str | None) -> None:
        self._sandbox.token_requests.append(
            TokenRequest(grant_type=grant_type, outcome=outcome, client_id=client_id or None,
                         at=self._sandbox.clock()))
        log.info("accounts %s -> %s", grant_type or "(no grant_type)", outcome)


async def _params(request: Request) -> dict[str, str]:
    """Query-string parameters overlaid with form-body ones: Zoho's docs show both (§8.2)."""
    params = dict(request.query_params)
    try:
        async with request.form() as form:
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    except HTTPException:
        pass  # an unreadable body carries no parameters
    return params


def _error_page(title: str, detail: str) -> HTMLResponse:
    return HTMLResponse(
        f"<html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p></body></html>",
        status_code=400,
    )
