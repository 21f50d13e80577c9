"""The console's ASGI app: routes, the checks every request passes, and page rendering.

Every request, in order: the Host is one we serve -> no Authorization header (agent keys never open the
console) -> a live session (except sign-in and static files) -> on a POST, the form's CSRF token matches the
session's and the Origin, if sent, is ours. A refusal says what happened and what to do, and is audited.
The console holds no rules of its own: it shows and acts through the policy, the inbox and the audit log.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from zbmcp.audit import events as audit_events
from zbmcp.core.access import access_matrix, compare, matrix_of
from zbmcp.audit.log import AuditEvent, now_iso
from zbmcp.audit.query import AuditFilter, Page, ZoneIndex, appended, newest
from zbmcp.audit.query import parse_since
from zbmcp.errors import AuditUnavailable, ConfigError
from zbmcp.calls.inbox import DecisionRefused, HeldCall
from zbmcp.core.credentials import key_hash
from zbmcp.core.credentials import DUMMY_HASH, verify_secret
from zbmcp.calls.runtime import Runtime
from zbmcp.state import StateUnavailable

from zbmcp.console.chain import ChainStatus, ChainWatch
from zbmcp.console.sessions import Session, Sessions, SignInGuard

log = logging.getLogger(__name__)

SESSION_COOKIE = "zbmcp_console"
SIGN_IN_COOKIE = "zbmcp_console_sign_in"  # the sign-in form's CSRF token, before there is a session
PREFIX = "/console"
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
MAX_FORM_BYTES = 256 * 1024  # a pasted config for comparison is the largest form
AUDIT_PAGE = 50
DECISIONS = ["allowed", "denied", "failed", "unknown", "dry_run", "pending", "approved"]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send `Origin: null` on our forms
    "Cache-Control": "no-store",
}

Handler = Callable[[Request, Session], Awaitable[Response]]


class Refused(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        self.status = status
        self.title = title
        self.message = message
        super().__init__(message)


class ConsoleApp:
    """The operator's console for one Runtime, served under /console (mounted by the HTTP app, or alone by
    `zbmcp console`)."""

    def __init__(self, runtime: Runtime, *, refresh_seconds: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        config = runtime.config.config
        self.runtime = runtime
        self.refresh_ms = int(refresh_seconds * 1000)
        self.sessions = Sessions(runtime.state, config.console.session_minutes * 60.0, clock)
        self.guard = SignInGuard(runtime.state, clock)
        self._clock = clock
        self._hosts = LOOPBACK_HOSTS + list(config.http.allowed_hosts) + (config.oauth.public_hosts if config.oauth
                                                                          else [])
        self._proxies = [ipaddress.ip_network(p, strict=False) for p in config.console.trusted_proxies]
        self._agent_keys = {h: name for name, agent in config.agents.items() for h in agent.api_keys}
        self._matrix = access_matrix(runtime.config, runtime.specs, runtime.policies)
        self._chain = ChainWatch(runtime.config.audit_path)
        self._zones = ZoneIndex()
        self._templates = Environment(loader=PackageLoader("zbmcp.console", "templates"),
                                      autoescape=select_autoescape(default=True), enable_async=False)
        self._templates.filters["when"] = _when
        self._templates.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
        static = Path(__file__).parent / "static"
        signed_in = self._signed_in
        self._app = Starlette(routes=[
            Route("/", self._home, methods=["GET"]),
            Route("/sign-in", self._sign_in_page, methods=["GET"]),
            Route("/sign-in", self._sign_in, methods=["POST"]),
            Route("/sign-out", signed_in(self._sign_out), methods=["POST"]),
            Route("/approvals", signed_in(self._approvals), methods=["GET"]),
            Route("/approvals/live", signed_in(self._approvals_live), methods=["GET"]),
            Route("/approvals/{approval_id}", signed_in(self._approval), methods=["GET"]),
            Route("/approvals/{approval_id}", signed_in(self._decide), methods=["POST"]),
            Route("/access", signed_in(self._access), methods=["GET"]),
            Route("/access/compare", signed_in(self._compare_page), methods=["GET"]),
            Route("/access/compare", signed_in(self._compare), methods=["POST"]),
            Route("/audit", signed_in(self._audit_page), methods=["GET"]),
            Route("/audit/live", signed_in(self._audit_live), methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=static), name="static"),
        ])

    def chain_status(self) -> ChainStatus:
        """What the audit page says of the hash chain (starting a check when the log has grown)."""
        return self._chain.status()

    def background_busy(self) -> bool:
        """The chain check or the audit index is being built (a benchmark waits for them)."""
        return self._chain.busy or self._zones.building

    # -- ASGI: the checks every request passes ------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request whose path starts with /console."""
        if scope["type"] != "http":
            return
        send = _with_headers(send)
        request = Request(scope, receive)
        try:
            self._check_host(request)
            await self._check_no_agent_key(request)
        except Refused as refused:
            await self._refusal(request, refused)(scope, receive, send)
            return
        await self._app({**scope, "root_path": scope.get("root_path", "") + PREFIX}, receive, send)

    def _check_host(self, request: Request) -> None:
        host = request.headers.get("host", "")
        if not any(fnmatch.fnmatchcase(host, pattern.replace(":*", ":[0-9]*")) or host == pattern
                   for pattern in self._hosts):
            raise Refused(421, "Unknown host", f"This console does not answer for host {host!r}. "
                          "List the host name under http.allowed_hosts in the config.")

    async def _check_no_agent_key(self, request: Request) -> None:
        header = request.headers.get("authorization")
        if header is None:
            return
        token = header.removeprefix("Bearer ").strip()
        agent = self._agent_keys.get(key_hash(token)) if token else None
        who = f'agent "{agent}"\'s API key' if agent else "an Authorization header"
        self._audit("console.refused", "denied", f"the console refused a request to {request.url.path} "
                    f"carrying {who}: agent keys never open the console", agent=agent)
        raise Refused(403, "Agent keys do not open the console",
                      "The console is for people: sign in as an operator. Agent API keys only reach /mcp.")

    def _signed_in(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = None
            try:
                session = await self.sessions.find(request.cookies.get(SESSION_COOKIE))
                if session is None:
                    if request.method == "GET":
                        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                        return RedirectResponse(f"{PREFIX}/sign-in?next={urllib.parse.quote(target)}", 303)
                    self._audit("console.refused", "denied",
                                f"the console refused a form sent to {request.url.path} without a live session")
                    raise Refused(401, "Your session has ended",
                                  "You are not signed in, or your session expired. Sign in again; nothing was done.")
                if request.method == "POST":
                    form = await self._form(request)
                    self._check_origin(request)
                    if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
                        self._audit("console.refused", "denied",
                                    f'the console refused a form sent to {request.url.path} in operator '
                                    f'"{session.operator}"\'s session with a missing or wrong CSRF token',
                                    operator=session.operator)
                        raise Refused(403, "This form was not sent from the console",
                                      "The form's security token is missing or stale (an old tab, or another "
                                      "site posting here). Nothing was done; reload the page and try again.")
                    request.state.form = form
                return await handler(request, session)
            except Refused as refused:
                return self._refusal(request, refused, session)
            except StateUnavailable as exc:
                return self._refusal(request, _unavailable(exc), session)

        return endpoint

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is None:  # browsers send it with every POST; other clients still need the CSRF token
            return
        if urllib.parse.urlsplit(origin).netloc != request.headers.get("host", ""):
            self._audit("console.refused", "denied",
                        f"the console refused a form sent to {request.url.path} from another site ({origin[:100]})")
            raise Refused(403, "This form came from another site",
                          "The console only accepts forms from its own pages. Nothing was done.")

    async def _form(self, request: Request) -> dict[str, str]:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            raise Refused(413, "Too large", f"A console form may carry at most {MAX_FORM_BYTES // 1024} KiB.")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refused(413, "Too large", f"A console form may carry at most {MAX_FORM_BYTES // 1024} KiB.")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise Refused(415, "Not a console form", "Send the console's own forms.")
        parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    # -- rendering -----------------------------------------------------------------------------------

    def _scheme(self, request: Request) -> str:
        scheme = request.url.scheme
        client = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-proto")
        if forwarded and client and self._trusted(client):
            scheme = forwarded.split(",")[0].strip()
        return scheme

    def _client_address(self, request: Request) -> str:
        """Who is asking: the peer, or behind a trusted proxy the last address the proxies did not add."""
        address = request.client.host if request.client else "unknown"
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded and self._trusted(address):
            for hop in reversed([h.strip() for h in forwarded.split(",")]):
                address = hop
                if not self._trusted(hop):
                    break
        return address[:64]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._proxies)

    def _page(self, request: Request, template: str, session: Session | None, status: int = 200,
              **context: Any) -> HTMLResponse:
        html = self._templates.get_template(template).render(
            prefix=PREFIX, session=session, refresh_ms=self.refresh_ms, path=request.url.path, **context)
        return HTMLResponse(html, status_code=status)

    def _refusal(self, request: Request, refused: Refused, session: Session | None = None) -> Response:
        return self._page(request, "message.html", session, refused.status, title=refused.title,
                          message=refused.message)

    def _set_cookie(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict",
                            secure=self._scheme(request) == "https")

    def _audit(self, event: str, decision: str, sentence: str, *, operator: str | None = None,
               agent: str | None = None, strict: bool = False) -> None:
        """strict: what the record vouches for (a sign-in) must not happen unrecorded."""
        try:
            self.runtime.audit.write(AuditEvent(time=now_iso(), event=event, decision=decision, sentence=sentence,
                                                operator=operator, agent=agent))
        except AuditUnavailable as exc:
            if strict:
                raise Refused(503, "The audit log cannot be written", str(exc)) from None
            log.error("could not write the audit record of a refused console request: %s", exc)

    # -- sign-in -------------------------------------------------------------------------------------

    async def _home(self, request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/approvals", 303)

    async def _sign_in_page(self, request: Request, *, error: str | None = None, status: int = 200,
                            name: str = "") -> Response:
        token = secrets.token_urlsafe(24)
        response = self._page(request, "sign_in.html", None, status, csrf=token, error=error, name=name,
                              next=_safe_next(request.query_params.get("next")),
                              no_operators=not self.runtime.config.config.operators)
        self._set_cookie(response, request, SIGN_IN_COOKIE, token, 1800)
        return response

    async def _sign_in(self, request: Request) -> Response:
        try:
            return await self._try_sign_in(request)
        except Refused as refused:
            return self._refusal(request, refused)
        except StateUnavailable as exc:
            return self._refusal(request, _unavailable(exc))

    async def _try_sign_in(self, request: Request) -> Response:
        form = await self._form(request)
        self._check_origin(request)
        name = form.get("operator", "").strip()[:64]
        secret = form.get("secret", "")[:1024]
        expected = request.cookies.get(SIGN_IN_COOKIE, "")
        if not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
            self._audit("console.refused", "denied", "the console refused a sign-in form that did not come from "
                        "its own page (missing or wrong CSRF token)")
            return await self._sign_in_page(request, error="That form had expired or did not come from this page. "
                                            "Sign in again.", status=403, name=name)
        address = self._client_address(request)
        subjects = (f"operator:{name.lower()}", f"address:{address}")
        wait = await self.guard.wait_seconds(*subjects)
        if wait > 0:
            self._audit("console.sign_in", "denied", f'sign-in as "{name}" from {address} refused: too many failed '
                        f"attempts, next try allowed in {int(wait) + 1} s", operator=name or None)
            return await self._sign_in_page(request, error=f"Too many failed sign-ins. Wait {int(wait) + 1} seconds "
                                            "and try again.", status=429, name=name)
        await self.guard.attempt(*subjects)
        operator = self.runtime.config.config.operators.get(name)
        stored = operator.secret if operator else DUMMY_HASH
        valid = await anyio.to_thread.run_sync(verify_secret, secret, stored)
        if not (valid and operator):
            agent = self._agent_keys.get(key_hash(secret)) if secret else None
            why = f"an agent's API key (agent \"{agent}\") was used as a secret" if agent else "wrong name or secret"
            self._audit("console.sign_in", "denied", f'sign-in as "{name}" from {address} failed: {why}',
                        operator=name or None, agent=agent)
            message = ("That is an agent's API key. Agent keys never open the console: sign in with an operator's "
                       "secret.") if agent else "Wrong operator name or secret."
            return await self._sign_in_page(request, error=message, status=401, name=name)
        await self.guard.succeeded(*subjects)
        token, _session = await self.sessions.start(name)
        self._audit("console.sign_in", "allowed", f'operator "{name}" signed in to the console from {address}',
                    operator=name, strict=True)
        response = RedirectResponse(_safe_next(form.get("next")) or f"{PREFIX}/approvals", 303)
        self._set_cookie(response, request, SESSION_COOKIE, token, int(self.sessions.ttl))
        response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
        return response

    async def _sign_out(self, request: Request, session: Session) -> Response:
        await self.sessions.end(request.cookies.get(SESSION_COOKIE))
        self._audit("console.sign_out", "allowed", f'operator "{session.operator}" signed out of the console',
                    operator=session.operator)
        response = RedirectResponse(f"{PREFIX}/sign-in", 303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # -- approval inbox ------------------------------------------------------------------------------

    async def _inbox(self) -> tuple[list[HeldCall], list[HeldCall]]:
        held = await self.runtime.inbox.all()
        now = self._clock()
        waiting = [h for h in held if h.status == "pending" and h.expires_at > now]
        decided = [h for h in held if h.status != "pending"]
        return waiting, decided

    async def _approvals(self, request: Request, session: Session) -> Response:
        waiting, decided = await self._inbox()
        return self._page(request, "approvals.html", session, waiting=waiting, decided=decided,
                          version=_version(waiting, decided), done=request.query_params.get("done"))

    async def _approvals_live(self, request: Request, session: Session) -> Response:
        waiting, decided = await self._inbox()
        version = _version(waiting, decided)
        if request.query_params.get("version") == version:
            return Response(status_code=204)
        return self._page(request, "approval_list.html", session, waiting=waiting, decided=decided, version=version)

    async def _approval(self, request: Request, session: Session) -> Response:
        held = await self.runtime.inbox.get(request.path_params["approval_id"][:32])
        if held is None:
            raise Refused(404, "No such approval", "This approval has expired or never existed. If the agent still "
                          "needs it, it will ask again and the request will appear in the inbox.")
        return self._page(request, "approval.html", session, held=held, now=self._clock())

    async def _decide(self, request: Request, session: Session) -> Response:
        form = request.state.form
        approval_id = request.path_params["approval_id"][:32]
        action = form.get("decision")
        if action not in ("approve", "deny"):
            raise Refused(400, "No decision", "Choose Approve or Deny.")
        try:
            await self.runtime.inbox.decide(approval_id, form.get("binding", ""), session.operator,
                                            approve=action == "approve")
        except DecisionRefused as exc:
            self._audit("console.refused", "denied", f'operator "{session.operator}"\'s decision on approval '
                        f"{approval_id} was refused: {exc}", operator=session.operator)
            raise Refused(409, "The decision was not taken", str(exc)) from None
        except AuditUnavailable as exc:
            raise Refused(503, "The decision was not taken", str(exc)) from None
        verb = "approved" if action == "approve" else "denied"
        return RedirectResponse(f"{PREFIX}/approvals?done={verb}:{urllib.parse.quote(approval_id)}", 303)

    # -- access matrix -------------------------------------------------------------------------------

    async def _access(self, request: Request, session: Session) -> Response:
        return self._page(request, "access.html", session, matrix=self._matrix,
                          revision=self.runtime.config.revision)

    async def _compare_page(self, request: Request, session: Session) -> Response:
        return self._page(request, "compare.html", session, candidate="", changes=None, error=None)

    async def _compare(self, request: Request, session: Session) -> Response:
        candidate = request.state.form.get("candidate", "")
        try:
            other = matrix_of(candidate, "the pasted config", self.runtime.specs)
        except ConfigError as exc:
            return self._page(request, "compare.html", session, 422, candidate=candidate, changes=None,
                              error=str(exc))
        return self._page(request, "compare.html", session, candidate=candidate,
                          changes=compare(self._matrix, other), error=None)

    # -- audit viewer --------------------------------------------------------------------------------

    def _filters(self, request: Request) -> tuple[AuditFilter, dict[str, str], str | None]:
        query = request.query_params
        chosen = {name: query.get(name, "").strip()[:100] for name in
                  ("agent", "tool", "organization", "decision", "event", "since", "until")}
        error = audit_events.problem(chosen["event"]) if chosen["event"] else None
        event = chosen["event"] if chosen["event"] and error is None else None
        times: dict[str, dt.datetime | None] = {"since": None, "until": None}
        for name in ("since", "until"):
            if chosen[name]:
                try:
                    times[name] = parse_since(chosen[name])
                except ConfigError:
                    error = (f"{name}: {chosen[name]!r} is not a time; write 30m, 2h, 7d, 2026-11-25 or "
                             "2026-11-25T10:00")
        filters = AuditFilter(agent=chosen["agent"] or None, tool=chosen["tool"] or None,
                              organization=chosen["organization"] or None, decision=chosen["decision"] or None,
                              event=event, since=times["since"], until=times["until"])
        return filters, chosen, error

    async def _audit_page(self, request: Request, session: Session) -> Response:
        filters, chosen, error = self._filters(request)
        path = self.runtime.config.audit_path
        before = request.query_params.get("before", "")
        page = Page([], None, 0)
        if path is not None:
            page = newest(path, filters, limit=AUDIT_PAGE, before=int(before) if before.isdigit() else None,
                          index=self._zones)
        agents = sorted(self.runtime.config.config.agents)
        organizations = sorted({o for a in self.runtime.config.config.agents.values() for o in a.organizations})
        return self._page(
            request, "audit.html", session, page=page, chosen=chosen, error=error, audit_file=path,
            agents=agents, tools=sorted(self.runtime.specs), organizations=organizations, decisions=DECISIONS,
            events=audit_events.choices(),
            query=urllib.parse.urlencode({k: v for k, v in chosen.items() if v}), live=not before,
            chain=self.chain_status(),
        )

    async def _audit_live(self, request: Request, session: Session) -> Response:
        filters, _chosen, _error = self._filters(request)
        path = self.runtime.config.audit_path
        after = request.query_params.get("after", "")
        if path is None or not after.isdigit():
            return Response(status_code=204)
        page = appended(path, filters, after=int(after))
        response = self._page(request, "audit_rows.html", session, records=page.records)
        response.headers["X-Audit-Cursor"] = str(page.end)
        return response


def _unavailable(exc: StateUnavailable) -> Refused:
    return Refused(503, "zbmcp's shared state is unavailable", f"{exc} Nothing was done; try again shortly.")


def _with_headers(send: Send) -> Send:
    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            for name, value in SECURITY_HEADERS.items():
                if name.lower().encode() not in present:
                    headers.append((name.lower().encode(), value.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending  # type: ignore[return-value]


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console: a sign-in link must not send the operator to another site."""
    if target and target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return None


def _version(waiting: list[HeldCall], decided: list[HeldCall]) -> str:
    state = [(h.id, h.status) for h in waiting + decided]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]


def _when(timestamp: float | str | None) -> str:
    if timestamp is None or timestamp == "":
        return ""
    if isinstance(timestamp, str):
        return timestamp[:19].replace("T", " ")
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
