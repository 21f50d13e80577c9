"""The stdio transport: the SDK's, plus what a person or a buggy client needs to hear.

  * Started in a terminal, the server says on stderr what it is and how to use it (it would otherwise wait
    in silence for JSON-RPC on stdin).
  * A line that is not a JSON-RPC message gets a JSON-RPC error (-32700 parse error, or -32600 invalid
    request with the request's id when it has one) and a line on stderr. The SDK's stdio transport hands
    such lines to the server as exceptions, which it drops without a word; the client would wait forever.
    The line itself is never echoed: it may hold anything, a secret included.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import Any, Self

import anyio
from mcp.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

log = logging.getLogger(__name__)

TERMINAL_HINT = (
    "zbmcp: this is an MCP server: it reads JSON-RPC messages on stdin, one per line, and answers on stdout. "
    "An MCP client (Claude Desktop, the MCP Inspector, an agent framework) starts it and talks to it; see "
    "the README's first section. Ctrl-D or Ctrl-C stops it."
)
LOGGED_BAD_LINES = 5  # then stay quiet: a client that floods bad lines must not fill an unread stderr pipe


async def serve_stdio(server: Server[Any]) -> None:
    if sys.stdin.isatty():
        print(TERMINAL_HINT, file=sys.stderr, flush=True)
    async with stdio_server() as (read, write):
        await server.run(AnswerMalformed(read, write), write, server.create_initialization_options())


def malformed_answer(error: Exception) -> JSONRPCError | None:
    """The JSON-RPC error a malformed line deserves, or None for a blank line (nothing to answer)."""
    problems = error.errors() if isinstance(error, ValidationError) else []
    given = problems[0].get("input") if problems else None
    if isinstance(given, str) and not given.strip():
        return None
    if any(problem["type"] == "json_invalid" for problem in problems):
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(
            code=PARSE_ERROR,
            message="Parse error: a line on stdin was not JSON; send one JSON-RPC message per line"))
    request_id = None
    for problem in problems:  # a request whose shape is wrong still deserves an answer under its own id
        candidate = problem.get("input")
        if isinstance(candidate, dict) and isinstance(candidate.get("id"), (str, int)) \
                and not isinstance(candidate.get("id"), bool):
            request_id = candidate["id"]
            break
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(
        code=INVALID_REQUEST, message="Invalid Request: the line is JSON but not a JSON-RPC 2.0 request, "
                                      "notification or response"))


class AnswerMalformed:
    """The stdio read stream, minus malformed lines, which are answered on the write stream instead."""

    def __init__(self, read: ReadStream[SessionMessage | Exception],
                 write: WriteStream[SessionMessage]) -> None:
        self._read = read
        self._write = write
        self.bad_lines = 0

    @property
    def last_context(self) -> Any:  # the dispatcher runs each handler in the sender's context
        return getattr(self._read, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._read.receive()
            if not isinstance(item, Exception):
                return item
            answer = malformed_answer(item)
            if answer is None:
                continue
            self.bad_lines += 1
            if self.bad_lines <= LOGGED_BAD_LINES:
                log.warning("answered a malformed line on stdin with JSON-RPC error %d (%s)%s",
                            answer.error.code,
                            "not JSON" if answer.error.code == PARSE_ERROR else "not a JSON-RPC message",
                            "; further ones are answered without a log line"
                            if self.bad_lines == LOGGED_BAD_LINES else "")
            await self._write.send(SessionMessage(answer))

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._read.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.aclose()
