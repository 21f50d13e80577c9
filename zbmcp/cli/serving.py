"""Start a server: from a config file, or on the embedded sandbox; over stdio or HTTP.

Over HTTP the socket is bound first, before anything is printed: a busy port is one line, not a traceback
after a banner that said "serving".
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zbmcp.core.config import LoadedConfig
from zbmcp.core.policy import unknown_agent

if TYPE_CHECKING:
    from zbmcp.calls.runtime import Runtime
    from zbmcp.state.tokens import TokenStore

log = logging.getLogger(__name__)

KEY_HOWTO = ("export ZBMCP_SANDBOX_KEY=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\" "
             "and add --key-env ZBMCP_SANDBOX_KEY")


@dataclass(frozen=True)
class SandboxKey:
    """The key that `serve --sandbox` over HTTP requires, and the environment variable it came from."""

    env_name: str
    value: str

    def __repr__(self) -> str:  # never a secret in a traceback or a log line
        return f"SandboxKey(env_name={self.env_name!r})"


async def serve_config(loaded: LoadedConfig, agent: str | None, transport: str, host: str, port: int) -> None:
    from zbmcp.calls.runtime import open_runtime

    if agent is not None and agent not in loaded.config.agents:
        raise unknown_agent(agent, loaded.config.agents)
    with _listening(transport, host, port) as listener:
        async with open_runtime(loaded) as runtime:
            check_audit_log(runtime)
            await _run(runtime, agent, transport, host, port, listener)


def check_audit_log(runtime: Runtime) -> None:
    """Start-up refuses an audit log it could not write: every call would be refused anyway. A torn line that
    a full disk left at its end is sealed now."""
    problem = runtime.audit.open()
    if problem is not None:
        from zbmcp.errors import ConfigError

        raise ConfigError(f"audit.path: the audit log cannot be written ({problem}). Point audit.path at a "
                          "file zbmcp can create and append to, in a folder where it may also keep the chain "
                          "file (.NAME.chain), or remove audit.path to write the records to stderr.",
                          file=runtime.config.source.file)


async def serve_sandbox(transport: str, host: str, port: int, key: SandboxKey | None = None,
                        oauth: bool = False) -> None:
    from zbmcp.calls.demo import DEMO_AGENT
    from zbmcp.transports.keyless import require_loopback_host, require_loopback_socket
    from zbmcp.core.credentials import key_hash

    if oauth:
        await _serve_sandbox_with_sign_in(transport, host, port)
        return
    keyless = transport != "stdio" and key is None
    if keyless:
        require_loopback_host(host, key_option=KEY_HOWTO)
    with _listening(transport, host, port) as listener:
        if keyless and listener is not None:
            require_loopback_socket(listener)  # `localhost` may resolve anywhere: what was bound decides
        async with sandbox_runtime(api_keys=[key_hash(key.value)] if key else []) as runtime:
            organizations = runtime.config.config.agents[DEMO_AGENT].organizations
            print(f"zbmcp: serving on the embedded Zoho Books sandbox as agent {DEMO_AGENT!r} "
                  f"(organizations {', '.join(organizations)}); nothing reaches Zoho.", file=sys.stderr)
            if keyless:
                print(f"zbmcp: no key needed: every request from this machine acts as agent {DEMO_AGENT!r} "
                      "(keyless mode, loopback only). To require a key, pass --key-env NAME.",
                      file=sys.stderr)
            elif key is not None and transport != "stdio":
                print(f"zbmcp: every request needs `Authorization: Bearer <the value of ${key.env_name}>`.",
                      file=sys.stderr)
            await _run(runtime, DEMO_AGENT if transport == "stdio" else None, transport, host, port, listener,
                       keyless_agent=DEMO_AGENT if keyless else None)


@contextlib.asynccontextmanager
async def sandbox_runtime(api_keys: list[str] | None = None) -> AsyncIterator[Runtime]:
    """What `serve --sandbox` runs on (and `doctor --sandbox` checks): a fresh embedded sandbox, reached in
    memory, and the built-in config of agent `demo`. The sandbox is made when the first request reaches it:
    tools/list needs none of it."""
    import httpx2

    from zbmcp.calls.demo import demo_config
    from zbmcp.calls.runtime import open_runtime

    with tempfile.TemporaryDirectory(prefix="zbmcp-sandbox-") as home:  # this sandbox's State, and no other's
        loaded = demo_config(None, api_keys=api_keys, home=Path(home))
        async with open_runtime(
            loaded, transport=httpx2.ASGITransport(app=_EmbeddedSandbox()), store_factory=_memory_store
        ) as runtime:
            yield runtime


class _EmbeddedSandbox:
    """A fresh sandbox's ASGI app, made on the first request (its books, its routes: tens of milliseconds a
    start that only lists tools would spend for nothing)."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from zbmcp.sandbox import Sandbox, SandboxSettings

            self._app = Sandbox(SandboxSettings()).app
        await self._app(scope, receive, send)


@contextlib.contextmanager
def _listening(transport: str, host: str, port: int) -> Iterator[socket.socket | None]:
    if transport == "stdio":
        yield None
        return
    from zbmcp.listen import listen

    listener = listen(host, port)
    try:
        yield listener
    finally:
        listener.close()


async def _serve_sandbox_with_sign_in(transport: str, host: str, port: int) -> None:
    """The remote-connector experience offline: the sandbox's Zoho (its sign-in page on a port of its own) and
    zbmcp's OAuth server in front of agent `demo`, which Sam and Alice may sign in as."""
    from zbmcp.calls.demo import DEMO_AGENT, demo_config
    from zbmcp.errors import ConfigError
    from zbmcp.oauth_server.settings import CALLBACK_PATH
    from zbmcp.calls.runtime import open_runtime
    from zbmcp.sandbox import Sandbox, SandboxSettings
    from zbmcp.sandbox.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI
    from zbmcp.sandbox.server import AsyncSandboxServer
    from zbmcp.sandbox.users import ALICE_USER_ID

    if transport == "stdio" or host not in ("127.0.0.1", "localhost"):
        raise ConfigError("--oauth needs --transport http (or sse, both) on 127.0.0.1 or localhost: the "
                          "sign-in redirects name this address")
    with _listening(transport, host, port) as listener, \
            tempfile.TemporaryDirectory(prefix="zbmcp-sandbox-") as home:  # this sandbox's State alone
        assert listener is not None
        issuer = f"http://{host}:{listener.getsockname()[1]}"  # --port 0: the port it got
        sandbox = Sandbox(SandboxSettings(sign_in="form"))
        sandbox.register_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
                                [DEFAULT_REDIRECT_URI, issuer + CALLBACK_PATH])
        async with AsyncSandboxServer(sandbox, host="127.0.0.1") as zoho:
            people = [sandbox.users.users[user_id].email
                      for user_id in (sandbox.default_user_id, ALICE_USER_ID)]
            loaded = demo_config(sandbox, base_url=zoho.base_url, oauth_issuer=issuer, users=people,
                                 home=Path(home))
            print(f"zbmcp: a remote MCP server on the embedded sandbox: connect a client to {issuer}/mcp. It "
                  f"sends you to the sandbox's Zoho sign-in page ({zoho.base_url}): sign in as "
                  f"{' or '.join(people)} (password `sandbox`) to act as agent {DEMO_AGENT!r}; "
                  "mallory@outsider.example is refused. Nothing reaches Zoho.", file=sys.stderr, flush=True)
            async with open_runtime(loaded, store_factory=_memory_store) as runtime:
                await _run(runtime, None, transport, host, port, listener)


def _memory_store(connection: str, kind: str) -> TokenStore:
    from zbmcp.zoho.tokens import MemoryTokenStore

    return MemoryTokenStore()


async def _run(runtime: Runtime, agent: str | None, transport: str, host: str, port: int,
               listener: socket.socket | None, *, keyless_agent: str | None = None) -> None:
    from zbmcp.calls.server import ZbmcpServer

    if transport == "stdio":
        from zbmcp.transports.stdio import serve_stdio

        await serve_stdio(ZbmcpServer(runtime, agent=agent).server)
        return
    from zbmcp.transports.http import serve_http

    logging.getLogger("mcp.server.streamable_http_manager").setLevel(logging.WARNING)  # a line per start/stop

    if transport not in ("http", "sse", "both"):
        raise ValueError(f"unknown transport {transport!r}")
    await serve_http(runtime, transport=transport, host=host, port=port, sock=listener,  # type: ignore[arg-type]
                     keyless_agent=keyless_agent)
