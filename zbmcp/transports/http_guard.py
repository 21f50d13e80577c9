"""The hosted server under hostile clients: limits that no one client, and no one agent, can push past.

    http.header_timeout_seconds   a connection must send a request's headers within this (no slow-loris)
    http.body_timeout_seconds     ... and then its body within this
    http.max_connections          beyond this many open connections (and HEALTH_ROOM for /healthz: shares.py),
                                  new requests are answered 503
    http.max_sessions_per_agent   stateful sessions (/mcp, older clients of agents with approvals) and legacy
                                  event streams (/sse) one agent may hold open; beyond it that agent gets 429,
                                  and every other agent is unaffected
    http.idle_seconds             an event stream that carries nothing for this long is ended (the client
                                  reconnects if it wants one), and a stateful session idle this long is closed

The first three live in the HTTP protocol (uvicorn's h11 protocol, with deadlines added: uvicorn has no public
setting for them, so uvicorn_internals.py names what the subclass relies on); the others in the routes
(http_app.py), with the helpers below.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import anyio
import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


def guarded_protocol(header_timeout: float, body_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, cutting off a client that is too slow to send a request."""

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _waiting_for: str | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._follow()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._follow()  # a kept-alive connection now waits for its next request's headers

        def connection_lost(self, exc: Exception | None) -> None:
            self._wait_for(None)
            super().connection_lost(exc)

        def _follow(self) -> None:
            state = self.conn.their_state
            if state is h11.IDLE:
                self._wait_for("headers")
            elif state is h11.SEND_BODY:
                self._wait_for("body")
            else:
                # The request is in: what follows (a long call, an event stream) is not the client's delay.
                self._wait_for(None)

        def _wait_for(self, part: str | None) -> None:
            if part == self._waiting_for:
                return
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            self._waiting_for = part
            if part is not None and not self.transport.is_closing():
                seconds = header_timeout if part == "headers" else body_timeout
                self._deadline = self.loop.call_later(seconds, self._too_slow, part, seconds)

        def _too_slow(self, part: str, seconds: float) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            log.info("closed a connection from %s that did not send its request's %s within %g s",
                     self.client[0] if self.client else "?", part, seconds)
            self.transport.close()  # a handler waiting for the body sees the client disconnect

    return GuardedH11Protocol


async def end_stream_when_idle(app: Callable[[Scope, Receive, Send], Awaitable[None]], idle_seconds: float,
                               scope: Scope, receive: Receive, send: Send,
                               busy: Callable[[], bool] = lambda: False) -> None:
    """Serve an event stream (a GET), ending it once it carried no event for `idle_seconds` while not `busy`
    (a call whose answer will travel on it). Keep-alive pings (SSE comments) are not events.

    The handler is told the client went away (its usual clean-up path), then the response is ended properly,
    so the client sees the stream close rather than a broken connection.
    """
    last_event = anyio.current_time()
    idle = anyio.Event()
    started = completed = False

    async def counted(message: Message) -> None:
        nonlocal last_event, started, completed
        if idle.is_set():
            return
        started = started or message["type"] == "http.response.start"
        completed = completed or (message["type"] == "http.response.body" and not message.get("more_body"))
        await send(message)
        if not message.get("body", b"").lstrip().startswith(b":"):
            last_event = anyio.current_time()

    async def watched_receive() -> Message:
        if idle.is_set():
            return {"type": "http.disconnect"}
        received: list[Message] = []
        async with anyio.create_task_group() as race:

            async def from_client() -> None:
                received.append(await receive())
                race.cancel_scope.cancel()

            async def until_idle() -> None:
                await idle.wait()
                race.cancel_scope.cancel()

            race.start_soon(from_client)
            race.start_soon(until_idle)
        return received[0] if received else {"type": "http.disconnect"}

    async def watch() -> None:
        nonlocal last_event
        while True:
            await anyio.sleep(max(0.0, last_event + idle_seconds - anyio.current_time()))
            if busy():
                last_event = anyio.current_time()
            elif anyio.current_time() - last_event >= idle_seconds:
                idle.set()
                return

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        await app(scope, watched_receive, counted)
        group.cancel_scope.cancel()
    if idle.is_set() and started and not completed:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def refuse_over_session_cap(app: ASGIApp, agent: str, cap: int, scope: Scope, receive: Receive,
                                  send: Send) -> None:
    """Serve a request that may open a session; the SDK's 503 for a full session table becomes this agent's
    429.

    The table is the agent's own, so it is this agent that has too many, not the server that is unwell: a 503
    would tell a load balancer to take the replica out of rotation for every agent.
    """
    replaced = False

    async def rewritten(message: Message) -> None:
        nonlocal replaced
        if message["type"] == "http.response.start" and message["status"] == 503:
            replaced = True
            await too_many_sessions(agent, cap)(scope, receive, send)
        elif not replaced:
            await send(message)

    await app(scope, receive, rewritten)


def too_many_sessions(agent: str, cap: int) -> ASGIApp:
    from starlette.responses import JSONResponse

    log.warning("agent %r tried to open more than %d sessions (http.max_sessions_per_agent): "
                "refused with 429", agent, cap)
    message = (f"Agent {agent!r} already has {cap} sessions open on this server "
               "(http.max_sessions_per_agent). Close one (an MCP client ends its session when it "
               "disconnects) or wait for idle ones to expire.")
    return JSONResponse({"error": "too_many_sessions", "error_description": message}, status_code=429,
                        headers={"Retry-After": "30"})

