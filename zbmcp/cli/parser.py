"""The argparse tree of `zbmcp`: each command comes from the module of its kind, listed here in the order
`zbmcp --help` shows them."""

from __future__ import annotations

import argparse

from zbmcp import __version__
from zbmcp.cli import (
    audit_commands,
    auth_commands,
    client_commands,
    hook_commands,
    policy_commands,
    serve_commands,
)

COMMANDS = (
    serve_commands.add_serve,
    policy_commands.add_tools,
    policy_commands.add_scopes,
    serve_commands.add_sandbox,
    auth_commands.add_auth,
    auth_commands.add_doctor,
    client_commands.add_agent,
    client_commands.add_oauth,
    client_commands.add_operator,
    hook_commands.add_hooks,
    policy_commands.add_access,
    serve_commands.add_console,
    client_commands.add_claude_config,
    audit_commands.add_audit,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zbmcp",
                                     description="Least-privilege, audited MCP access to Zoho Books.")
    parser.add_argument("--version", action="version", version=f"zbmcp {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser
