"""Signing operators in and out: the sign-in form and its CSRF cookie, the back-off after failed attempts, and
the session cookie. Every attempt, allowed or refused, is audited; a sign-in that cannot be recorded does not
happen."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from zbmcp.calls.runtime import Runtime
from zbmcp.console.checks import RequestChecks
from zbmcp.console.pages import PREFIX, Pages, Refused, unavailable
from zbmcp.proxies import TrustedProxies
from zbmcp.console.sessions import SESSION_COOKIE, Session, Sessions, SignInGuard
from zbmcp.core.credentials import DUMMY_HASH, key_hash, verify_secret
from zbmcp.state import StateUnavailable

SIGN_IN_COOKIE = "zbmcp_console_sign_in"  # the sign-in form's CSRF token, before there is a session
_SIGN_IN_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24)


class SignIn:
    def __init__(self, runtime: Runtime, pages: Pages, checks: RequestChecks, proxies: TrustedProxies,
                 sessions: Sessions, guard: SignInGuard, agent_keys: Mapping[str, str]) -> None:
        self.runtime = runtime
        self._pages = pages
        self._audit = pages.audit
        self._checks = checks
        self._proxies = proxies
        self._sessions = sessions
        self._guard = guard
        self._agent_keys = agent_keys

    async def page(self, request: Request, *, error: str | None = None, status: int = 200,
                   name: str = "") -> Response:
        # The browser's token is kept while it is well formed, so that another tab, or a request the
        # browser makes on its own that ends here, cannot replace the token of the form being filled in.
        kept = request.cookies.get(SIGN_IN_COOKIE, "")
        token = kept if _SIGN_IN_TOKEN.fullmatch(kept) else secrets.token_urlsafe(24)
        response = self._pages.page(request, "sign_in.html", None, status, csrf=token, error=error, name=name,
                                    next=safe_next(request.query_params.get("next")),
                                    no_operators=not self.runtime.config.config.operators)
        # Only the page a person sees sets it: not an image, script or fetch() that was sent here.
        if request.headers.get("sec-fetch-dest", "document") == "document":
            self._pages.set_cookie(response, request, SIGN_IN_COOKIE, token, 1800)
        return response

    async def sign_in(self, request: Request) -> Response:
        try:
            return await self._try_sign_in(request)
        except Refused as refused:
            return self._pages.refusal(request, refused)
        except StateUnavailable as exc:
            return self._pages.refusal(request, unavailable(exc))

    async def _try_sign_in(self, request: Request) -> Response:
        form = await self._checks.form(request)
        self._checks.check_origin(request)
        name = form.get("operator", "").strip()[:64]
        secret = form.get("secret", "")[:1024]
        expected = request.cookies.get(SIGN_IN_COOKIE, "")
        if not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
            self._audit("console.refused", "denied", "the console refused a sign-in form that did not "
                        "come from its own page (missing or wrong CSRF token)")
            return await self.page(request, error="That form had expired or did not come from this page. "
                                   "Sign in again.", status=403, name=name)
        address = self._proxies.client_address(request)
        operator = name in self.runtime.config.config.operators
        wait = await self._guard.wait_seconds(name, address, operator=operator)
        if wait > 0:
            self._audit("console.sign_in", "denied", f'sign-in as "{name}" from {address} refused: too '
                        f"many failed attempts, next try allowed in {int(wait) + 1} s",
                        operator=name or None)
            return await self.page(request, error=f"Too many failed sign-ins. Wait {int(wait) + 1} seconds "
                                   "and try again.", status=429, name=name)
        await self._guard.attempt(name, address, operator=operator)
        if not await self._secret_matches(name, secret):
            return await self._wrong_secret(request, name, secret, address)
        await self._guard.succeeded(name, address)
        token, _session = await self._sessions.start(name)
        self._audit("console.sign_in", "allowed", f'operator "{name}" signed in to the console from '
                    f"{address}", operator=name, strict=True)
        response = RedirectResponse(safe_next(form.get("next")) or f"{PREFIX}/approvals", 303)
        self._pages.set_cookie(response, request, SESSION_COOKIE, token, int(self._sessions.ttl))
        response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
        return response

    async def _secret_matches(self, name: str, secret: str) -> bool:
        operator = self.runtime.config.config.operators.get(name)
        # an unknown name costs a hash check too, so the time taken does not say which names exist
        stored = operator.secret if operator else DUMMY_HASH
        valid = await anyio.to_thread.run_sync(verify_secret, secret, stored)
        return bool(valid and operator)

    async def _wrong_secret(self, request: Request, name: str, secret: str, address: str) -> Response:
        agent = self._agent_keys.get(key_hash(secret)) if secret else None
        why = (f"an agent's API key (agent \"{agent}\") was used as a secret" if agent
               else "wrong name or secret")
        self._audit("console.sign_in", "denied", f'sign-in as "{name}" from {address} failed: {why}',
                    operator=name or None, agent=agent)
        message = ("That is an agent's API key. Agent keys never open the console: sign in with an "
                   "operator's secret.") if agent else "Wrong operator name or secret."
        return await self.page(request, error=message, status=401, name=name)

    async def sign_out(self, request: Request, session: Session) -> Response:
        await self._sessions.end(request.cookies.get(SESSION_COOKIE))
        self._audit("console.sign_out", "allowed", f'operator "{session.operator}" signed out of the '
                    "console", operator=session.operator)
        response = RedirectResponse(f"{PREFIX}/sign-in", 303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response


def safe_next(target: str | None) -> str | None:
    """Only a path inside the console: a sign-in link must not send the operator to another site."""
    if target and target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return None
