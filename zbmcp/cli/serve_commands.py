"""The commands that run a server: `serve` (MCP over stdio or HTTP, from a config or on the sandbox),
`sandbox` (the Zoho Books emulator on its own) and `console` (the operator's pages)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from zbmcp.cli.commands import _load, add_command, port_number
from zbmcp.errors import ConfigError

if TYPE_CHECKING:
    from zbmcp.cli.commands import Commands
    from zbmcp.cli.serving import SandboxKey

MIN_KEY_LENGTH = 16


def add_serve(commands: Commands) -> None:
    serve = add_command(commands, "serve", "Run the MCP server (stdio by default).", _serve)
    serve.add_argument("--agent", help="the agent this stdio server acts for")
    serve.add_argument("--sandbox", action="store_true",
                       help="run on the embedded Zoho Books sandbox, as agent 'demo' that may use every tool")
    serve.add_argument("--oauth", action="store_true",
                       help="with --sandbox over HTTP: people sign in with the sandbox's Zoho, as a remote "
                            "connector does")
    serve.add_argument("--transport", choices=["stdio", "http", "sse", "both"], default="stdio",
                       help="stdio, Streamable HTTP at /mcp, legacy SSE at /sse, or both HTTP kinds")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on over HTTP (default 127.0.0.1)")
    serve.add_argument("--port", type=port_number, default=8000,
                       help="port to listen on over HTTP (default 8000)")
    serve.add_argument("--key-env", metavar="NAME",
                       help="with --sandbox over HTTP: require `Authorization: Bearer <key>`, the key being "
                            "the value of environment variable NAME (default: no key, loopback only)")


def add_sandbox(commands: Commands) -> None:
    sandbox = add_command(commands, "sandbox", "Run the embedded Zoho Books sandbox as a real HTTP server.",
                          _sandbox)
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sandbox.add_argument("--port", type=port_number, default=8765, help="port to listen on (default 8765)")
    sandbox.add_argument("--invoices", type=_invoice_count, default=0, metavar="N",
                         help="seed N more invoices, with their customers, payments and bills "
                              "(a busy organization)")


def add_console(commands: Commands) -> None:
    console = add_command(commands, "console",
                          "Serve the operator's console (approvals, access, audit) for this config.",
                          _console)
    console.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    console.add_argument("--port", type=port_number, default=8001, help="port to listen on (default 8001)")


def _invoice_count(text: str) -> int:
    if not text.isdigit() or int(text) > 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of invoices: use 0 to 100000")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.cli.serving import serve_config, serve_sandbox

    if args.oauth and not args.sandbox:
        raise ConfigError("--oauth goes with --sandbox; a real server lets people sign in through the "
                          "config's `oauth:` section (docs/connectors.md)")
    if args.sandbox:
        anyio.run(serve_sandbox, args.transport, args.host, args.port, _sandbox_key(args), args.oauth)
        return 0
    if args.key_env:
        raise ConfigError("--key-env is for `serve --sandbox`; with a config, give each agent its own keys: "
                          "zbmcp agent key NAME")
    loaded = _load(args)
    if args.transport == "stdio" and not args.agent:
        agents = ", ".join(sorted(loaded.config.agents)) or "none configured"
        raise ConfigError(f"choose the agent this server acts for with --agent NAME (agents: {agents})")
    anyio.run(serve_config, loaded, args.agent, args.transport, args.host, args.port)
    return 0


def _sandbox_key(args: argparse.Namespace) -> SandboxKey | None:
    from zbmcp.cli.serving import KEY_HOWTO, SandboxKey

    if not args.key_env:
        return None
    if args.transport == "stdio":
        raise ConfigError("--key-env is for the HTTP transports (--transport http, sse or both); over stdio "
                          "the client that starts the server is the only one who can talk to it")
    value = os.environ.get(args.key_env, "")
    if not value.strip():
        howto = KEY_HOWTO.replace("ZBMCP_SANDBOX_KEY", args.key_env)
        raise ConfigError(f"--key-env {args.key_env}: that environment variable is not set or empty; {howto}")
    if value != value.strip():
        raise ConfigError(f"--key-env {args.key_env}: the key starts or ends with white space; remove it")
    if len(value) < MIN_KEY_LENGTH:
        raise ConfigError(f"--key-env {args.key_env}: the key is too short to be safe from guessing; use at "
                          f"least {MIN_KEY_LENGTH} random characters")
    return SandboxKey(args.key_env, value)


def _sandbox(args: argparse.Namespace) -> int:
    from zbmcp.listen import listen
    from zbmcp.sandbox.server import run_sandbox

    # bound first: a busy port is one line, before the banner
    run_sandbox(sock=listen(args.host, args.port), bulk_invoices=args.invoices)
    return 0


def _console(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.console.serve import serve_console

    loaded = _load(args)
    anyio.run(serve_console, loaded, args.host, args.port)
    return 0
