"""The hosted transports: Streamable HTTP at /mcp and legacy SSE at /sse, each agent authenticated by its own key.

A request carries `Authorization: Bearer <key>`. The config holds only `sha256:<hex>` of each key; a key is
matched by hashing it and comparing every stored hash in constant time. The matched agent's name becomes the
caller identity the MCP server reads, so an agent sees and calls only its own tools. Zoho tokens never leave
the server.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from zbmcp import __version__
from zbmcp.config import Http
from zbmcp.runtime import Runtime
from zbmcp.server import ZbmcpServer

log = logging.getLogger(__name__)

MCP_SCOPE = "mcp"
KEY_PREFIX = "zbmcp_"
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def new_api_key() -> tuple[str, str]:
    """A fresh key for an agent, and the hash to store in the config."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_hash(key)


def key_hash(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


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


def transport_security(http: Http) -> TransportSecuritySettings:
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=LOOPBACK_HOSTS + list(http.allowed_hosts),
        allowed_origins=LOOPBACK_ORIGINS + list(http.allowed_origins),
    )


def build_http_app(runtime: Runtime, *, transport: str = "both") -> Starlette:
    """The ASGI app: /healthz, and /mcp and/or /sse with /messages/, behind per-agent API keys."""
    http = runtime.config.config.http
    mcp_server = ZbmcpServer(runtime).server
    security = transport_security(http)
    session_manager = StreamableHTTPSessionManager(
        app=mcp_server,
        stateless=True,  # no per-replica session state for legacy clients: replicas can sit behind a balancer
        security_settings=security,
        max_request_body_size=http.max_body_bytes,
    )
    sse = SseServerTransport("/messages/", security_settings=security, max_request_body_size=http.max_body_bytes)

    async def handle_sse(scope: Any, receive: Any, send: Any) -> None:
        async with sse.connect_sse(scope, receive, send) as (read, write):
            await mcp_server.run(read, write, mcp_server.create_initialization_options())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    def protected(app: Any) -> Any:
        return RequireAuthMiddleware(app, [MCP_SCOPE])

    routes: list[Any] = [Route("/healthz", healthz, methods=["GET"])]
    if transport in ("http", "both"):
        routes.append(Route("/mcp", endpoint=protected(StreamableHTTPASGIApp(session_manager))))
    if transport in ("sse", "both"):
        routes.append(Route("/sse", endpoint=protected(handle_sse), methods=["GET"]))
        routes.append(Mount("/messages/", app=protected(sse.handle_post_message)))

    verifier = ApiKeyVerifier({name: agent.api_keys for name, agent in runtime.config.config.agents.items()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with session_manager.run():
            yield

    return Starlette(
        routes=routes,
        middleware=[
            Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)),
            Middleware(AuthContextMiddleware),
        ],
        lifespan=lifespan,
    )


async def serve_http(runtime: Runtime, *, transport: str, host: str, port: int) -> None:
    import uvicorn

    if not any(agent.api_keys for agent in runtime.config.config.agents.values()):
        log.warning("no agent has an API key, so every request will be refused; create one with "
                    "`zbmcp agent key NAME`")
    app = build_http_app(runtime, transport="both" if transport == "both" else transport)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=30,  # in-flight tool calls finish before the process exits
        lifespan="on",
    )
    paths = {"http": "/mcp", "sse": "/sse", "both": "/mcp and /sse"}[transport]
    log.info("serving MCP on http://%s:%d (%s); health at /healthz", host, port, paths)
    await uvicorn.Server(config).serve()
