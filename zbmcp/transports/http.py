"""zbmcp over HTTP: uvicorn serving the HttpApp (http_app.py), with a graceful shutdown.

Graceful shutdown: stop accepting, let every call in flight finish (its result reaches the client), then end
the long-lived event streams cleanly and exit. sse-starlette would otherwise end every event stream, including
a POST whose response is the result of a call still running, as soon as shutdown starts. uvicorn has no public
hook between "stop accepting" and "wait for the connections to close", where the drain must run, so _Uvicorn
extends two of its internals (uvicorn_internals.py says which, and checks them before serving).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import uvicorn
from anyio.abc import TaskStatus

from zbmcp.calls.runtime import Runtime
from zbmcp.console import PREFIX as CONSOLE
from zbmcp.listen import listen
from zbmcp.transports.http_app import HttpApp, Transport
from zbmcp.transports.http_guard import guarded_protocol
from zbmcp.transports.keyless import require_loopback_socket
from zbmcp.transports.shares import HEALTH_ROOM
from zbmcp.transports.uvicorn_internals import require_uvicorn_internals

log = logging.getLogger(__name__)

__all__ = ["HttpServer", "serve_http"]

GRACE_SECONDS = 30.0


@contextlib.contextmanager
def _event_streams_left_to_the_drain() -> Iterator[None]:
    from sse_starlette.sse import AppStatus

    # sse-starlette ends every event stream the moment uvicorn starts shutting down, results of running
    # calls included; HttpApp.drain ends them itself, after those calls have answered.
    was = AppStatus.enable_automatic_graceful_drain
    AppStatus.disable_automatic_graceful_drain()
    try:
        yield
    finally:
        if was:
            AppStatus.enable_automatic_graceful_drain_mode()


class _Uvicorn(uvicorn.Server):
    """uvicorn that reports its port once listening, and drains the app between closing its sockets and
    waiting for the connections left (both are uvicorn internals: see uvicorn_internals.py)."""

    def __init__(self, config: uvicorn.Config, app: HttpApp, on_started: Callable[[int], None]) -> None:
        super().__init__(config)
        self.zbmcp_app = app
        self._on_started = on_started

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
                 oauth_clock: Callable[[], float] | None = None,
                 console_clock: Callable[[], float] | None = None) -> None:
        require_uvicorn_internals()
        if sock is not None and keyless_agent is not None:
            require_loopback_socket(sock)
        self.app = HttpApp(runtime, transport=transport, keyless_agent=keyless_agent,
                           console_refresh=console_refresh, oauth_clock=oauth_clock,
                           console_clock=console_clock)
        self.host = host
        self.port = port
        self._sock = sock
        http = runtime.config.config.http
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            http=guarded_protocol(http.header_timeout_seconds, http.body_timeout_seconds),
            # HttpApp refuses requests beyond max_connections itself; the room above is for /healthz alone
            limit_concurrency=http.max_connections + HEALTH_ROOM,
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
        with _event_streams_left_to_the_drain():
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
    server = HttpServer(runtime, transport=transport, host=host, port=port, sock=sock,
                        keyless_agent=keyless_agent)
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
