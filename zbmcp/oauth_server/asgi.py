"""ASGI tools the OAuth edge needs around other apps: read a request body and hand it on unchanged, see the
response another app sends (to audit it, or to add RFC 9207's `iss` to an error redirect), and answer in
JSON."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from starlette.types import Message, Receive, Send


async def buffer_body(receive: Receive, limit: int) -> tuple[bytes, Receive, bool]:
    """Read up to `limit` bytes of the request body. Returns what was read, a `receive` that replays every
    message and then carries on with the original, and whether the whole body was read."""
    messages: list[Message] = []
    body = bytearray()
    complete = False
    while len(body) <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break  # the client went away
        body.extend(message.get("body", b""))
        if not message.get("more_body", False):
            complete = True
            break

    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return bytes(body), replay, complete


@dataclass
class Captured:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        return next((value.decode("latin-1") for key, value in self.headers if key.lower() == wanted), None)


def capturing(send: Send, captured: Captured, *, body_limit: int = 16384,
              rewrite_location: Callable[[str], str] | None = None) -> Callable[[Message], Awaitable[None]]:
    """A `send` that records status, headers and the start of the body, optionally rewriting a Location."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if rewrite_location is not None:
                headers = [(key, rewrite_location(value.decode("latin-1")).encode("latin-1"))
                           if key.lower() == b"location" else (key, value) for key, value in headers]
                message = {**message, "headers": headers}
            captured.status = message["status"]
            captured.headers = headers
        elif message["type"] == "http.response.body" and len(captured.body) < body_limit:
            captured.body.extend(message.get("body", b"")[: body_limit - len(captured.body)])
        await send(message)

    return wrapped


async def send_json(send: Send, status: int, payload: dict[str, str],
                    headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """An answer of the OAuth endpoints' kind: JSON, never cached."""
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"), *headers]})
    await send({"type": "http.response.body", "body": body})
