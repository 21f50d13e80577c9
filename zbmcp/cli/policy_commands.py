"""The commands that say what a config grants: `tools` (and why an agent does not see the rest), `scopes`
(the Zoho scopes an agent needs) and `access compare` (what a new config would change)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from zbmcp.cli.commands import VERBOSE_HELP, _load, add_command, add_group

if TYPE_CHECKING:
    from zbmcp.cli.commands import Commands


def add_tools(commands: Commands) -> None:
    tools = add_command(commands, "tools",
                        "List the tools, with scope and access (for one agent: what it sees and why).",
                        _tools)
    tools.add_argument("--agent", help="only this agent's tools, with the rule that hides each other one")
    tools.add_argument("--json", action="store_true", help="machine-readable output")


def add_scopes(commands: Commands) -> None:
    scopes = add_command(commands, "scopes", "Print the least-privilege Zoho scope string for an agent.",
                         _scopes)
    scopes.add_argument("--agent", required=True, help="the agent whose scopes to print")


def add_access(commands: Commands) -> None:
    """`access compare` reads two files named on the command line, so it takes no --config."""
    actions = add_group(commands, "access", "Who can do what: compare two config files.")
    compare_help = "What a new config would grant or take away, agent by agent, compared with an old one."
    compare = actions.add_parser("compare", help=compare_help, description=compare_help)
    compare.set_defaults(run=_access_compare)
    compare.add_argument("old", type=Path, help="the config file as it is (say, the running one)")
    compare.add_argument("new", type=Path, help="the config file as it would be")
    compare.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)


def _tools(args: argparse.Namespace) -> int:
    from zbmcp.cli.listing import print_tools

    loaded = _load(args, offline=True) if (args.agent or args.config) else None
    print_tools(loaded, args.agent, as_json=args.json)
    return 0


def _scopes(args: argparse.Namespace) -> int:
    from zbmcp.calls.catalog import load_manifests
    from zbmcp.cli.unique_fields import agent_scopes
    from zbmcp.core.policy import policies, unknown_agent

    loaded = _load(args, offline=True)
    agent_policies = policies(loaded, load_manifests())
    if args.agent not in agent_policies:
        raise unknown_agent(args.agent, agent_policies)
    print(",".join(agent_scopes(loaded, args.agent, agent_policies[args.agent])))
    return 0


def _access_compare(args: argparse.Namespace) -> int:
    from zbmcp.cli.config_file import compare_files
    from zbmcp.core.access import format_changes

    changes = compare_files(args.old, args.new)
    print(format_changes(changes), end="")
    return 0
