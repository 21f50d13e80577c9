"""Start a server: from a config file, or on the embedded sandbox; over stdio or HTTP."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from zbmcp.config import LoadedConfig
from zbmcp.policy import unknown_agent

if TYPE_CHECKING:
    from zbmcp.runtime import Runtime
    from zbmcp.zoho.tokens import TokenStore

log = logging.getLogger(__name__)


async def serve_config(loaded: LoadedConfig, agent: str | None, transport: str, host: str, port: int) -> None:
    from zbmcp.runtime import open_runtime

    if agent is not None and agent not in loaded.config.agents:
        raise unknown_agent(agent, loaded.config.agents)
    async with open_runtime(loaded) as runtime:
        check_audit_log(runtime)
        await _run(runtime, agent, transport, host, port)


def check_audit_log(runtime: Runtime) -> None:
    """Start-up refuses an audit log it could not write: every call would be refused anyway."""
    problem = runtime.audit.problem()
    if problem is not None:
        from zbmcp.errors import ConfigError

        raise ConfigError(f"audit.path: the audit log cannot be written ({problem}). Point audit.path at a file "
                          "zbmcp can create and append to, in a folder where it may also keep the chain file "
                          "(.NAME.chain), or remove audit.path to write the records to stderr.",
                          file=runtime.config.source.file)


async def serve_sandbox(transport: str, host: str, port: int) -> None:
    import httpx2

    from zbmcp.demo import DEMO_AGENT, demo_config
    from zbmcp.runtime import open_runtime
    from zbmcp.sandbox import Sandbox, SandboxSettings

    sandbox = Sandbox(SandboxSettings())
    key_hashes: list[str] = []
    if transport != "stdio":
        from zbmcp.keys import new_api_key

        key, digest = new_api_key()  # a fresh one each start: nothing to store, nothing to leak later
        key_hashes.append(digest)
        print(f"zbmcp: API key for agent {DEMO_AGENT!r} (this run only; send it as "
              f"`Authorization: Bearer <key>`):\n  {key}", file=sys.stderr, flush=True)
    loaded = demo_config(sandbox, api_keys=key_hashes)
    print(
        f"zbmcp: serving on the embedded Zoho Books sandbox as agent {DEMO_AGENT!r} "
        f"(organizations {', '.join(sandbox.credentials.organization_ids)}); nothing reaches Zoho.",
        file=sys.stderr,
    )
    async with open_runtime(
        loaded, transport=httpx2.ASGITransport(app=sandbox.app), store_factory=_memory_store
    ) as runtime:
        await _run(runtime, DEMO_AGENT if transport == "stdio" else None, transport, host, port)


def _memory_store(connection: str, kind: str) -> TokenStore:
    from zbmcp.zoho.tokens import MemoryTokenStore

    return MemoryTokenStore()


async def _run(runtime: Runtime, agent: str | None, transport: str, host: str, port: int) -> None:
    from zbmcp.server import ZbmcpServer

    if transport == "stdio":
        from mcp.server.stdio import stdio_server

        server = ZbmcpServer(runtime, agent=agent).server
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
        return
    from zbmcp.transports import serve_http

    logging.getLogger("mcp.server.streamable_http_manager").setLevel(logging.WARNING)  # a line per start/stop

    if transport not in ("http", "sse", "both"):
        raise ValueError(f"unknown transport {transport!r}")
    await serve_http(runtime, transport=transport, host=host, port=port)  # type: ignore[arg-type]
