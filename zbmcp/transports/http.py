"""The hosted transports: Streamable HTTP at /mcp and legacy SSE at /sse, each agent known by its own key.

A request carries `Authorization: Bearer <key>`. The config holds only `sha256:<hex>` of each key; a key is
matched by hashing it and comparing every stored hash in constant time. The matched agent's name becomes the
caller identity the MCP server reads, so an agent sees and calls only its own tools. Zoho tokens never leave
the server, and the key itself is not kept past the check.

State, and what it means for replicas behind a load balancer:
  * 2026-07-28 clients are served sessionless by the SDK: any replica can answer any request, and approvals
    travel in the call itself (approvals.py: InputRequiredResult, then a retry carrying the answer).
  * Older (2024-11-05..2025-11-25) clients are served stateless as well (a fresh transport per POST, no
    Mcp-Session-Id), unless their agent may ask its own client (`approval: client`).
  * Older clients of an agent that may ask its own client for approval get a stateful session. Their approval question is a
    server-to-client `elicitation/create` request whose answer comes back in a later POST; a stateless
    transport has nowhere to receive that answer (the SDK gives the call no back-channel and does not even
    keep the client's declared capabilities), so every approval would be refused. Those sessions live in
    one replica's memory: route them with sticky sessions (on Mcp-Session-Id, or the Authorization header).
    Each such agent has a session table of its own, capped (http.max_sessions_per_agent, zbmcp.transports.http_guard),
    so one agent's clients can never fill the table every other agent needs.
  * The legacy SSE transport (/sse) is a long-lived stream per client, so it is sticky by nature.

Graceful shutdown: stop accepting, let every call in flight finish (its result reaches the client), then end
the long-lived event streams cleanly and exit. sse-starlette would otherwise end every event stream, including
a POST whose response is the result of a call still running, as soon as shutdown starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Self

import anyio
import uvicorn
from anyio.abc import TaskStatus
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp_types import JSONRPCError, JSONRPCRequest, JSONRPCResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from zbmcp import __version__
from zbmcp.core.config_hosting import Http, OAuth
from zbmcp.console import PREFIX as CONSOLE
from zbmcp.console import ConsoleApp
from zbmcp.transports.keyless import LoopbackAgent, require_loopback_socket
from zbmcp.transports.http_guard import end_stream_when_idle, guarded_protocol, refuse_over_session_cap, too_many_sessions
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.listen import listen
from zbmcp.transports.protocol_header import ProtocolVersionHeader
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.server import ZbmcpServer

if TYPE_CHECKING:
    from zbmcp.oauth_server.edge import OAuthEdge

log = logging.getLogger(__name__)

__all__ = ["ApiKeyVerifier", "HttpApp", "HttpServer", "key_hash", "new_api_key", "serve_http"]

Transport = Literal["http", "sse", "both"]
MCP_SCOPE = "mcp"
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
GRACE_SECONDS = 30.0
_STREAM_PATHS = ("/mcp", "/sse")  # a GET here opens a long-lived event stream, not a call


class ApiKeyVerifier:
    """Maps a presented key to the agent that owns it."""

    def __init__(self, hashes_by_agent: Mapping[str, list[str]]) -> None:
        self._entries = [
            (bytes.fromhex(h.removeprefix("sha256:")), agent)
            for agent, hashes in hashes_by_agent.items()
            for h in hashes
        ]

    async def verify_token(self, token: str) -> AccessToken | None:
        presented = hashlib.sha256(token.encode()).digest()
        found = None
        for digest, agent in self._entries:  # no early exit: the time taken says nothing about which key
            if hmac.compare_digest(presented, digest):
                found = agent
        if found is None:
            return None
        # The key itself is deliberately not kept in the identity object handed to the rest of the server.
        return AccessToken(token="", client_id=found, scopes=[MCP_SCOPE])


def transport_security(http: Http, oauth: OAuth | None = None) -> TransportSecuritySettings:
    # The OAuth issuer is the public origin clients use: its host is this server's.
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=LOOPBACK_HOSTS + list(http.allowed_hosts) + (oauth.public_hosts if oauth else []),
        allowed_origins=LOOPBACK_ORIGINS + list(http.allowed_origins) + ([oauth.issuer] if oauth else []),
    )


class _Activity:
    """Counts what graceful shutdown waits for, and wakes the waiter whenever a count changes."""

    def __init__(self) -> None:
        self.exchanges = 0  # HTTP requests in progress, other than long-lived event streams
        self.sse_sessions: set[_SseSession] = set()
        self._changed = anyio.Event()

    def changed(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    @property
    def idle(self) -> bool:
        return self.exchanges == 0 and not any(session.pending for session in self.sse_sessions)

    async def wait_idle(self) -> None:
        while not self.idle:
            await self._changed.wait()


class _SseSession:
    """One legacy SSE client: which of its requests are still unanswered, and a way to end it cleanly.

    Over SSE a call's result travels on the long-lived GET stream, not on the POST that asked, so "in flight"
    is counted here: a request id is pending from the moment the server reads it until its response has been
    handed to the stream writer.
    """

    def __init__(self, read: Any, write: Any, activity: _Activity) -> None:
        self.pending: set[Any] = set()
        self._read = read
        self._write = write
        self._activity = activity
        self.read = _CountingReader(self)
        self.write = _CountingWriter(self)

    def received(self, item: Any) -> None:
        message = getattr(item, "message", None)
        if isinstance(message, JSONRPCRequest):
            self.pending.add(message.id)
            self._activity.changed()

    def sent(self, item: Any) -> None:
        message = getattr(item, "message", None)
        if isinstance(message, (JSONRPCResponse, JSONRPCError)) and message.id in self.pending:
            self.pending.discard(message.id)
            self._activity.changed()

    async def end(self) -> None:
        """Close the server's side: the stream writer sends what it holds, the event stream ends, the client
        sees a finished response, and the server loop then stops on its own."""
        await self._write.aclose()


class _CountingReader:
    def __init__(self, session: _SseSession) -> None:
        self._session = session

    @property
    def last_context(self) -> Any:  # the dispatcher runs each handler in the sender's context (the caller)
        return getattr(self._session._read, "last_context", None)

    async def receive(self) -> Any:
        item = await self._session._read.receive()
        self._session.received(item)
        return item

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self._session._read.close()

    async def aclose(self) -> None:
        await self._session._read.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _CountingWriter:
    def __init__(self, session: _SseSession) -> None:
        self._session = session

    async def send(self, item: Any) -> None:
        await self._session._write.send(item)
        self._session.sent(item)

    def close(self) -> None:
        self._session._write.close()

    async def aclose(self) -> None:
        await self._session._write.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class HttpApp:
    """The ASGI app: /healthz, and /mcp and/or /sse with /messages/, behind per-agent API keys.

    Single use, like the SDK's session managers it holds: build a new one for each server run.
    `keyless_agent`: the sandbox's agent, which every loopback request then acts as (see keyless.py).
    """

    def __init__(self, runtime: Runtime, *, transport: Transport = "both", keyless_agent: str | None = None,
                 console_refresh: float = 2.0, oauth_clock: Callable[[], float] | None = None) -> None:
        if transport not in ("http", "sse", "both"):
            raise ValueError(f"unknown HTTP transport {transport!r}")
        http = runtime.config.config.http
        self.runtime = runtime
        self.transport = transport
        self.console = ConsoleApp(runtime, refresh_seconds=console_refresh)  # people, at /console
        self.mcp_server = ZbmcpServer(runtime).server
        self.oauth: OAuthEdge | None = None
        if runtime.config.config.oauth is not None:
            from zbmcp.oauth_server.edge import OAuthEdge  # only servers that sign people in pay for it

            self.oauth = OAuthEdge(runtime, **({"clock": oauth_clock} if oauth_clock else {}))
        security = transport_security(http, runtime.config.config.oauth)
        self._security = TransportSecurityMiddleware(security)
        self._stateless = StreamableHTTPSessionManager(
            app=self.mcp_server,
            stateless=True,  # no per-replica state: replicas can sit behind a plain load balancer
            security_settings=security,
            max_request_body_size=http.max_body_bytes,
        )
        self._stateful = {  # see the module docstring: older clients need a session to answer an approval
            name: StreamableHTTPSessionManager(
                app=self.mcp_server,
                stateless=False,
                security_settings=security,
                max_request_body_size=http.max_body_bytes,
                max_sessions=http.max_sessions_per_agent,
                session_idle_timeout=http.idle_seconds,
            )
            # Only agents whose own client answers approvals (`approval: client`) need a session for elicitation.
            for name, policy in runtime.policies.items()
            if policy.may_ask_approval and runtime.agent(name).approval == "client"
        }
        self._sse_streams: Counter[str] = Counter()  # open /sse streams per agent
        self._sse = SseServerTransport("/messages/", security_settings=security,
                                       max_request_body_size=http.max_body_bytes)
        self._activity: _Activity | None = None
        self._draining = False
        self.draining: anyio.Event | None = None  # set when graceful shutdown begins (made by the lifespan)
        self._stop_managers: anyio.Event | None = None
        self._managers_stopped: anyio.Event | None = None
        agents = runtime.config.config.agents
        self.keyless_agent = keyless_agent
        if keyless_agent is not None and keyless_agent not in agents:
            raise ValueError(f"keyless agent {keyless_agent!r} is not configured")
        verifier: TokenVerifier = ApiKeyVerifier({name: agent.api_keys for name, agent in agents.items()})
        oauth = self.oauth
        if oauth is not None:
            verifier = oauth.verifier(verifier)
        backend = (LoopbackAgent(keyless_agent, [MCP_SCOPE]) if keyless_agent is not None
                   else BearerAuthBackend(verifier,
                                          resource_server_url=oauth.resource_url if oauth is not None else None))

        def protected(app: Any) -> Any:
            return oauth.protect(app) if oauth is not None else RequireAuthMiddleware(app, [MCP_SCOPE])

        routes: list[Any] = [Route("/healthz", self._healthz, methods=["GET"])]
        if oauth is not None:
            routes += oauth.routes()
        if transport in ("http", "both"):
            routes.append(Route("/mcp", endpoint=protected(ProtocolVersionHeader(self._handle_mcp,
                                                                                 http.max_body_bytes))))
        if transport in ("sse", "both"):
            routes.append(Route("/sse", endpoint=protected(self._handle_sse), methods=["GET"]))
            routes.append(Mount("/messages/", app=protected(self._sse.handle_post_message)))
        self._app = Starlette(
            routes=routes,
            middleware=[
                Middleware(AuthenticationMiddleware, backend=backend),
                Middleware(AuthContextMiddleware),
            ],
            lifespan=self._lifespan,
        )

    @property
    def agents_with_keys(self) -> list[str]:
        return [name for name, agent in self.runtime.config.config.agents.items() if agent.api_keys]

    @property
    def reachable(self) -> bool:
        """Whether any request could get in: an agent with a key, or people who can sign in."""
        return bool(self.agents_with_keys) or self.oauth is not None

    # -- ASGI ----------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if self._draining and scope["path"] != "/healthz":
            # Only new work arrives here during shutdown (calls in flight are already past this point).
            await _json_error(503, "shutting_down", "This zbmcp replica is shutting down; retry on another.")(
                scope, receive, send)
            return
        if scope["method"] == "GET" and scope["path"] in _STREAM_PATHS:
            await self._app(scope, receive, send)
            return
        # The console has its own sign-in and never sees the agents' key check.
        app = self.console if scope["path"] == CONSOLE or scope["path"].startswith(CONSOLE + "/") else self._app
        activity = self._activity
        if activity is None:  # no lifespan ran (e.g. a test client without one): nothing to count for
            await app(scope, receive, send)
            return
        activity.exchanges += 1
        try:
            await app(scope, receive, send)
        finally:
            activity.exchanges -= 1
            activity.changed()

    async def _healthz(self, request: Request) -> Response:
        if self._draining:
            return JSONResponse({"status": "shutting down", "version": __version__}, status_code=503)
        if self.runtime.audit.problem() is not None:  # every call would be refused: send them elsewhere
            return JSONResponse({"status": "audit log unavailable", "version": __version__}, status_code=503)
        if not await self.runtime.healthy():  # e.g. Redis unreachable: calls here would all fail
            return JSONResponse({"status": "state unavailable", "version": __version__}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    async def _handle_mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        agent = _agent(scope)
        manager = self._stateful.get(agent or "", self._stateless)
        http = self.runtime.config.config.http
        if manager is self._stateless:
            await manager.handle_request(scope, receive, send)
        elif scope["method"] == "GET":
            await end_stream_when_idle(manager.handle_request, http.idle_seconds, scope, receive, send)
        else:
            await refuse_over_session_cap(manager.handle_request, agent or "", http.max_sessions_per_agent, scope,
                                          receive, send)

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
        sessions: list[_SseSession] = []

        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            async with self._sse.connect_sse(scope, receive, send) as (read, write):
                session = _SseSession(read, write, activity)
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
        self._activity = _Activity()
        self.draining = anyio.Event()
        self._stop_managers = anyio.Event()
        self._managers_stopped = anyio.Event()
        async with anyio.create_task_group() as tg:
            await tg.start(self._run_managers)
            try:
                yield
            finally:
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
        running = activity.exchanges + sum(len(session.pending) for session in activity.sse_sessions)
        log.info("shutting down: no new requests; %d in flight may take up to %.0f s to finish",
                 running, timeout)
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


class _Uvicorn(uvicorn.Server):
    """uvicorn with a shutdown that lets calls finish before event streams close."""

    def __init__(self, config: uvicorn.Config, app: HttpApp, on_started: Callable[[int], None]) -> None:
        super().__init__(config)
        self.zbmcp_app = app
        self._on_started = on_started

    async def serve(self, sockets: list[Any] | None = None) -> None:
        from sse_starlette.sse import AppStatus

        # sse-starlette ends every event stream the moment uvicorn starts shutting down, results of running
        # calls included; HttpApp.drain ends them itself, after those calls have answered.
        was = AppStatus.enable_automatic_graceful_drain
        AppStatus.disable_automatic_graceful_drain()
        try:
            await super().serve(sockets)
        finally:
            if was:
                AppStatus.enable_automatic_graceful_drain_mode()

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit and self.servers:
            self._on_started(self.servers[0].sockets[0].getsockname()[1])

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        grace = float(self.config.timeout_graceful_shutdown or 0)
        started = anyio.current_time()
        for server in self.servers:  # stop accepting, and close idle keep-alive connections
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await self.zbmcp_app.drain(grace)
        # uvicorn then waits for the connections that are left (only finishing now) for the rest of the grace.
        self.config.timeout_graceful_shutdown = max(1, int(grace - (anyio.current_time() - started)) + 1)
        await super().shutdown(sockets)


class HttpServer:
    """zbmcp over HTTP: uvicorn serving an HttpApp, with graceful shutdown.

        server = HttpServer(runtime, transport="both", host="127.0.0.1", port=0)
        port = await task_group.start(server.serve)   # once listening; port 0 picks a free one
        ...
        server.stop()                                 # graceful: calls in flight finish first

    `sock`: a socket already bound (see listen.py), so a busy port is reported before anything else.
    """

    def __init__(self, runtime: Runtime, *, transport: Transport = "both", host: str = "127.0.0.1",
                 port: int = 8000, grace_seconds: float = GRACE_SECONDS, sock: socket.socket | None = None,
                 keyless_agent: str | None = None, console_refresh: float = 2.0,
                 oauth_clock: Callable[[], float] | None = None) -> None:
        if sock is not None and keyless_agent is not None:
            require_loopback_socket(sock)
        self.app = HttpApp(runtime, transport=transport, keyless_agent=keyless_agent, console_refresh=console_refresh,
                           oauth_clock=oauth_clock)
        self.host = host
        self.port = port
        self._sock = sock
        http = runtime.config.config.http
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            http=guarded_protocol(http.header_timeout_seconds, http.body_timeout_seconds),
            limit_concurrency=http.max_connections,
            log_level="warning",
            log_config=None,  # zbmcp's own logging setup (stderr) applies
            access_log=False,  # request lines say nothing an audit record does not say better
            lifespan="on",
            timeout_graceful_shutdown=max(1, int(grace_seconds)),
            server_header=False,
        )
        self._server: _Uvicorn | None = None
        self._config = config

    async def serve(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until stop() (or SIGINT/SIGTERM in the main thread); reports the port once listening."""

        def started(port: int) -> None:
            self.port = port
            task_status.started(port)

        sock = self._sock or listen(self.host, self.port)
        if self.app.keyless_agent is not None:
            require_loopback_socket(sock)
        self._server = _Uvicorn(self._config, self.app, started)
        await self._server.serve(sockets=[sock])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Begin a graceful shutdown, as SIGTERM does."""
        if self._server is not None:
            self._server.should_exit = True


async def serve_http(runtime: Runtime, *, transport: Transport, host: str, port: int,
                     sock: socket.socket | None = None, keyless_agent: str | None = None) -> None:
    server = HttpServer(runtime, transport=transport, host=host, port=port, sock=sock, keyless_agent=keyless_agent)
    if keyless_agent is None and not server.app.reachable:
        log.warning("no agent has an API key, so every request will be refused; create one with "
                    "`zbmcp agent key NAME` (or let people sign in: docs/connectors.md)")
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve)
        paths = {"http": "/mcp", "sse": "/sse", "both": "/mcp and /sse"}[transport]
        log.info("serving MCP on %s (%s), health at /healthz; Ctrl-C or SIGTERM stops it gracefully",
                 server.url, paths)
        from zbmcp.calls.demo import SANDBOX_SOURCE  # the sandbox's code loads only when a server starts

        operators = runtime.config.config.operators
        log.info("the operator's console is at %s%s%s", server.url, CONSOLE,
                 f" ({len(operators)} operator{'s' if len(operators) != 1 else ''})" if operators
                 else "; the sandbox has no operators (docs/console.md says how to try the console)"
                 if runtime.config.source.file == SANDBOX_SOURCE
                 else "; no operator can sign in yet: add one with `zbmcp operator add NAME` and restart")


def _agent(scope: Scope) -> str | None:
    user = scope.get("user")
    return user.access_token.client_id if isinstance(user, AuthenticatedUser) else None


def _json_error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "error_description": message}, status_code=status)
