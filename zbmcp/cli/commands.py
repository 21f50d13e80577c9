"""The `zbmcp` command and nothing else: parse arguments, build the one Config, hand over, print errors.

Heavy modules are imported inside each command, so `zbmcp serve` starts as fast as the MCP SDK allows.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from zbmcp import __version__
from zbmcp.errors import ConfigError, ZbmcpError

if TYPE_CHECKING:
    from zbmcp.core.config import Connection, LoadedConfig
    from zbmcp.cli.serving import SandboxKey
    from zbmcp.zoho.oauth import TokenManager

T = TypeVar("T")

log = logging.getLogger("zbmcp")


def run(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", False)
    # Libraries (the MCP SDK, httpx2) log a line per request at INFO: that drowns what matters, and an
    # unread stderr pipe that fills up would stall the server. zbmcp's own messages stay at INFO.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        stream=sys.stderr,  # stdout is the stdio protocol channel
        format="zbmcp: %(message)s",
    )
    logging.getLogger("zbmcp").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("zbmcp.sandbox").setLevel(logging.WARNING)
    for chatty in ("httpx2", "httpcore2"):  # their request lines carry URLs, and a revoke URL carries a token
        logging.getLogger(chatty).setLevel(logging.WARNING)
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
    parser.add_argument("--version", action="version", version=f"zbmcp {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    def action(group: Any, name: str, help_text: str, run: object) -> argparse.ArgumentParser:
        """A command (zbmcp NAME) or one ACTION of a command group (zbmcp auth ACTION), reading the config."""
        sub: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        sub.add_argument("--config", type=Path, help=CONFIG_HELP)
        sub.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
        return sub

    command = functools.partial(action, commands)

    serve = command("serve", "Run the MCP server (stdio by default).", _serve)
    serve.add_argument("--agent", help="the agent this stdio server acts for")
    serve.add_argument("--sandbox", action="store_true", help="run on the embedded Zoho Books sandbox, as agent "
                                                              "'demo' that sees every tool")
    serve.add_argument("--oauth", action="store_true", help="with --sandbox over HTTP: people sign in with the "
                                                            "sandbox's Zoho, as a remote connector does")
    serve.add_argument("--transport", choices=["stdio", "http", "sse", "both"], default="stdio",
                       help="stdio, Streamable HTTP at /mcp, legacy SSE at /sse, or both HTTP kinds")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on over HTTP (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on over HTTP (default 8000)")
    serve.add_argument("--key-env", metavar="NAME", help="with --sandbox over HTTP: require `Authorization: Bearer "
                                                         "<key>`, the key being the value of environment variable "
                                                         "NAME (default: no key, loopback only)")

    tools = command("tools", "List the tools, with scope and access (for one agent: what it sees and why).", _tools)
    tools.add_argument("--agent", help="only this agent's tools, with the rule that hides each other one")
    tools.add_argument("--json", action="store_true", help="machine-readable output")

    scopes = command("scopes", "Print the least-privilege Zoho scope string for an agent.", _scopes)
    scopes.add_argument("--agent", required=True, help="the agent whose scopes to print")

    sandbox = command("sandbox", "Run the embedded Zoho Books sandbox as a real HTTP server.", _sandbox)
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sandbox.add_argument("--port", type=_port, default=8765, help="port to listen on (default 8765)")
    sandbox.add_argument("--invoices", type=_invoice_count, default=0, metavar="N",
                         help="seed N more invoices, with their customers, payments and bills (a busy organization)")

    auth_help = "Connect a Zoho account: login, exchange, status, logout."
    auth = commands.add_parser("auth", help=auth_help, description=auth_help)
    auth_command = functools.partial(action, auth.add_subparsers(metavar="ACTION"))

    login = auth_command("login", "Log in through the browser and store the tokens.", _auth_login)
    login.add_argument("--connection", required=True, help=CONNECTION_HELP)
    login.add_argument("--region", help="Zoho data center to log in to (default: the connection's)")
    who = login.add_mutually_exclusive_group()
    who.add_argument("--agent", help="request exactly the scopes this agent needs")
    who.add_argument("--scopes", help="comma-separated scopes to request")
    login.add_argument("--port", type=_port, default=8976, help="loopback port of the redirect URI (default 8976: "
                                                               "register http://127.0.0.1:8976/callback)")
    login.add_argument("--no-browser", action="store_true", help="print the consent URL instead of opening it")

    exchange = auth_command("exchange", "Exchange a Self Client grant code (headless servers).", _auth_exchange)
    exchange.add_argument("--connection", required=True, help=CONNECTION_HELP)
    exchange.add_argument("--code", required=True, help="the grant code the Self Client generated (1000.xxxx.yyyy)")
    exchange.add_argument("--region", help="the data center whose API console made the code")

    auth_command("status", "Each connection: region, scopes, token validity, organizations reached.", _auth_status)
    logout = auth_command("logout", "Revoke a connection's refresh token at Zoho and delete it locally.",
                          _auth_logout)
    logout.add_argument("--connection", required=True, help=CONNECTION_HELP)

    command("doctor", "Check the config, tokens, scopes and organizations; print what to fix.", _doctor)

    agent_help = "Manage agents: API keys for hosted agents."
    agent = commands.add_parser("agent", help=agent_help, description=agent_help)
    agent_command = functools.partial(action, agent.add_subparsers(metavar="ACTION"))
    key = agent_command("key", "Create an API key for an agent: printed once, stored as a hash.", _agent_key)
    key.add_argument("name", help="the agent, as named under agents: in the config")

    oauth_help = "People who sign in from remote MCP clients (docs/connectors.md)."
    oauth = commands.add_parser("oauth", help=oauth_help, description=oauth_help)
    oauth_command = functools.partial(action, oauth.add_subparsers(metavar="ACTION"))

    enroll = oauth_command("enroll", "Print a one-time link that lets a person sign in as an agent.", _oauth_enroll)
    enroll.add_argument("--agent", required=True, help="the agent the person may act as once enrolled")
    enroll.add_argument("--email", help="only this Zoho user may use the link")
    enroll.add_argument("--hours", type=float, default=72, help="how long the link works (default 72)")
    oauth_command("people", "List who may sign in, and as which agent.", _oauth_people)
    remove = oauth_command("remove", "Un-enroll a person (email or Zoho user id) and revoke their tokens.",
                           _oauth_remove)
    remove.add_argument("person", help="the enrolled person's Zoho email or user id")

    operator_help = "Manage the console's operators (the people who sign in)."
    operator = commands.add_parser("operator", help=operator_help, description=operator_help)
    operator_command = functools.partial(action, operator.add_subparsers(metavar="ACTION"))
    add = operator_command("add", "Add an operator: a new secret printed once, stored as a hash.", _operator_add)
    add.add_argument("name", help="the name the operator signs in with")
    add.add_argument("--secret-stdin", action="store_true", help="read the secret to use from stdin instead")

    access_help = "Who can do what: compare two config files."
    access = commands.add_parser("access", help=access_help, description=access_help)
    access_commands = access.add_subparsers(metavar="ACTION")
    compare_help = "What a new config would grant or take away, agent by agent, compared with an old one."
    compare = access_commands.add_parser("compare", help=compare_help, description=compare_help)
    compare.set_defaults(run=_access_compare)
    compare.add_argument("old", type=Path, help="the config file as it is (say, the running one)")
    compare.add_argument("new", type=Path, help="the config file as it would be")
    compare.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)

    console = command("console", "Serve the operator's console (approvals, access, audit) for this config.",
                      _console)
    console.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    console.add_argument("--port", type=_port, default=8001, help="port to listen on (default 8001)")

    claude = command("claude-config", "Print the Claude config for an agent (stdio), or for a remote zbmcp (--remote).",
                     _claude_config)
    who = claude.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", help="the agent Claude Desktop's server acts for (zbmcp run locally over stdio)")
    who.add_argument("--remote", metavar="URL", help="a hosted zbmcp that people sign in to (OAuth)")

    audit = command("audit", "Show the audit log as a table: one row per call, with its final state.", _audit)
    audit.add_argument("--agent", help="only this agent's calls")
    audit.add_argument("--since", help="e.g. 2026-11-25, 2026-11-25T10:00, 2h, 30m or 7d")
    audit.add_argument("--event", metavar="KIND", help="only this kind of record: call (tool calls), oauth, "
                       "console, approval (each a family of events) or one step, e.g. oauth.token")
    audit.add_argument("--json", action="store_true", help="the same rows as JSON, one object a line")
    shows = audit.format_usage().removeprefix("usage: ").rstrip()  # before the action: plain `zbmcp audit` takes none
    audit_actions = audit.add_subparsers(metavar="ACTION")
    verify = audit_actions.add_parser(
        "verify", help="Check the audit log's hash chain; name the first edited, removed or reordered record.",
        description="Check the audit log's hash chain (the configured file and its rotated siblings, or the FILES "
                    "given) and name the first edited, removed or reordered record. Exit status 1 if it is broken.")
    verify.set_defaults(run=_audit_verify)
    verify.add_argument("files", nargs="*", metavar="FILE", help="audit files to check instead (any order)")
    verify.add_argument("--anchor", metavar="SEQ:HASH", help="a head printed by an earlier verify, kept elsewhere: "
                                                              "proves the log still holds that record unchanged")
    verify.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
    verify.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    audit.usage = shows + "\n       " + verify.format_usage().removeprefix("usage: ").rstrip()
    return parser


CONFIG_HELP = "config file (default: $ZBMCP_CONFIG, then zbmcp.yaml in the user config dir)"
VERBOSE_HELP = "log more to stderr"
CONNECTION_HELP = "the connection, as named under connections: in the config"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1 to 65535 (0 picks a free one)")
    return port


def _invoice_count(text: str) -> int:
    if not text.isdigit() or int(text) > 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of invoices: use 0 to 100000")
    return int(text)


def _environ() -> dict[str, str]:
    return dict(os.environ)


def _load(args: argparse.Namespace) -> LoadedConfig:
    from zbmcp.cli.config_file import load_config

    return load_config(args.config, _environ())


def _serve(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.cli.serving import serve_config, serve_sandbox

    if args.oauth and not args.sandbox:
        raise ConfigError("--oauth goes with --sandbox; a real server lets people sign in through the config's "
                          "`oauth:` section (docs/connectors.md)")
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


MIN_KEY_LENGTH = 16


def _sandbox_key(args: argparse.Namespace) -> SandboxKey | None:
    from zbmcp.cli.serving import KEY_HOWTO, SandboxKey

    if not args.key_env:
        return None
    if args.transport == "stdio":
        raise ConfigError("--key-env is for the HTTP transports (--transport http, sse or both); over stdio the "
                          "client that starts the server is the only one who can talk to it")
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


def _tools(args: argparse.Namespace) -> int:
    from zbmcp.cli.listing import print_tools

    loaded = _load(args) if (args.agent or args.config) else None
    print_tools(loaded, args.agent, as_json=args.json)
    return 0


def _scopes(args: argparse.Namespace) -> int:
    from zbmcp.calls.catalog import load_manifests
    from zbmcp.core.policy import policies, unknown_agent

    loaded = _load(args)
    agent_policies = policies(loaded, load_manifests())
    if args.agent not in agent_policies:
        raise unknown_agent(args.agent, agent_policies)
    print(",".join(agent_policies[args.agent].scopes))
    return 0


def _connection_settings(loaded: LoadedConfig, name: str) -> Connection:
    if name not in loaded.config.connections:
        known = ", ".join(sorted(loaded.config.connections)) or "none is configured"
        raise ConfigError(f"no connection named {name!r} in {loaded.source.file} (connections: {known})")
    return loaded.config.connections[name]


def _with_connection(loaded: LoadedConfig, name: str, action: Callable[[TokenManager], Awaitable[T]]) -> T:
    """Run `action` on a connection's TokenManager, its stored token loaded from the configured State."""
    import anyio

    from zbmcp.calls.runtime import token_session

    _connection_settings(loaded, name)

    async def run() -> T:
        async with token_session(loaded) as managers:
            return await action(managers[name])

    return anyio.run(run)


def _auth_login(args: argparse.Namespace) -> int:
    import webbrowser

    from zbmcp.cli.login import browser_login
    from zbmcp.calls.catalog import load_manifests
    from zbmcp.core.policy import policies, unknown_agent

    loaded = _load(args)
    settings = _connection_settings(loaded, args.connection)
    if args.scopes:
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    else:
        agent_policies = policies(loaded, load_manifests())
        if args.agent and args.agent not in agent_policies:
            raise unknown_agent(args.agent, agent_policies)
        chosen = [args.agent] if args.agent else [n for n, a in loaded.config.agents.items()
                                                 if a.connection == args.connection]
        scopes = sorted({s for name in chosen for s in agent_policies[name].scopes})
    if not scopes:
        from zbmcp.errors import ConfigError

        raise ConfigError(f"no agent uses connection {args.connection!r}, so there are no scopes to ask for; "
                          "pass --agent NAME or --scopes ZohoBooks.invoices.READ,...")
    if settings.refresh_token is not None:
        log.warning("connection %s sets refresh_token in the config, which takes precedence over this login; "
                    "remove it from the config to use the new one", args.connection)

    def open_browser(url: str) -> None:
        print(f"Open this URL to let zbmcp reach Zoho Books (scopes: {','.join(scopes)}):\n\n  {url}\n",
              file=sys.stderr)
        if not args.no_browser:
            webbrowser.open(url)

    result = _with_connection(loaded, args.connection, lambda manager: browser_login(
        manager, region=args.region or settings.region, scopes=scopes, open_browser=open_browser, port=args.port,
        accounts_url=settings.accounts_url if not args.region else None,
    ))
    print(f"Connected {args.connection!r}: region {result.region or settings.region}, api {result.api_domain}, "
          f"scopes {', '.join(result.scopes) or 'as requested'}.", file=sys.stderr)
    return 0


def _auth_exchange(args: argparse.Namespace) -> int:
    from zbmcp.cli.login import exchange
    from zbmcp.core.regions import data_center

    loaded = _load(args)
    settings = _connection_settings(loaded, args.connection)
    server = data_center(args.region).accounts_url if args.region else (
        settings.accounts_url or data_center(settings.region).accounts_url)
    result = _with_connection(loaded, args.connection, lambda manager: exchange(manager, args.code, server))
    print(f"Connected {args.connection!r}: api {result.api_domain}, scopes {', '.join(result.scopes) or '?'}.",
          file=sys.stderr)
    return 0


def _auth_status(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.cli.doctor import format_status, status
    from zbmcp.calls.runtime import open_runtime

    loaded = _load(args)

    async def run() -> tuple[bool, str]:
        async with open_runtime(loaded) as runtime:
            entries = await status(runtime)
            return all(entry.problem is None for entry in entries), format_status(entries)

    healthy, text = anyio.run(run)
    print(text)
    return 0 if healthy else 1


def _auth_logout(args: argparse.Namespace) -> int:
    from zbmcp.cli.login import revoke

    loaded = _load(args)

    async def logout(manager: TokenManager) -> tuple[bool, bool]:
        had_token = bool(manager.stored_refresh_token())
        return had_token, await revoke(manager)

    had_token, revoked = _with_connection(loaded, args.connection, logout)
    if revoked or not had_token:
        print(f"Connection {args.connection!r}: " + ("refresh token revoked at Zoho and deleted locally."
              if revoked else "no refresh token was stored; nothing to revoke."), file=sys.stderr)
    else:
        print(f"Connection {args.connection!r}: deleted locally, but Zoho did not confirm the revocation, so the "
              "refresh token may still work: remove zbmcp from the connected apps of your Zoho account.",
              file=sys.stderr)
    if loaded.config.connections[args.connection].refresh_token is not None:
        print("The config still sets refresh_token for this connection; remove it.", file=sys.stderr)
        return 1
    return 0 if revoked or not had_token else 1


def _doctor(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.cli.doctor import doctor
    from zbmcp.calls.runtime import open_runtime

    loaded = _load(args)

    async def run() -> tuple[bool, list[str]]:
        async with open_runtime(loaded) as runtime:
            return await doctor(loaded, runtime)

    healthy, lines = anyio.run(run)
    print("\n".join(lines))
    return 0 if healthy else 1


def _agent_key(args: argparse.Namespace) -> int:
    from zbmcp.cli.keys import add_api_key

    path, key = add_api_key(args.config, args.name, _environ())
    print(key)
    print(f"zbmcp: added the hash of this key to agent {args.name!r} in {path}. The key is shown only now; "
          "give it to the agent as `Authorization: Bearer <key>`.", file=sys.stderr)
    return 0


def _oauth_enroll(args: argparse.Namespace) -> int:
    from zbmcp.oauth_server.admin import enrollment_link

    link = enrollment_link(_load(args), args.agent, email=args.email, hours=args.hours)
    print(link)
    only = f" by {args.email}" if args.email else ""
    print(f"zbmcp: send this link to the person; it can be used once{only}, within {args.hours:g} hours.",
          file=sys.stderr)
    return 0


def _operator_add(args: argparse.Namespace) -> int:
    from zbmcp.cli.operators import add_operator

    chosen = sys.stdin.readline().rstrip("\n") if args.secret_stdin else None
    path, secret = add_operator(args.config, args.name, _environ(), chosen)
    if chosen is None:
        print(secret)
    print(f"zbmcp: added operator {args.name!r} to {path} (only a hash of the secret is stored"
          + ("; the secret above is shown only now" if chosen is None else "") + "). Restart zbmcp to use it.",
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


def _access_compare(args: argparse.Namespace) -> int:
    from zbmcp.cli.config_file import compare_files
    from zbmcp.core.access import format_changes

    changes = compare_files(args.old, args.new)
    print(format_changes(changes), end="")
    return 0


def _console(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.console.serve import serve_console

    loaded = _load(args)
    anyio.run(serve_console, loaded, args.host, args.port)
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


def _audit(args: argparse.Namespace) -> int:
    from zbmcp.cli.audit_view import show_audit

    loaded = _load(args)
    show_audit(loaded, agent=args.agent, since=args.since, as_json=args.json, event=args.event)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from zbmcp.cli.audit_view import verify_audit

    loaded = _load(args) if (getattr(args, "config", None) or not args.files) else None  # files need no config
    return 0 if verify_audit(loaded, args.files, anchor=args.anchor) else 1


def _sandbox(args: argparse.Namespace) -> int:
    from zbmcp.listen import listen
    from zbmcp.sandbox.server import run_sandbox

    # bound first: a busy port is one line, before the banner
    run_sandbox(sock=listen(args.host, args.port), bulk_invoices=args.invoices)
    return 0

