"""The commands that connect zbmcp to Zoho: `auth login`, `auth exchange`, `auth status`, `auth logout`, and
`doctor`, which checks everything a connection needs."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from zbmcp.cli.commands import _load, add_command, add_group, port_number
from zbmcp.errors import ConfigError

if TYPE_CHECKING:
    from zbmcp.cli.commands import Commands
    from zbmcp.core.config import Connection, LoadedConfig
    from zbmcp.zoho.token_manager import TokenManager

T = TypeVar("T")

log = logging.getLogger("zbmcp")

CONNECTION_HELP = "the connection, as named under connections: in the config"


def add_auth(commands: Commands) -> None:
    action = functools.partial(add_command, add_group(
        commands, "auth", "Connect a Zoho account: login, exchange, status, logout."))
    login = action("login", "Log in through the browser and store the tokens.", _auth_login)
    login.add_argument("--connection", required=True, help=CONNECTION_HELP)
    login.add_argument("--region", help="Zoho data center to log in to (default: the connection's)")
    who = login.add_mutually_exclusive_group()
    who.add_argument("--agent", help="request exactly the scopes this agent needs")
    who.add_argument("--scopes", help="comma-separated scopes to request")
    login.add_argument("--port", type=port_number, default=8976,
                       help="loopback port of the redirect URI (default 8976: register "
                            "http://127.0.0.1:8976/callback)")
    login.add_argument("--no-browser", action="store_true",
                       help="print the consent URL instead of opening it")

    exchange = action("exchange", "Exchange a Self Client grant code (headless servers).", _auth_exchange)
    exchange.add_argument("--connection", required=True, help=CONNECTION_HELP)
    exchange.add_argument("--code", required=True,
                          help="the grant code the Self Client generated (1000.xxxx.yyyy)")
    exchange.add_argument("--region", help="the data center whose API console made the code")

    action("status", "Each connection: region, scopes, token validity, organizations reached.", _auth_status)
    logout = action("logout", "Revoke a connection's refresh token at Zoho and delete it locally.",
                    _auth_logout)
    logout.add_argument("--connection", required=True, help=CONNECTION_HELP)


def add_doctor(commands: Commands) -> None:
    doctor = add_command(commands, "doctor",
                         "Check the config, tokens, scopes and organizations; print what to fix.", _doctor)
    doctor.add_argument("--sandbox", action="store_true",
                        help="check the embedded sandbox as `zbmcp serve --sandbox` runs it (no config)")


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


def _login_scopes(args: argparse.Namespace, loaded: LoadedConfig) -> list[str]:
    """The scopes given, or those the agent (or every agent on the connection) needs."""
    from zbmcp.calls.catalog import load_manifests
    from zbmcp.cli.unique_fields import agent_scopes
    from zbmcp.core.policy import policies, unknown_agent

    if args.scopes:
        return [s.strip() for s in args.scopes.split(",") if s.strip()]
    agent_policies = policies(loaded, load_manifests())
    if args.agent and args.agent not in agent_policies:
        raise unknown_agent(args.agent, agent_policies)
    chosen = [args.agent] if args.agent else [n for n, a in loaded.config.agents.items()
                                             if a.connection == args.connection]
    return sorted({s for name in chosen for s in agent_scopes(loaded, name, agent_policies[name])})


def _auth_login(args: argparse.Namespace) -> int:
    import webbrowser

    from zbmcp.cli.login import browser_login

    loaded = _load(args)
    settings = _connection_settings(loaded, args.connection)
    scopes = _login_scopes(args, loaded)
    if not scopes:
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
        manager, region=args.region or settings.region, scopes=scopes, open_browser=open_browser,
        port=args.port, accounts_url=settings.accounts_url if not args.region else None,
    ))
    print(f"Connected {args.connection!r}: region {result.region or settings.region}, "
          f"api {result.api_domain}, scopes {', '.join(result.scopes) or 'as requested'}.", file=sys.stderr)
    return 0


def _auth_exchange(args: argparse.Namespace) -> int:
    from zbmcp.cli.login import exchange
    from zbmcp.core.regions import data_center

    loaded = _load(args)
    settings = _connection_settings(loaded, args.connection)
    server = data_center(args.region).accounts_url if args.region else (
        settings.accounts_url or data_center(settings.region).accounts_url)
    result = _with_connection(loaded, args.connection, lambda manager: exchange(manager, args.code, server))
    scopes = ", ".join(result.scopes) or "?"
    print(f"Connected {args.connection!r}: api {result.api_domain}, scopes {scopes}.", file=sys.stderr)
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
        print(f"Connection {args.connection!r}: deleted locally, but Zoho did not confirm the revocation, so "
              "the refresh token may still work: remove zbmcp from the connected apps of your Zoho account.",
              file=sys.stderr)
    if loaded.config.connections[args.connection].refresh_token is not None:
        print("The config still sets refresh_token for this connection; remove it.", file=sys.stderr)
        return 1
    return 0 if revoked or not had_token else 1


def _doctor(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.cli.doctor import doctor
    from zbmcp.calls.runtime import open_runtime

    if args.sandbox:
        if args.config is not None:
            raise ConfigError("--sandbox checks the embedded sandbox's built-in config; leave out --config, "
                              "or leave out --sandbox to check that file")
        from zbmcp.cli.serving import sandbox_runtime

        async def run() -> tuple[bool, list[str]]:
            async with sandbox_runtime() as runtime:
                return await doctor(runtime.config, runtime)
    else:
        loaded = _load(args)

        async def run() -> tuple[bool, list[str]]:
            async with open_runtime(loaded) as runtime:
                return await doctor(loaded, runtime)

    healthy, lines = anyio.run(run)
    print("\n".join(lines))
    return 0 if healthy else 1
