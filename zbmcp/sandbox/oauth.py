"""The Zoho Accounts endpoints (§8), served on the same host as the API:

    GET  /oauth/v2/auth            consent; 302 to redirect_uri. Given at once for the default user (settings
                                   sign_in="automatic") or for a browser already signed in; else the
                                   sign-in page
    POST /oauth/v2/auth            the sign-in page's form: a sandbox user's email and password, or Reject
    POST /oauth/v2/token           authorization_code and refresh_token grants; params in the body or query
    POST /oauth/v2/token/revoke    ?token=<refresh token>
    GET  /oauth/serverinfo         the data-centre map, with this server as the only location
    GET  /oauth/user/info          who the token belongs to (scope AaaServer.profile.READ): ZUID, Email, names

The user-info endpoint's success body is Zoho's; its error body is not documented by Zoho, so the sandbox
answers HTTP 401 with {"response": "error", "cause": ...}, a shape zbmcp does not rely on.

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
from zbmcp.sandbox.users import PASSWORD, SESSION_COOKIE, User

if TYPE_CHECKING:
    from zbmcp.sandbox.sandbox import Sandbox

log = logging.getLogger("zbmcp.sandbox")

PROFILE_SCOPE = "aaaserver.profile.read"
_AUTHORIZE_PARAMS = ("client_id", "redirect_uri", "scope", "response_type", "access_type", "prompt", "state")


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class OAuthEndpoints:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/v2/auth", self.authorize, methods=["GET"]),
            Route("/oauth/v2/auth", self.sign_in, methods=["POST"]),
            Route("/oauth/v2/token", self.token, methods=["POST"]),
            Route("/oauth/v2/token/revoke", self.revoke, methods=["POST"]),
            Route("/oauth/serverinfo", self.serverinfo, methods=["GET"]),
            Route("/oauth/user/info", self.user_info, methods=["GET"]),
        ]

    async def authorize(self, request: Request) -> Response:
        sandbox = self._sandbox
        params = {key: request.query_params[key] for key in _AUTHORIZE_PARAMS if key in request.query_params}
        refused = self._check_client(params)
        if refused is not None:
            return refused
        user = sandbox.users.session_user(request.cookies.get(SESSION_COOKIE))
        if user is None and sandbox.settings.sign_in == "form":
            return _sign_in_page(params, params["client_id"], list(sandbox.users.users.values()))
        return self._consent(request, params, user or sandbox.users.users[sandbox.default_user_id])

    async def sign_in(self, request: Request) -> Response:
        """The sign-in form: the same authorization parameters (hidden fields) plus email and password."""
        sandbox = self._sandbox
        async with request.form() as form:
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
        params = {key: fields[key] for key in _AUTHORIZE_PARAMS if key in fields}
        refused = self._check_client(params)  # hidden fields come from the browser: check them again
        if refused is not None:
            return refused
        if fields.get("action") == "reject":
            return self._redirect(request, params, {"error": "access_denied"})
        with sandbox.lock:
            user = sandbox.users.check_password(fields.get("email", ""), fields.get("password", ""))
            session = sandbox.users.open_session(user) if user is not None else None
        if user is None or session is None:
            log.info("accounts sign-in refused: wrong email or password")
            return _sign_in_page(params, params["client_id"], list(sandbox.users.users.values()),
                                 error="Incorrect email or password.")
        response = self._consent(request, params, user)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax", path="/")
        return response

    def _check_client(self, params: dict[str, str]) -> Response | None:
        client = self._sandbox.tokens.clients.get(params.get("client_id", ""))
        if client is None:
            return _error_page("Invalid Client", "The client_id is not registered with this sandbox.")
        if params.get("redirect_uri", "") not in client.redirect_uris:
            return _error_page("Invalid Redirect Uri", "The redirect_uri does not match the client's.")
        return None

    def _consent(self, request: Request, params: dict[str, str], user: User) -> Response:
        sandbox = self._sandbox
        reply: dict[str, str] = {}
        requested = scopes.split(params.get("scope", ""))
        if params.get("response_type") != "code":
            reply["error"] = "unsupported_response_type"
        elif not requested or scopes.invalid(requested):
            reply["error"] = "invalid_scope"
        else:
            with sandbox.lock:
                reply["code"] = sandbox.tokens.grant(
                    params["client_id"], user.user_id, requested, params["redirect_uri"],
                    offline=params.get("access_type", "online").lower() == "offline",
                    force_consent=params.get("prompt", "").lower() == "consent",
                )
        return self._redirect(request, params, reply)

    def _redirect(self, request: Request, params: dict[str, str], reply: dict[str, str]) -> Response:
        sandbox = self._sandbox
        accounts_server = sandbox.settings.accounts_server or base_url(request)
        reply = {**reply, "location": sandbox.settings.location, "accounts-server": accounts_server}
        if "state" in params:
            reply["state"] = params["state"]
        redirect_uri = params["redirect_uri"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + separator + urlencode(reply), status_code=302)

    async def user_info(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() not in ("zoho-oauthtoken", "bearer") or not token.strip():
            return JSONResponse({"response": "error", "cause": "no_oauthtoken"}, status_code=401)
        with self._sandbox.lock:
            access = self._sandbox.tokens.authenticate(token.strip())
            user = self._sandbox.users.users.get(access.user_id) if access is not None else None
        if access is None or user is None:
            return JSONResponse({"response": "error", "cause": "invalid_oauthtoken"}, status_code=401)
        if PROFILE_SCOPE not in {scope.lower() for scope in access.scopes}:
            return JSONResponse({"response": "error", "cause": "invalid_oauthscope"}, status_code=401)
        return JSONResponse(user.user_info())

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

    def _grant(self, request: Request, grant_type: str, client_id: str,
               params: dict[str, str]) -> dict[str, object]:
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

    def _token_body(self, request: Request, access: AccessToken,
                    refresh_token: str | None) -> dict[str, object]:
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


def _sign_in_page(params: dict[str, str], client_id: str, users: list[User], *,
                  error: str | None = None) -> HTMLResponse:
    hidden = "".join(f'<input type="hidden" name="{html.escape(key)}" value="{html.escape(value)}">'
                     for key, value in params.items())
    scopes_asked = ", ".join(scopes.split(params.get("scope", ""))) or "(none)"
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to Zoho (sandbox)</title></head>
<body>
<h1>Sign in to Zoho</h1>
<p>This is the zbmcp sandbox's Zoho Accounts: nothing here is real. Every sandbox user's password is
<code>{html.escape(PASSWORD)}</code>: {html.escape(", ".join(user.email for user in users))}.</p>
<p>Client <code>{html.escape(client_id)}</code> asks for: {html.escape(scopes_asked)}</p>
{problem}
<form method="post" action="/oauth/v2/auth">
{hidden}
<label>Email <input type="email" name="email" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit" name="action" value="sign_in">Sign in and accept</button>
<button type="submit" name="action" value="reject" formnovalidate>Reject</button>
</form>
</body></html>"""
    return HTMLResponse(body)
