"""The commands that let clients in: an agent's API key, the console's operators, people enrolled to sign in
from remote MCP clients, and the entry that connects Claude (`claude-config`)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from zbmcp.cli.commands import _environ, _load, add_command, add_group

if TYPE_CHECKING:
    from zbmcp.cli.commands import Commands


def add_agent(commands: Commands) -> None:
    action = functools.partial(add_command, add_group(commands, "agent",
                                                      "Manage agents: API keys for hosted agents."))
    key = action("key", "Create an API key for an agent: printed once, stored as a hash.", _agent_key)
    key.add_argument("name", help="the agent, as named under agents: in the config")


def add_oauth(commands: Commands) -> None:
    action = functools.partial(add_command, add_group(
        commands, "oauth", "People who sign in from remote MCP clients (docs/connectors.md)."))
    enroll = action("enroll", "Print a one-time link that lets a person sign in as an agent.", _oauth_enroll)
    enroll.add_argument("--agent", required=True, help="the agent the person may act as once enrolled")
    enroll.add_argument("--email", help="only this Zoho user may use the link")
    enroll.add_argument("--hours", type=float, default=72, help="how long the link works (default 72)")
    action("people", "List who may sign in, and as which agent.", _oauth_people)
    remove = action("remove", "Un-enroll a person (email or Zoho user id) and revoke their tokens.",
                    _oauth_remove)
    remove.add_argument("person", help="the enrolled person's Zoho email or user id")


def add_operator(commands: Commands) -> None:
    action = functools.partial(add_command, add_group(
        commands, "operator", "Manage the console's operators (the people who sign in)."))
    add = action("add", "Add an operator: a new secret printed once, stored as a hash.", _operator_add)
    add.add_argument("name", help="the name the operator signs in with")
    add.add_argument("--secret-stdin", action="store_true", help="read the secret to use from stdin instead")


def add_claude_config(commands: Commands) -> None:
    claude = add_command(commands, "claude-config",
                         "Print the Claude config for an agent (stdio), or for a remote zbmcp (--remote).",
                         _claude_config)
    who = claude.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent",
                     help="the agent Claude Desktop's server acts for (zbmcp run locally over stdio)")
    who.add_argument("--remote", metavar="URL", help="a hosted zbmcp that people sign in to (OAuth)")


def _agent_key(args: argparse.Namespace) -> int:
    from zbmcp.cli.keys import add_api_key

    path, key = add_api_key(args.config, args.name, _environ())
    print(key)
    print(f"zbmcp: added the hash of this key to agent {args.name!r} in {path}. The key is shown only now; "
          "give it to the agent as `Authorization: Bearer <key>`.", file=sys.stderr)
    return 0


def _oauth_enroll(args: argparse.Namespace) -> int:
    import functools

    import anyio

    from zbmcp.oauth_server.admin import enrollment_link

    link = anyio.run(functools.partial(enrollment_link, _load(args), args.agent, email=args.email,
                                       hours=args.hours))
    print(link)
    only = f" by {args.email}" if args.email else ""
    print(f"zbmcp: send this link to the person; it can be used once{only}, within {args.hours:g} hours.",
          file=sys.stderr)
    return 0


def _oauth_people(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.oauth_server.admin import people_lines

    loaded = _load(args)
    print("\n".join(anyio.run(people_lines, loaded)))
    return 0


def _oauth_remove(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.oauth_server.admin import remove_person

    loaded = _load(args)
    print(anyio.run(remove_person, loaded, args.person), file=sys.stderr)
    return 0


def _operator_add(args: argparse.Namespace) -> int:
    from zbmcp.cli.operators import add_operator

    chosen = sys.stdin.readline().rstrip("\n") if args.secret_stdin else None
    path, secret = add_operator(args.config, args.name, _environ(), chosen)
    if chosen is None:
        print(secret)
    shown_now = "; the secret above is shown only now" if chosen is None else ""
    print(f"zbmcp: added operator {args.name!r} to {path} (only a hash of the secret is stored{shown_now}). "
          "Restart zbmcp to use it.", file=sys.stderr)
    return 0


def _claude_config(args: argparse.Namespace) -> int:
    import json

    from zbmcp.core.policy import unknown_agent

    if args.remote:
        from zbmcp.cli.connectors import remote_config

        entry, advice = remote_config(args.remote)
        print(json.dumps(entry, indent=2))
        print(advice, file=sys.stderr)
        return 0
    loaded = _load(args)
    if args.agent not in loaded.config.agents:
        raise unknown_agent(args.agent, loaded.config.agents)
    from zbmcp.core.config import HOME_ENV
    from zbmcp.core.yamlsource import ENV_REFERENCE

    config_path = Path(loaded.source.file).resolve()
    server: dict[str, object] = {
        "command": sys.executable,
        "args": ["-m", "zbmcp", "serve", "--config", str(config_path), "--agent", args.agent],
    }
    # Claude Desktop starts servers without the user's shell environment: what the config reads from it
    # (${VARIABLES}, usually secrets) must be in the entry. Values are never printed: the user fills them in.
    referenced = sorted(set(ENV_REFERENCE.findall(config_path.read_text(encoding="utf-8"))))
    env = {name: f"<the value of {name}>" for name in referenced}
    if os.environ.get(HOME_ENV):  # where the tokens are: a path, not a secret
        env[HOME_ENV] = str(Path(os.environ[HOME_ENV]).expanduser().resolve())
    if env:
        server["env"] = env
    print(json.dumps({"mcpServers": {f"zoho-books-{args.agent}": server}}, indent=2))
    if referenced:
        print(f"zbmcp: the config reads {', '.join(referenced)} from the environment, which Claude Desktop "
              "does not pass on: put their values in \"env\" above (the file is then as secret as they are).",
              file=sys.stderr)
    return 0
