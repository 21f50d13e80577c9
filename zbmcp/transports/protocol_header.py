"""An `MCP-Protocol-Version` header zbmcp does not speak gets a 400 that names the header and the versions.

The SDK sends a request with an unknown version to its 2026-07-28 handler, which is right for a 2026-07-28
client (its answer names the header when the header and the request's envelope disagree), but tells an older
client, which has no envelope, only that `params._meta` is missing. So a request with an unknown version and
no 2026-07-28 envelope is answered here, under its own JSON-RPC id; everything else goes on to the SDK.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import UNSUPPORTED_PROTOCOL_VERSION
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENVELOPE_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
_HEADER = MCP_PROTOCOL_VERSION_HEADER.lower().encode("ascii")


class ProtocolVersionHeader:
    """ASGI wrapper for the /mcp endpoint."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self._app = app
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        version = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == _HEADER),
                       None)
        if version is None or version in KNOWN_PROTOCOL_VERSIONS:
            await self._app(scope, receive, send)
            return
        if scope.get("method") != "POST":
            await unsupported(version, None)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self._max_body_bytes:
                await Response("Request body too large", status_code=413)(scope, receive, send)
                return
        body = b"".join(chunks)
        decoded = _json(body)
        if not _has_envelope(decoded):
            request_id = decoded.get("id") if isinstance(decoded, dict) else None
            await unsupported(version, request_id if _is_id(request_id) else None)(scope, receive, send)
            return
        await self._app(scope, _replay(body, receive), send)


def unsupported(version: str, request_id: str | int | None) -> Response:
    shown = version if len(version) <= 40 else version[:37] + "..."
    supported = ", ".join(KNOWN_PROTOCOL_VERSIONS[:-1]) + " and " + KNOWN_PROTOCOL_VERSIONS[-1]
    message = (f"Unsupported MCP-Protocol-Version header {shown!r}: this server speaks {supported}. Send the "
               "version the initialize answer named, or leave the header out.")
    error = {"code": UNSUPPORTED_PROTOCOL_VERSION, "message": message,
             "data": {"supported": list(KNOWN_PROTOCOL_VERSIONS), "requested": version}}
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "error": error}, status_code=400)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _has_envelope(decoded: Any) -> bool:
    params = decoded.get("params") if isinstance(decoded, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and ENVELOPE_VERSION_KEY in meta


def _is_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
