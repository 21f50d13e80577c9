"""The `zbmcp` command and nothing else: parse arguments, build the one Config, hand over, print errors.

Heavy modules are imported inside each command, so `zbmcp serve` starts as fast as the MCP SDK allows.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from zbmcp.errors import ZbmcpError

log = logging.getLogger("zbmcp")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        stream=sys.stderr,  # stdout is the stdio protocol channel
        format="zbmcp: %(message)s",
    )
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except ZbmcpError as exc:
        print(f"zbmcp: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zbmcp", description="Least-privilege, audited MCP access to Zoho Books.")
    commands = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, help_text: str, run: object) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        sub.add_argument("--config", type=Path, help="config file (default: $ZBMCP_CONFIG, then zbmcp.yaml in the "
                                                     "user config dir)")
        sub.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
        return sub

    serve = command("serve", "Run the MCP server (stdio by default).", _serve)
    serve.add_argument("--agent", help="the agent this stdio server acts for")
    serve.add_argument("--sandbox", action="store_true", help="run on the embedded Zoho Books sandbox, as agent "
                                                              "'demo' that sees every tool")
    serve.add_argument("--transport", choices=["stdio", "http", "sse", "both"], default="stdio",
                       help="stdio, Streamable HTTP at /mcp, legacy SSE at /sse, or both HTTP kinds")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    tools = command("tools", "List the tools, with scope and access (for one agent: what it sees and why).", _tools)
    tools.add_argument("--agent")
    tools.add_argument("--json", action="store_true", help="machine-readable output")

    scopes = command("scopes", "Print the least-privilege Zoho scope string for an agent.", _scopes)
    scopes.add_argument("--agent", required=True)

    sandbox = command("sandbox", "Run the embedded Zoho Books sandbox as a real HTTP server.", _sandbox)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    return parser


def _environ() -> dict[str, str]:
    return dict(os.environ)


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from zbmcp.config import load_config

    return load_config(args.config, _environ())


def _serve(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.serving import serve_config, serve_sandbox

    if args.sandbox:
        anyio.run(serve_sandbox, args.transport, args.host, args.port)
        return 0
    loaded = _load(args)
    if args.transport == "stdio" and not args.agent:
        from zbmcp.errors import ConfigError

        agents = ", ".join(sorted(loaded.config.agents)) or "none configured"
        raise ConfigError(f"choose the agent this server acts for with --agent NAME (agents: {agents})")
    anyio.run(serve_config, loaded, args.agent, args.transport, args.host, args.port)
    return 0


def _tools(args: argparse.Namespace) -> int:
    from zbmcp.listing import print_tools

    loaded = _load(args) if (args.agent or args.config) else None
    print_tools(loaded, args.agent, as_json=args.json)
    return 0


def _scopes(args: argparse.Namespace) -> int:
    from zbmcp.manifest import load_manifests
    from zbmcp.policy import policies, unknown_agent

    loaded = _load(args)
    agent_policies = policies(loaded, load_manifests())
    if args.agent not in agent_policies:
        raise unknown_agent(args.agent, agent_policies)
    print(",".join(agent_policies[args.agent].scopes))
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from zbmcp.sandbox.server import run_sandbox

    run_sandbox(host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
