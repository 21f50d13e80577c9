"""What `zbmcp hooks list` shows of each hook, and what `zbmcp doctor` checks of it: where Zoho must send,
whether Zoho can reach it and the connection its organization, who can read its events, and the settings
that would let a retry or a forger through."""

from __future__ import annotations

from urllib.parse import urlsplit

from zbmcp.calls.catalog import load_manifests
from zbmcp.calls.events import readable_hooks
from zbmcp.calls.runtime import Runtime
from zbmcp.cli.hooks import hook_url
from zbmcp.core.config import LoadedConfig
from zbmcp.core.policy import policies
from zbmcp.core.requests import ZohoRequest
from zbmcp.errors import ZbmcpError
from zbmcp.state import StateUnavailable, open_state
from zbmcp.state.hook_events import events_log, refusals_log

MIN_KEEP_HOURS = 24.0  # below it, a retry of Zoho's could come after zbmcp forgot the delivery


async def hook_rows(loaded: LoadedConfig) -> list[str]:
    config = loaded.config
    rows = []
    state = open_state(config.state, loaded.home)
    try:
        for name, hook in config.hooks.items():
            url = hook_url(config, name) or f"<this server>/hooks/{name}"
            rows.append(f"{name}: {url}  organization {hook.organization}  module {hook.module}  "
                        f"verify {hook.verify}"
                        + (f"  Zoho webhook {hook.zoho_webhook_id}" if hook.zoho_webhook_id else ""))
            try:
                events = await state.read_log(events_log(name), limit=hook.max_events)
                refused = await state.read_log(refusals_log(name), limit=1000)
                rows.append(f"  {len(events)} event(s) kept, {len(refused)} refused delivery(ies) noted")
            except StateUnavailable as exc:
                rows.append(f"  events: unknown ({exc})")
    finally:
        await state.aclose()
    return rows


async def hook_checks(loaded: LoadedConfig, runtime: Runtime) -> tuple[bool, list[str]]:
    config = loaded.config
    healthy, lines = True, []
    needs = policies(loaded, load_manifests())
    for name, hook in config.hooks.items():
        url = hook_url(config, name)
        where = f"hook {name!r}"
        if url is None:
            lines.append(f"WARN {where}: zbmcp does not know its public address, so it cannot say which URL "
                         "Zoho must call; set console.public_url (or oauth.issuer) to the https address Zoho "
                         "reaches this server at")
        elif urlsplit(url).scheme != "https":
            lines.append(f"WARN {where}: {url} is not https; Zoho's deliveries (and a token) would cross the "
                         "network in clear: serve it behind TLS")
        else:
            lines.append(f"ok   {where}: Zoho calls {url}")
        if hook.verify == "token":
            lines.append(f"WARN {where}: verify token sends the secret with every delivery; prefer "
                         "signature (or either) where Zoho signs")
        if hook.keep_hours < MIN_KEEP_HOURS:
            lines.append(f"WARN {where}: keep_hours {hook.keep_hours:g} is under {MIN_KEEP_HOURS:g}: a "
                         "delivery Zoho retries later than that would be taken twice")
        readers = [agent for agent, policy in runtime.policies.items()
                   if name in readable_hooks(runtime, policy)]
        wanted = [agent for agent, policy in needs.items() if name in readable_hooks(runtime, policy)]
        if readers:
            lines.append(f"ok   {where}: agents that read its events: {', '.join(sorted(readers))}")
        else:
            lines.append(f"WARN {where}: no agent may read its events (none has a {hook.module} read tool "
                         f"for organization {hook.organization} on connection {hook.connection!r})"
                         + (f"; {', '.join(wanted)} would, once the scope is granted" if wanted else ""))
        if hook.zoho_webhook_id:
            ok, said = await _registered(runtime, hook.connection, hook.organization, hook.zoho_webhook_id,
                                         url)
            healthy = healthy and ok
            lines.append(f"{'ok  ' if ok else 'FAIL'} {where}: {said}")
    return healthy, lines


async def _registered(runtime: Runtime, connection: str, organization: str, webhook_id: str,
                      url: str | None) -> tuple[bool, str]:
    try:
        answer = await runtime.client.send(connection, ZohoRequest(
            "GET", f"/settings/webhooks/{webhook_id}", (("organization_id", organization),),
            organization_id=organization, scope="ZohoBooks.settings.READ"))
    except ZbmcpError as exc:
        return False, f"Zoho webhook {webhook_id} could not be read ({exc}); register it again with " \
                      "`zbmcp hooks remove` and `zbmcp hooks add`"
    webhook = answer.payload.get("webhook")
    registered = webhook.get("url") if isinstance(webhook, dict) else None
    if url is not None and registered != url:
        return False, f"Zoho webhook {webhook_id} calls {registered}, not {url}: fix its URL in Zoho"
    return True, f"Zoho webhook {webhook_id} is registered"
