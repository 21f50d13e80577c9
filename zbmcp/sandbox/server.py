"""Serving a Sandbox over real HTTP with uvicorn.

    with SandboxServer(sandbox) as srv:            # a background thread, loopback, ephemeral port
        srv.api_base_url                           # "http://127.0.0.1:54321/books/v3"
    async with AsyncSandboxServer(sandbox) as srv: # in the caller's event loop (hold faults work here too)
        ...
    run_sandbox(host="127.0.0.1", port=8765)       # blocking, with a banner on stdout; Ctrl-C stops it

uvicorn's access log is off: Zoho clients may put client secrets and refresh tokens in token-endpoint query
strings (§8.2, §8.3), and nothing secret may reach the logs. Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Self, TextIO

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from zbmcp.listen import bind_listener
from zbmcp.sandbox.faults import ConnectionDropped
from zbmcp.sandbox.sandbox import Sandbox
from zbmcp.sandbox.settings import SandboxSettings

_STARTUP_TIMEOUT = 10.0


class _DropConnections:
    """Under uvicorn, an app that returns with its response unfinished gets its connection closed: a clean
    drop for the client, one log line for the server (raising would log a traceback)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._app(scope, receive, send)
        except ConnectionDropped:
            return


def _config(sandbox: Sandbox, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(_DropConnections(sandbox.app), log_level=log_level, access_log=False,
                          lifespan="on", log_config=None, timeout_graceful_shutdown=2)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Urls:
    _host: str
    _port: int

    @property
    def base_url(self) -> str:
        """Also the accounts server: /oauth/v2/... lives here."""
        return _url(self._host, self._port)

    @property
    def api_base_url(self) -> str:
        return self.base_url + "/books/v3"

    @property
    def accounts_url(self) -> str:
        return self.base_url


class SandboxServer(_Urls):
    """uvicorn in a background thread on its own event loop."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        self.sandbox = sandbox
        self._host = host
        self._port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> None:
        self._socket = bind_listener(self._host, self._port)
        self._port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(_config(self.sandbox, self._log_level))
        server, sock = self._server, self._socket
        self._thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name="zbmcp-sandbox",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_STARTUP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


class AsyncSandboxServer(_Urls):
    """uvicorn as a task of the current event loop."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        self.sandbox = sandbox
        self._host = host
        self._port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    async def __aenter__(self) -> Self:
        self._socket = bind_listener(self._host, self._port)
        self._port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(_config(self.sandbox, self._log_level))
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._cleanup()
                raise RuntimeError("the sandbox server did not start")
            await asyncio.sleep(0.005)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self._cleanup()

    async def _cleanup(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task
        if self._socket is not None:
            self._socket.close()
        self._server = self._task = self._socket = None


def banner(sandbox: Sandbox, base_url: str) -> str:
    creds = sandbox.credentials
    orgs = ", ".join(
        f"{org_id} ({sandbox.org_store(org_id).organization.name}, "
        f"{sandbox.org_store(org_id).organization.currency_code})" for org_id in creds.organization_ids)
    token_call = (f"curl -s -X POST {shlex.quote(base_url + '/oauth/v2/token')} -d grant_type=refresh_token "
                  f"-d client_id={creds.client_id} -d client_secret={creds.client_secret} "
                  f"-d refresh_token={creds.refresh_token}")
    return "\n".join([
        "zbmcp sandbox: a local Zoho Books emulator. Nothing here is real; no email is ever sent.",
        f"  API base URL:   {base_url}/books/v3",
        f"  Accounts URL:   {base_url}",
        f"  Client ID:      {creds.client_id}",
        f"  Client secret:  {creds.client_secret}",
        f"  Refresh token:  {creds.refresh_token}",
        f"  Scope:          {creds.scope}",
        f"  Redirect URI:   {creds.redirect_uri}",
        f"  Organizations:  {orgs}",
        "Try:",
        f"  TOKEN=$({token_call} | python3 -c 'import json,sys; "
        "print(json.load(sys.stdin)[\"access_token\"])')",
        (f"  curl -s -H \"Authorization: Zoho-oauthtoken $TOKEN\" "
         f"'{base_url}/books/v3/invoices?organization_id={creds.organization_ids[0]}'"),
        "Press Ctrl-C to stop.",
        "",
    ])


def run_sandbox(host: str = "127.0.0.1", port: int = 8765, *, settings: SandboxSettings | None = None,
                out: TextIO | None = None, sock: socket.socket | None = None, bulk_invoices: int = 0) -> None:
    """Serve a fresh sandbox until interrupted. The banner goes to `out` (stdout), logs to stderr.

    `sock`: a listening socket already bound (host and port are then where it listens). `bulk_invoices`: seed
    that many more invoices, with their surroundings (a busy organization)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    sandbox = Sandbox(settings, bulk_invoices=bulk_invoices)
    if sock is None:
        sock = bind_listener(host, port)
    else:
        host = sock.getsockname()[0]
    try:
        base_url = _url(host, sock.getsockname()[1])
        stream = out or sys.stdout
        stream.write(banner(sandbox, base_url))
        stream.flush()
        # errors only: no "Started server process"
        uvicorn.Server(_config(sandbox, "warning")).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it already handled by shutting down cleanly
    finally:
        sock.close()
