"""`zbmcp hooks add/list/remove`: a webhook of Zoho Books that zbmcp receives, set up in one command.

`add` makes the hook's secret, registers the webhook at Zoho (POST /settings/webhooks) when the connection
was granted ZohoBooks.settings.CREATE and zbmcp knows its public address, and writes the hook into the config
(as text: comments and layout are kept, and the file is replaced only by a config that loads). What is left
to do in Zoho, or all of it when zbmcp could not register, is printed as steps.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zbmcp.calls.runtime import Runtime
from zbmcp.cli.config_file import UnsetAsPlaceholders, default_config_path
from zbmcp.cli.keys import rewrite_config
from zbmcp.core.config import Config
from zbmcp.core.config_hooks import HOOK_NAME, MODULES, Hook
from zbmcp.core.policy import scope_granted
from zbmcp.core.requests import ZohoRequest
from zbmcp.core.yamlsource import load_yaml
from zbmcp.errors import ConfigError, ZbmcpError
from zbmcp.zoho.client import ZohoConnection

SECRET_LENGTH = 32
REGISTER_SCOPE = "ZohoBooks.settings.CREATE"
DELETE_SCOPE = "ZohoBooks.settings.DELETE"


def new_hook_secret() -> str:
    """Letters and digits only: Zoho takes 12 to 50 of them as a webhook secret."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(SECRET_LENGTH))


def public_base(config: Config, given: str | None = None) -> str | None:
    """Where Zoho reaches this server: --url, else the OAuth issuer, else the console's public_url."""
    base = given or (config.oauth.issuer if config.oauth else None) or config.console.public_url
    return base.rstrip("/") if base else None


def hook_url(config: Config, name: str, given: str | None = None) -> str | None:
    """The URL Zoho calls: --url's, else the one written for the hook, else the server's public address's."""
    hook = config.hooks.get(name)
    if given is None and hook is not None and hook.url:
        return hook.url
    base = public_base(config, given)
    return f"{base}/hooks/{name}" if base else None


@dataclass
class Setup:
    name: str
    url: str | None
    secret: str
    registered: str | None = None  # the webhook_id Zoho gave
    not_registered: str = ""  # why not
    steps: list[str] = field(default_factory=list)


async def register(runtime: Runtime, name: str, hook: Hook, secret: str, url: str | None,
                   event: str | None) -> tuple[str | None, str]:
    """(the webhook_id at Zoho, "") or (None, why it was not registered)."""
    if url is None:
        return None, "zbmcp does not know its public address (give --url, or set console.public_url)"
    connection = runtime.connections[hook.connection]
    granted = await _granted(connection)
    if granted is None or not scope_granted(REGISTER_SCOPE, granted):
        return None, f"connection {hook.connection!r} was not granted {REGISTER_SCOPE}"
    body: dict[str, Any] = {"entity": MODULES[hook.module].payload_key, "webhook_name": f"zbmcp {name}"[:50],
                            "description": "zbmcp: events for AI agents", "method": "POST", "url": url,
                            "secret": secret}
    if event:
        body["additional_parameters"] = [{"param_name": "event", "param_value": event}]
    try:
        answer = await runtime.client.send(connection, ZohoRequest(
            "POST", "/settings/webhooks", (("organization_id", hook.organization),), body=body,
            organization_id=hook.organization, scope=REGISTER_SCOPE))
    except ZbmcpError as exc:
        return None, f"Zoho refused it: {exc}"
    webhook = answer.payload.get("webhook")
    webhook_id = webhook.get("webhook_id") if isinstance(webhook, dict) else None
    return (str(webhook_id), "") if webhook_id else (None, "Zoho's answer named no webhook_id")


async def unregister(runtime: Runtime, hook: Hook) -> str:
    """Delete the hook's webhook at Zoho; what happened, in a sentence."""
    if not hook.zoho_webhook_id:
        return "it was not registered by zbmcp: delete its webhook in Zoho (Settings > Workflow Actions)"
    connection = runtime.connections[hook.connection]
    granted = await _granted(connection)
    if granted is None or not scope_granted(DELETE_SCOPE, granted):
        return (f"connection {hook.connection!r} was not granted {DELETE_SCOPE}: delete webhook "
                f"{hook.zoho_webhook_id} in Zoho (Settings > Workflow Actions > Webhooks)")
    try:
        await runtime.client.send(connection, ZohoRequest(
            "DELETE", f"/settings/webhooks/{hook.zoho_webhook_id}", (("organization_id", hook.organization),),
            organization_id=hook.organization, scope=DELETE_SCOPE))
    except ZbmcpError as exc:
        return f"Zoho did not delete webhook {hook.zoho_webhook_id} ({exc}); delete it in Zoho"
    return f"its webhook {hook.zoho_webhook_id} was deleted at Zoho"


async def _granted(connection: ZohoConnection) -> set[str] | None:
    """The scopes the connection's token was granted (a token is fetched first if none is held)."""
    try:
        await connection.tokens.access_token()
    except ZbmcpError:
        return None
    granted = connection.tokens.granted_scopes
    return {scope.lower() for scope in granted} if granted is not None else None


def steps(setup: Setup, hook: Hook) -> list[str]:
    module = hook.module
    url = setup.url or f"https://<this server's public address>/hooks/{setup.name}"
    done: list[str] = []
    if setup.registered is None:
        done += [
            f"In Zoho Books (organization {hook.organization}): Settings > Automation > Workflow Actions > "
            f"Webhooks > + New Webhook, module {module}: URL {url}, method POST, Default Payload.",
            "  If the form has a secret field, give it the secret above; else add a header X-Zbmcp-Token "
            "with the secret as its value (then `verify: token` or `either`, the default).",
        ]
    name = f"zbmcp {setup.name}" if setup.registered else "that webhook"
    done.append(f"Settings > Automation > Workflow Rules > + New Rule, module {module}, when the events you "
                f"want happen (a record created, say): Immediate Action > Webhook > {name}.")
    return done


def add_hook_entry(path: Path, name: str, entry: Mapping[str, str], environ: Mapping[str, str]) -> None:
    if not HOOK_NAME.match(name):
        raise ConfigError(f"hook name {name!r}: use 1-40 of a-z, 0-9 and '-', starting with a letter (it is "
                          "part of the hook's URL)")
    offline = UnsetAsPlaceholders(environ)
    rewrite_config(path, lambda text: _with_hook(text, str(path), name, entry, offline), offline)


def remove_hook_entry(path: Path, name: str, environ: Mapping[str, str]) -> None:
    offline = UnsetAsPlaceholders(environ)
    rewrite_config(path, lambda text: _without_hook(text, str(path), name, offline), offline)


def config_path(given: Path | None, environ: Mapping[str, str]) -> Path:
    path = given or default_config_path(environ)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}; pass --config PATH")
    return path


def _with_hook(text: str, file: str, name: str, entry: Mapping[str, str], environ: Mapping[str, str]) -> str:
    raw, source = load_yaml(text, file, environ)
    hooks = raw.get("hooks") if isinstance(raw, dict) else None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if isinstance(hooks, dict) and name in hooks:
        raise ConfigError(f"hook {name!r} exists; remove it first (zbmcp hooks remove {name})", file=file,
                          line=source.lines[("hooks", name)])
    if hooks and not isinstance(hooks, dict):
        raise ConfigError("hooks must be a mapping of names to hooks", file=file,
                          line=source.line_of(("hooks",)))
    indent = "  "
    if hooks:
        first_line = source.lines[("hooks", next(iter(hooks)))] - 1
        if first_line == source.lines[("hooks",)] - 1:
            raise ConfigError("write hooks in block style (one name per line) so zbmcp can add one",
                              file=file, line=first_line + 1)
        indent = lines[first_line][: len(lines[first_line]) - len(lines[first_line].lstrip())]
    block = [f"{indent}{name}:\n"] + [f"{indent}  {key}: {value}\n" for key, value in entry.items()]
    if not hooks:
        if "hooks" in (raw or {}):  # `hooks:` or `hooks: {}` with nothing in it
            lines[source.lines[("hooks",)] - 1] = "hooks:\n"
            at = source.lines[("hooks",)]
            return "".join(lines[:at] + block + lines[at:])
        return "".join(lines) + "hooks:\n" + "".join(block)
    last = list(hooks)[-1]
    end = _end_of(source.lines, ("hooks", last), len(lines))
    return "".join(lines[:end] + block + lines[end:])


def _without_hook(text: str, file: str, name: str, environ: Mapping[str, str]) -> str:
    raw, source = load_yaml(text, file, environ)
    hooks = raw.get("hooks") if isinstance(raw, dict) else None
    if not isinstance(hooks, dict) or name not in hooks:
        raise ConfigError(f"no hook named {name!r} (hooks: {', '.join(hooks or {}) or 'none'})", file=file)
    lines = text.splitlines(keepends=True)
    start = source.lines[("hooks", name)] - 1
    end = _end_of(source.lines, ("hooks", name), len(lines))
    if len(hooks) == 1:  # the section goes with its last hook
        start, end = source.lines[("hooks",)] - 1, _end_of(source.lines, ("hooks",), len(lines))
    return "".join(lines[:start] + lines[end:])


def _end_of(lines_of: Mapping[tuple[Any, ...], int], path: tuple[str, ...], total: int) -> int:
    """The index of the first line after the entry at `path`: the next line that belongs to none of it."""
    start = lines_of[path]
    inside = [line for key, line in lines_of.items() if key[: len(path)] == path]
    after = [line for key, line in lines_of.items() if line > start and key[: len(path)] != path
             and len(key) <= len(path)]
    last = max(inside)
    return min([line - 1 for line in after if line > last] or [total])
