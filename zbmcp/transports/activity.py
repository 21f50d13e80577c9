"""What graceful shutdown waits for: HTTP exchanges in progress, and legacy SSE calls still unanswered.

A call over Streamable HTTP is answered on the POST that asked, so counting exchanges is enough. Over the
legacy SSE transport the answer travels on the long-lived GET stream instead, so each SSE session wraps the
server's read and write streams to see a request arrive and its response leave.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Self

import anyio
from mcp_types import JSONRPCError, JSONRPCRequest, JSONRPCResponse


class Activity:
    """Counts what graceful shutdown waits for, and wakes the waiter whenever a count changes."""

    def __init__(self) -> None:
        self.exchanges = 0  # HTTP requests in progress, other than long-lived event streams
        self.sse_sessions: set[SseSession] = set()
        self._changed = anyio.Event()

    def changed(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    @contextlib.asynccontextmanager
    async def exchange(self) -> AsyncIterator[None]:
        """Counts one HTTP exchange while it lasts."""
        self.exchanges += 1
        try:
            yield
        finally:
            self.exchanges -= 1
            self.changed()

    @property
    def running(self) -> int:
        """Exchanges and SSE calls in flight."""
        return self.exchanges + sum(len(session.pending) for session in self.sse_sessions)

    @property
    def idle(self) -> bool:
        return self.exchanges == 0 and not any(session.pending for session in self.sse_sessions)

    async def wait_idle(self) -> None:
        while not self.idle:
            await self._changed.wait()


class SseSession:
    """One legacy SSE client: which of its requests are still unanswered, and a way to end it cleanly.

    Over SSE a call's result travels on the long-lived GET stream, not on the POST that asked, so "in flight"
    is counted here: a request id is pending from the moment the server reads it until its response has been
    handed to the stream writer.
    """

    def __init__(self, read: Any, write: Any, activity: Activity) -> None:
        self.pending: set[Any] = set()
        self._read = read
        self._write = write
        self._activity = activity
        self.read = _CountingReader(self, read)
        self.write = _CountingWriter(self, write)

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


class _CountingStream:
    """One of the session's streams, passed through; closing it closes the stream."""

    def __init__(self, session: SseSession, stream: Any) -> None:
        self._session = session
        self._stream = stream

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _CountingReader(_CountingStream):
    @property
    def last_context(self) -> Any:  # the dispatcher runs each handler in the sender's context (the caller)
        return getattr(self._stream, "last_context", None)

    async def receive(self) -> Any:
        item = await self._stream.receive()
        self._session.received(item)
        return item

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class _CountingWriter(_CountingStream):
    async def send(self, item: Any) -> None:
        await self._stream.send(item)
        self._session.sent(item)
