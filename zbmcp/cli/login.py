"""Connecting a Zoho account: the browser login with a loopback redirect, the Self Client code exchange,
status and logout. The client secret is only ever sent to a known Zoho accounts server (or the connection's
own configured accounts_url), and tokens are never printed.
"""

from __future__ import annotations

import contextlib
import html
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2

from zbmcp.errors import AuthError
from zbmcp.zoho.accounts import authorization_url, exchange_code, trusted_accounts_server
from zbmcp.zoho.token_manager import TokenManager
from zbmcp.core.regions import Region, data_center, region_of_accounts_server

log = logging.getLogger(__name__)

DEFAULT_REDIRECT_PORT = 8976
CALLBACK_PATH = "/callback"
LOGIN_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class LoginResult:
    region: str | None
    api_domain: str | None
    scopes: list[str]
    accounts_server: str


def consent_url(manager: TokenManager, accounts_url: str, redirect_uri: str, scopes: list[str],
                state: str) -> str:
    return authorization_url(manager.client, accounts_url, redirect_uri, scopes, state, offline=True)


async def exchange(
    manager: TokenManager,
    code: str,
    accounts_server: str,
    *,
    redirect_uri: str | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> LoginResult:
    """Trade a grant code for tokens at `accounts_server` and keep them (browser and Self Client flows)."""
    server = trusted_accounts_server(accounts_server, manager.client.accounts_url)
    token = await exchange_code(manager.client, code, server, redirect_uri=redirect_uri,
                                transport=transport or manager.transport)
    region = region_of_accounts_server(server)
    await manager.adopt(token, accounts_server=server, extra={"region": region} if region else None)
    return LoginResult(region, manager.api_domain, manager.granted_scopes or [], server)


@dataclass
class Callback:
    query: dict[str, str]


async def browser_login(
    manager: TokenManager,
    *,
    region: Region,
    scopes: list[str],
    open_browser: Callable[[str], Awaitable[None] | None],
    port: int = DEFAULT_REDIRECT_PORT,
    transport: httpx2.AsyncBaseTransport | None = None,
    timeout: float = LOGIN_TIMEOUT_SECONDS,
    accounts_url: str | None = None,
) -> LoginResult:
    """The authorization-code flow: consent in the browser, redirect to a loopback port, exchange the code."""
    start = (accounts_url or data_center(region).accounts_url).rstrip("/")
    state = secrets.token_urlsafe(24)
    with anyio.fail_after(timeout):
        async with loopback_receiver(port) as (redirect_uri, next_callback):
            url = consent_url(manager, start, redirect_uri, scopes, state)
            opened = open_browser(url)
            if opened is not None:
                await opened
            callback = await next_callback()
    query = callback.query
    if query.get("error"):
        raise AuthError(f"Zoho did not grant access ({query['error']}).")
    if not secrets.compare_digest(query.get("state", ""), state):
        raise AuthError("The login redirect carried the wrong state (a forged or stale redirect); nothing "
                        "was exchanged. Start the login again.")
    if not query.get("code"):
        raise AuthError("The login redirect carried no code.")
    server = query.get("accounts-server") or start
    return await exchange(manager, query["code"], server, redirect_uri=redirect_uri, transport=transport)


@contextlib.asynccontextmanager
async def loopback_receiver(port: int) -> AsyncIterator[tuple[str, Callable[[], Awaitable[Callback]]]]:
    """A one-shot HTTP listener on 127.0.0.1 for the OAuth redirect."""
    send, receive = anyio.create_memory_object_stream[Callback](1)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    actual_port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = b""
            with anyio.move_on_after(10):
                while b"\r\n\r\n" not in data and len(data) < 16384:
                    chunk = await stream.receive(4096)
                    if not chunk:
                        break
                    data += chunk
            target = data.split(b" ", 2)[1].decode("latin-1") if data.count(b" ") >= 2 else "/"
            parts = urlsplit(target)
            if parts.path != CALLBACK_PATH:
                await stream.send(_page(404, "Not the zbmcp login callback."))
                return
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            ok = "code" in query and "error" not in query
            await stream.send(_page(200, "zbmcp is connected to Zoho Books. You can close this tab." if ok
                                    else "The Zoho login did not complete; see the terminal."))
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                send.send_nowait(Callback(query))

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, handle)
            try:
                yield f"http://127.0.0.1:{actual_port}{CALLBACK_PATH}", receive.receive
            finally:
                group.cancel_scope.cancel()
    finally:
        await listener.aclose()
        send.close()
        receive.close()


def _page(status: int, text: str) -> bytes:
    body = f"<!doctype html><title>zbmcp</title><p>{html.escape(text)}</p>".encode()
    reason = {200: "OK", 404: "Not Found"}[status]
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


async def revoke(manager: TokenManager, *, transport: httpx2.AsyncBaseTransport | None = None) -> bool:
    """Revoke the refresh token at Zoho (which also kills its access tokens) and forget it locally."""
    await manager.load()
    if manager.foreign:  # revoking it elsewhere would send it there; deleting it would forget it unrevoked
        raise AuthError(f"{manager.foreign} Logging out neither revokes nor deletes it: restore the old "
                        "settings to log out of it, or revoke zbmcp in the connected apps of that Zoho "
                        "account.")
    refresh_token = manager.stored_refresh_token()
    revoked = False
    if refresh_token:
        server = manager.accounts_server or manager.client.accounts_url
        async with httpx2.AsyncClient(transport=transport or manager.transport, timeout=30) as http:
            try:
                response = await http.post(f"{server.rstrip('/')}/oauth/v2/token/revoke",
                                           params={"token": refresh_token})
                revoked = response.status_code == 200
            except httpx2.HTTPError as exc:
                log.warning("could not reach %s to revoke the token (%s)", server, type(exc).__name__)
    await manager.forget()
    return revoked


def describe_token(manager: TokenManager) -> dict[str, Any]:
    left = manager.seconds_left()
    return {
        "has_refresh_token": bool(manager.stored_refresh_token()),
        "access_token_valid": left is not None and left > 0,
        "access_token_seconds_left": int(left) if left is not None and left > 0 else 0,
        "api_domain": manager.api_domain,
        "scopes": manager.granted_scopes,
    }
