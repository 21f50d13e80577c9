"""`zbmcp console`: the console alone, for a local user (stdio servers started by desktop clients hold their
calls in the same ZBMCP_HOME, so their approvals appear here)."""

from __future__ import annotations

import logging
import sys

import anyio
import uvicorn
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import Receive, Scope, Send

from zbmcp.core.config import LoadedConfig
from zbmcp.console.app import ConsoleApp
from zbmcp.console.pages import PREFIX
from zbmcp.calls.runtime import Runtime

log = logging.getLogger(__name__)


class ConsoleOnly:
    """/console/... served by the console, and / sent there; anything else is not found.

    Only / is redirected: a browser's own requests (/favicon.ico) must not land on the sign-in page, whose
    answer would replace the sign-in cookie of the form the person is typing into.
    """

    def __init__(self, runtime: Runtime, *, refresh_seconds: float = 2.0) -> None:
        self.console = ConsoleApp(runtime, refresh_seconds=refresh_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == PREFIX or path.startswith(PREFIX + "/"):
            await self.console(scope, receive, send)
            return
        if path == "/":
            await RedirectResponse(f"{PREFIX}/", 303)(scope, receive, send)
            return
        await PlainTextResponse(f"Not found. The console is at {PREFIX}/", 404)(scope, receive, send)


async def serve_console(loaded: LoadedConfig, host: str, port: int) -> None:
    from zbmcp.calls.runtime import open_runtime

    if not loaded.config.operators:
        log.warning("no operator is configured, so nobody can sign in; "
                    "add one with `zbmcp operator add NAME`")
    async with open_runtime(loaded) as runtime:
        config = uvicorn.Config(ConsoleOnly(runtime), host=host, port=port, log_level="warning",
                                log_config=None, access_log=False, server_header=False, proxy_headers=False)
        server = uvicorn.Server(config)
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            while not server.started and not server.should_exit:
                await anyio.sleep(0.05)
            if server.started and server.servers:
                bound = server.servers[0].sockets[0].getsockname()[1]
                shown = f"[{host}]" if ":" in host else host
                print(f"zbmcp: console at http://{shown}:{bound}{PREFIX}/ (Ctrl-C stops it)", file=sys.stderr,
                      flush=True)
