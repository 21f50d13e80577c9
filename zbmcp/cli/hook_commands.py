"""`zbmcp hooks add/list/remove` (docs/webhooks.md)."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import TYPE_CHECKING

from zbmcp.cli.commands import _environ, _load, add_command, add_group

if TYPE_CHECKING:
    from zbmcp.cli.commands import Commands

MODULE_NAMES = ("invoices", "customerpayments", "bills", "banktransactions", "contacts", "estimates",
                "salesorders", "purchaseorders", "expenses", "vendorpayments", "creditnotes", "items")


def add_hooks(commands: Commands) -> None:
    action = functools.partial(add_command, add_group(
        commands, "hooks", "Zoho Books webhooks that zbmcp receives, for agents to read as events."))
    add = action("add", "Add a hook: make its secret, register it at Zoho if the connection may, print the "
                 "rest to do in Zoho.", _add)
    add.add_argument("name", help="the hook's name, part of its URL: /hooks/NAME")
    add.add_argument("--organization", required=True, help="the Zoho organization id the events come from")
    add.add_argument("--module", required=True, choices=MODULE_NAMES, help="what the events are about")
    add.add_argument("--connection", help="the connection of that organization (default: the only one)")
    add.add_argument("--url", help="this server's public address, as Zoho reaches it (default: the OAuth "
                                   "issuer or console.public_url)")
    add.add_argument("--verify", choices=("either", "signature", "token"), default="either",
                     help="what a delivery must carry (default: either)")
    add.add_argument("--event", help="a name for the event, sent by Zoho as ?event=NAME (e.g. created)")
    add.add_argument("--secret-env", metavar="VAR",
                     help="write ${VAR} in the config instead of the secret (then export VAR)")
    add.add_argument("--no-register", action="store_true", help="do not register the webhook at Zoho")
    action("list", "List the hooks, their URLs and how many events each keeps.", _list)
    remove = action("remove", "Remove a hook from the config, and its webhook at Zoho if zbmcp registered "
                    "it.", _remove)
    remove.add_argument("name", help="the hook to remove")


def _add(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.calls.runtime import open_runtime
    from zbmcp.cli.hooks import Setup, add_hook_entry, config_path, hook_url, new_hook_secret, register, steps
    from zbmcp.core.config_hooks import Hook
    from zbmcp.errors import ConfigError

    environ = _environ()
    path = config_path(args.config, environ)
    loaded = _load(args, offline=args.no_register)
    connections = list(loaded.config.connections)
    connection = args.connection or (connections[0] if len(connections) == 1 else None)
    if connection not in loaded.config.connections:
        raise ConfigError(f"--connection: name one of {', '.join(connections) or '(none configured)'}")
    secret = new_hook_secret()
    hook = Hook.model_validate({"connection": connection, "organization": args.organization,
                                "module": args.module, "secret": secret, "verify": args.verify})
    setup = Setup(args.name, hook_url(loaded.config, args.name, args.url), secret)
    if args.no_register:
        setup.not_registered = "--no-register"
    else:
        async def run() -> tuple[str | None, str]:
            async with open_runtime(loaded) as runtime:
                return await register(runtime, args.name, hook, secret, setup.url, args.event)

        setup.registered, setup.not_registered = anyio.run(run)
    entry = {"connection": connection, "organization": f'"{args.organization}"', "module": args.module,
             "secret": f"${{{args.secret_env}}}" if args.secret_env else f'"{secret}"'}
    if args.verify != "either":
        entry["verify"] = args.verify
    if args.url and setup.url != hook_url(loaded.config, args.name):  # remembered, for list and doctor
        entry["url"] = f'"{setup.url}"'
    if setup.registered:
        entry["zoho_webhook_id"] = f'"{setup.registered}"'
    add_hook_entry(path, args.name, entry, environ)
    print(f"hook {args.name!r}: {setup.url or '<this server>/hooks/' + args.name}")
    print(f"secret: {secret}")
    if args.secret_env:
        print(f"export {args.secret_env}={secret}")
    if setup.registered:
        print(f"registered at Zoho as webhook {setup.registered}")
    else:
        print(f"not registered at Zoho: {setup.not_registered}")
    print("To do in Zoho:")
    for line in steps(setup, hook):
        print(f"  {line}")
    print(f"zbmcp: added hook {args.name!r} to {path}; the secret is shown only now. Restart zbmcp to use "
          "it.", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.cli.hook_checks import hook_rows

    loaded = _load(args, offline=True)
    if not loaded.config.hooks:
        print("no hooks (add one with `zbmcp hooks add NAME --organization ID --module MODULE`)")
        return 0
    for row in anyio.run(hook_rows, loaded):
        print(row)
    return 0


def _remove(args: argparse.Namespace) -> int:
    import anyio

    from zbmcp.calls.runtime import open_runtime
    from zbmcp.cli.hooks import config_path, remove_hook_entry, unregister
    from zbmcp.errors import ConfigError

    environ = _environ()
    path = config_path(args.config, environ)
    loaded = _load(args, offline=True)
    hook = loaded.config.hooks.get(args.name)
    if hook is None:
        raise ConfigError(f"no hook named {args.name!r} (hooks: {', '.join(loaded.config.hooks) or 'none'})")

    async def run() -> str:
        async with open_runtime(loaded) as runtime:
            return await unregister(runtime, hook)

    if hook.zoho_webhook_id:
        loaded = _load(args)  # Zoho is called: the connection's secrets are needed now
    said = anyio.run(run) if hook.zoho_webhook_id else "it was not registered by zbmcp: delete its webhook " \
        "in Zoho (Settings > Automation > Workflow Actions > Webhooks) if there is one"
    remove_hook_entry(path, args.name, environ)
    print(f"removed hook {args.name!r} from {path}; {said}")
    return 0
