"""The hosted transports' ASGI app: Streamable HTTP at /mcp and legacy SSE at /sse, each agent known by its
own key (api_keys.py), an OAuth token (oauth_server) or, for the sandbox, the loopback address (keyless.py);
the operator's console at /console and /healthz beside them.

State, and what it means for replicas behind a load balancer:
  * 2026-07-28 clients are served sessionless by the SDK: any replica can answer any request, and approvals
    travel in the call itself (approvals.py: InputRequiredResult, then a retry carrying the answer).
  * Older (2024-11-05..2025-11-25) clients are served stateless as well (a fresh transport per POST, no
    Mcp-Session-Id), unless their agent may ask its own client (`approval: client`).
  * Older clients of an agent that may ask its own client for approval get a stateful session. Their approval
    question is a server-to-client `elicitation/create` request whose answer comes back in a later POST; a
    stateless transport has nowhere to receive that answer (the SDK gives the call no back-channel and does
    not even keep the client's declared capabilities), so every approval would be refused. Those sessions live
    in one replica's memory: route them with sticky sessions (on Mcp-Session-Id, or the Authorization header).
    Each such agent has a session table of its own, capped (http.max_sessions_per_agent,
    zbmcp.transports.http_guard), so one agent's clients can never fill the table every other agent needs.
  * The legacy SSE transport (/sse) is a long-lived stream per client, so it is sticky by nature.

Graceful shutdown (drain, started by the server in http.py): refuse new work, let every call in flight finish
(its result reaches the client), then end the long-lived event streams cleanly.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Literal

import anyio
from anyio.abc import TaskStatus
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import TokenVerifier
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.applications import Starlette
from starlette.authentication import AuthenticationBackend
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from zbmcp import __version__
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.server import ZbmcpServer
from zbmcp.console import PREFIX as CONSOLE
from zbmcp.console import ConsoleApp
from zbmcp.core.config_hosting import Http, OAuth
from zbmcp.hooks import PREFIX as HOOKS
from zbmcp.hooks import HookIntake
from zbmcp.proxies import TrustedProxies, name_allowed
from zbmcp.transports.activity import Activity, SseSession
from zbmcp.transports.api_keys import MCP_SCOPE, ApiKeyVerifier
from zbmcp.transports.http_guard import end_stream_when_idle, refuse_over_session_cap, too_many_sessions
from zbmcp.transports.keyless import LoopbackAgent
from zbmcp.transports.protocol_header import ProtocolVersionHeader
from zbmcp.transports.refused_keys import AuditRefusedKeys, RefusedKeys
from zbmcp.transports.shares import Kind, Shares

if TYPE_CHECKING:
    from zbmcp.oauth_server.edge import OAuthEdge

log = logging.getLogger(__name__)

Transport = Literal["http", "sse", "both"]
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
_STREAM_PATHS = ("/mcp", "/sse")  # a GET here opens a long-lived event stream, not a call


def transport_security(http: Http, oauth: OAuth | None = None) -> TransportSecuritySettings:
    # The OAuth issuer is the public origin clients use: its host is this server's.
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=LOOPBACK_HOSTS + list(http.allowed_hosts) + (oauth.public_hosts if oauth else []),
        allowed_origins=LOOPBACK_ORIGINS + list(http.allowed_origins) + ([oauth.issuer] if oauth else []),
    )


class HttpApp:
    """The ASGI app: /healthz, and /mcp and/or /sse with /messages/, behind per-agent API keys.

    Single use, like the SDK's session managers it holds: build a new one for each server run.
    `keyless_agent`: the sandbox's agent, which every loopback request then acts as (see keyless.py).
    """

    def __init__(self, runtime: Runtime, *, transport: Transport = "both", keyless_agent: str | None = None,
                 console_refresh: float = 2.0, oauth_clock: Callable[[], float] | None = None,
                 console_clock: Callable[[], float] | None = None) -> None:
        if transport not in ("http", "sse", "both"):
            raise ValueError(f"unknown HTTP transport {transport!r}")
        if keyless_agent is not None and keyless_agent not in runtime.config.config.agents:
            raise ValueError(f"keyless agent {keyless_agent!r} is not configured")
        http = runtime.config.config.http
        self.runtime = runtime
        self.transport = transport
        self.keyless_agent = keyless_agent
        self.console = ConsoleApp(runtime, refresh_seconds=console_refresh,  # people, at /console
                                  **({"clock": console_clock} if console_clock else {}))
        # Zoho's webhooks, at /hooks/<name>: only where hooks are configured, so strangers' probes elsewhere
        # are no audit records
        self.hooks = HookIntake(runtime) if runtime.config.config.hooks else None
        self.mcp_server = ZbmcpServer(runtime).server
        self.oauth: OAuthEdge | None = None
        if runtime.config.config.oauth is not None:
            from zbmcp.oauth_server.edge import OAuthEdge  # only servers that sign people in pay for it

            self.oauth = OAuthEdge(runtime, **({"clock": oauth_clock} if oauth_clock else {}))
        security = transport_security(http, runtime.config.config.oauth)
        self._security = TransportSecurityMiddleware(security)
        self._hosts, self._origins = security.allowed_hosts, security.allowed_origins
        self._shares = Shares(http)
        self._in_progress, self._max_in_progress = 0, http.max_connections
        self._refused_keys = RefusedKeys(runtime.audit,
                                         TrustedProxies(runtime.config.config.console.trusted_proxies))
        self._stateless, self._stateful = self._session_managers(security)
        self._sse_streams: Counter[str] = Counter()  # open /sse streams per agent
        self._sse = SseServerTransport("/messages/", security_settings=security,
                                       max_request_body_size=http.max_body_bytes)
        self._activity: Activity | None = None
        self._draining = False
        self.draining: anyio.Event | None = None  # set when graceful shutdown begins (made by the lifespan)
        self._stop_managers: anyio.Event | None = None
        self._managers_stopped: anyio.Event | None = None
        self._app = Starlette(
            routes=self._routes(),
            middleware=[
                Middleware(AuthenticationMiddleware, backend=self._who_is_calling()),
                Middleware(AuthContextMiddleware),
            ],
            lifespan=self._lifespan,
        )

    def _session_managers(self, security: TransportSecuritySettings) -> tuple[
            StreamableHTTPSessionManager, dict[str, StreamableHTTPSessionManager]]:
        """One stateless manager for every agent, and a stateful one per agent whose older clients need a
        session (see the module docstring)."""
        http = self.runtime.config.config.http
        stateless = StreamableHTTPSessionManager(
            app=self.mcp_server,
            stateless=True,  # no per-replica state: replicas can sit behind a plain load balancer
            security_settings=security,
            max_request_body_size=http.max_body_bytes,
        )
        stateful = {
            name: StreamableHTTPSessionManager(
                app=self.mcp_server,
                stateless=False,
                security_settings=security,
                max_request_body_size=http.max_body_bytes,
                max_sessions=http.max_sessions_per_agent,
                session_idle_timeout=http.idle_seconds,
            )
            # Only agents whose own client answers approvals (`approval: client`) need a session to ask it.
            for name, policy in self.runtime.policies.items()
            if policy.may_ask_approval and self.runtime.agent(name).approval == "client"
        }
        return stateless, stateful

    def _who_is_calling(self) -> AuthenticationBackend:
        """The loopback's agent in keyless mode; otherwise the agent an API key or OAuth token belongs to."""
        if self.keyless_agent is not None:
            return LoopbackAgent(self.keyless_agent, [MCP_SCOPE])
        agents = self.runtime.config.config.agents
        verifier: TokenVerifier = ApiKeyVerifier({name: agent.api_keys for name, agent in agents.items()})
        if self.oauth is None:
            return BearerAuthBackend(verifier, resource_server_url=None)
        return BearerAuthBackend(self.oauth.verifier(verifier), resource_server_url=self.oauth.resource_url)

    def _routes(self) -> list[BaseRoute]:
        oauth = self.oauth

        def protected(app: ASGIApp) -> ASGIApp:
            if oauth is not None:  # it audits refused tokens itself
                return oauth.protect(app)
            return AuditRefusedKeys(RequireAuthMiddleware(app, [MCP_SCOPE]), self._refused_keys)

        routes: list[BaseRoute] = [Route("/healthz", self._healthz, methods=["GET"])]
        if oauth is not None:
            routes += oauth.routes()
        if self.transport in ("http", "both"):
            checked = ProtocolVersionHeader(self._handle_mcp, self.runtime.config.config.http.max_body_bytes)
            routes.append(Route("/mcp", endpoint=protected(checked)))
        if self.transport in ("sse", "both"):
            routes.append(Route("/sse", endpoint=protected(self._handle_sse), methods=["GET"]))
            routes.append(Mount("/messages/", app=protected(self._sse.handle_post_message)))
        return routes

    @property
    def agents_with_keys(self) -> list[str]:
        return [name for name, agent in self.runtime.config.config.agents.items() if agent.api_keys]

    @property
    def reachable(self) -> bool:
        """Whether any request could get in: an agent with a key, or people who can sign in."""
        return bool(self.agents_with_keys) or self.oauth is not None

    # -- ASGI ----------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":  # /healthz has room of its own (shares.py)
            await self._app(scope, receive, send)
            return
        if self._in_progress >= self._max_in_progress:
            await _json_error(503, "server_full", f"This zbmcp replica has {self._max_in_progress} requests "
                              "in progress (http.max_connections); retry shortly, or on another replica.")(
                scope, receive, send)
            return
        self._in_progress += 1
        try:
            await self._route(scope, receive, send)
        finally:
            self._in_progress -= 1

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._draining:
            # Only new work arrives here during shutdown (calls in flight are already past this point).
            await _json_error(503, "shutting_down", "This zbmcp replica is shutting down; retry on another.")(
                scope, receive, send)
            return
        if scope["path"] in _STREAM_PATHS or scope["path"].startswith("/messages/"):
            refused = self._misdirected(Headers(scope=scope))
            if refused is not None:
                await refused(scope, receive, send)
                return
        if scope["method"] == "GET" and scope["path"] in _STREAM_PATHS:
            await self._app(scope, receive, send)
            return
        # The console has its own sign-in and never sees the agents' key check.
        to_console = scope["path"] == CONSOLE or scope["path"].startswith(CONSOLE + "/")
        # A delivery proves itself with the hook's secret, not an agent's key.
        to_hooks = self.hooks is not None and scope["path"].startswith(HOOKS + "/")
        app = self.console if to_console else self.hooks if to_hooks and self.hooks else self._app
        activity = self._activity
        if activity is None:  # no lifespan ran (e.g. a test client without one): nothing to count for
            await app(scope, receive, send)
            return
        async with activity.exchange():
            await app(scope, receive, send)

    def _misdirected(self, headers: Headers) -> Response | None:
        """The Host and Origin matched exactly (the SDK's own check, behind this one, takes any Host that
        starts with an allowed name and a colon: `127.0.0.1:8000@evil.example`)."""
        host, origin = headers.get("host", ""), headers.get("origin")
        if not name_allowed(host, self._hosts):
            return _json_error(421, "misdirected_request", f"This server does not answer for host "
                               f"{host[:100]!r}; list it under http.allowed_hosts in the config.")
        # no Origin: not a browser's cross-site request
        if origin and not name_allowed(origin, self._origins):
            return _json_error(403, "forbidden_origin", f"Requests from origin {origin[:100]!r} are refused; "
                               "list it under http.allowed_origins in the config.")
        return None

    async def _healthz(self, request: Request) -> Response:
        if self._draining:
            return JSONResponse({"status": "shutting down", "version": __version__}, status_code=503)
        if self.runtime.audit.problem() is not None:  # every call would be refused: send them elsewhere
            return JSONResponse({"status": "audit log unavailable", "version": __version__}, status_code=503)
        if not await self.runtime.healthy():  # e.g. Redis unreachable: calls here would all fail
            return JSONResponse({"status": "state unavailable", "version": __version__}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    async def _handle_mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        kind: Kind | None = "stream" if method == "GET" else "call" if method == "POST" else None
        if kind is None:  # DELETE: ending a session
            await self._serve_mcp(scope, receive, send)
            return
        with self._shares.hold(kind, scope) as refusal:
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await self._serve_mcp(scope, receive, send)

    async def _serve_mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        agent = _agent(scope)
        manager = self._stateful.get(agent or "", self._stateless)
        http = self.runtime.config.config.http
        if manager is self._stateless and scope["method"] != "GET":
            await manager.handle_request(scope, receive, send)
        elif scope["method"] == "GET":  # a stateless GET stream carries nothing ever: idle from the start
            await end_stream_when_idle(manager.handle_request, http.idle_seconds, scope, receive, send)
        else:
            await refuse_over_session_cap(manager.handle_request, agent or "", http.max_sessions_per_agent,
                                          scope, receive, send)

    async def _handle_sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = await self._security.validate_request(Request(scope, receive), is_post=False)
        if refused is not None:  # checked here so connect_sse never fails after answering
            await refused(scope, receive, send)
            return
        assert self._activity is not None, "the app's lifespan must run"
        activity = self._activity
        agent, http = _agent(scope) or "", self.runtime.config.config.http
        if self._sse_streams[agent] >= http.max_sessions_per_agent:
            await too_many_sessions(agent, http.max_sessions_per_agent)(scope, receive, send)
            return
        self._sse_streams[agent] += 1
        sessions: list[SseSession] = []

        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            async with self._sse.connect_sse(scope, receive, send) as (read, write):
                session = SseSession(read, write, activity)
                sessions.append(session)
                activity.sse_sessions.add(session)
                try:
                    await self.mcp_server.run(session.read, session.write,
                                              self.mcp_server.create_initialization_options())
                finally:
                    activity.sse_sessions.discard(session)
                    activity.changed()

        try:  # over SSE the stream is the session: an idle one is ended, unless a call's answer is due on it
            await end_stream_when_idle(serve, http.idle_seconds, scope, receive, send,
                                       busy=lambda: any(session.pending for session in sessions))
        finally:
            self._sse_streams[agent] -= 1

    # -- lifecycle -----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._activity = Activity()
        self.draining = anyio.Event()
        self._stop_managers = anyio.Event()
        self._managers_stopped = anyio.Event()
        async with anyio.create_task_group() as tg:
            await tg.start(self._run_managers)
            try:
                yield
            finally:
                self._refused_keys.budget.flush()
                if self.oauth is not None:
                    self.oauth.refusals.flush()
                self._stop_managers.set()

    async def _run_managers(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        assert self._stop_managers is not None and self._managers_stopped is not None
        try:
            async with contextlib.AsyncExitStack() as managers:
                for manager in (self._stateless, *self._stateful.values()):
                    await managers.enter_async_context(manager.run())
                task_status.started()
                await self._stop_managers.wait()
        finally:
            self._managers_stopped.set()

    async def drain(self, timeout: float) -> None:
        """Refuse new work, wait up to `timeout` for the calls in flight, then end the event streams."""
        self._draining = True
        activity = self._activity
        if activity is None or self.draining is None:
            return
        self.draining.set()
        log.info("shutting down: no new requests; %d in flight may take up to %.0f s to finish",
                 activity.running, timeout)
        with anyio.move_on_after(timeout) as waited:
            await activity.wait_idle()
        if waited.cancelled_caught:
            log.warning("shutdown: calls still running after %.0f s are cancelled", timeout)
        else:
            log.info("shutdown: every call in flight has been answered")
        for session in list(activity.sse_sessions):
            await session.end()
        # Ending the session managers ends their sessions' GET streams; nothing in flight is left to lose.
        if self._stop_managers is not None and self._managers_stopped is not None:
            self._stop_managers.set()
            await self._managers_stopped.wait()


def _agent(scope: Scope) -> str | None:
    user = scope.get("user")
    return user.access_token.client_id if isinstance(user, AuthenticatedUser) else None


def _json_error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "error_description": message}, status_code=status)
