"""The sandbox over real HTTP on one loopback port that a test takes down and brings back: while it is down,
connections are refused, as when Zoho or the network is gone (nothing of a request can be sent)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.server import AsyncSandboxServer


class SwitchableZoho:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.port = 0
        self._server: AsyncSandboxServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def up(self) -> None:
        server = AsyncSandboxServer(self.sandbox, port=self.port)  # port 0 the first time, then the same one
        await server.__aenter__()
        self._server, self.port = server, int(server.base_url.rsplit(":", 1)[1])

    async def down(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.__aexit__(None, None, None)

    async def __aenter__(self) -> Self:
        await self.up()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.down()
