"""`zbmcp auth status` and `zbmcp doctor`: what each connection can do, and what to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zbmcp.core.config import LoadedConfig
from zbmcp.errors import ZbmcpError
from zbmcp.cli.listing import no_tools_note
from zbmcp.cli.login import describe_token
from zbmcp.cli.unique_fields import unique_field_checks
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.policy import AgentPolicy, policies, scope_granted
from zbmcp.core.requests import ZohoRequest
from zbmcp.calls.demo import SANDBOX_SOURCE
from zbmcp.calls.runtime import Runtime


@dataclass
class ConnectionStatus:
    name: str
    region: str
    api_base_url: str
    token: dict[str, Any]
    organizations: list[dict[str, str]] = field(default_factory=list)
    problem: str | None = None


async def organizations_reached(runtime: Runtime, connection: str) -> list[dict[str, str]]:
    response = await runtime.client.send(
        connection, ZohoRequest("GET", "/organizations", (), scope="ZohoBooks.settings.READ"))
    rows = response.payload.get("organizations") or []
    return [{"organization_id": str(o.get("organization_id")), "name": str(o.get("name", ""))} for o in rows]


async def status(runtime: Runtime) -> list[ConnectionStatus]:
    result = []
    for name, connection in runtime.connections.items():
        organizations, problem = [], None
        try:  # first: it may refresh the token, whose answer names the API domain
            organizations = await organizations_reached(runtime, name)
        except ZbmcpError as exc:
            problem = str(exc)
        result.append(ConnectionStatus(name, connection.region, connection.api_base_url,
                                       describe_token(connection.tokens), organizations, problem))
    return result


def format_status(entries: list[ConnectionStatus]) -> str:
    lines = []
    for entry in entries:
        token = entry.token
        lines.append(f"connection {entry.name!r}  region {entry.region}  api {entry.api_base_url}")
        lines.append(f"  scopes granted: {', '.join(token['scopes']) if token['scopes'] else 'unknown'}")
        if token["access_token_valid"]:
            lines.append(f"  access token: valid for {token['access_token_seconds_left'] // 60} min")
        else:
            lines.append("  access token: none valid"
                         + ("" if token["has_refresh_token"] else " (no refresh token)"))
        if entry.organizations:
            names = ", ".join(f"{o['organization_id']} ({o['name']})" for o in entry.organizations)
            lines.append(f"  organizations reached: {names}")
        if entry.problem:
            lines.append(f"  problem: {entry.problem}")
    return "\n".join(lines)


async def doctor(loaded: LoadedConfig, runtime: Runtime) -> tuple[bool, list[str]]:
    """Every check with a mark and, when it fails, the fix. Returns (all good, lines)."""
    counts = f"{len(loaded.config.connections)} connection(s), {len(loaded.config.agents)} agent(s)"
    if loaded.source.file == SANDBOX_SOURCE:
        lines = [f"ok   config: the embedded sandbox's, as `zbmcp serve --sandbox` runs it: {counts}"]
    else:
        lines = [f"ok   config {loaded.source.file} (revision {loaded.revision}): {counts}"]
    healthy = True
    audit_problem = runtime.audit.problem()
    if loaded.audit_path is None:
        lines.append("ok   audit log: no audit.path, so the records go to stderr (unchained)")
    elif audit_problem is None:
        lines.append(f"ok   audit log {loaded.audit_path}: writable")
    else:
        healthy = False
        lines.append(f"FAIL audit log {loaded.audit_path}: {audit_problem}. Every call is refused until it "
                     "can be written: fix the file or folder, or point audit.path elsewhere")
    needs = policies(loaded, load_manifests())  # what each agent needs, whatever was granted
    for agent_name, agent_policy in needs.items():
        if not agent_policy.visible:
            lines.append(f"WARN {no_tools_note(loaded, agent_name)}")
        settings = loaded.config.agents[agent_name]
        if settings.approval == "client" and settings.api_keys and agent_policy.may_ask_approval:
            lines.append(f"WARN {self_approval_note(agent_name, agent_policy)}")
    for name, connection in runtime.connections.items():
        try:
            await connection.tokens.access_token()
            left = connection.tokens.seconds_left() or 0
            lines.append(f"ok   connection {name!r}: access token valid for {int(left) // 60} min")
        except ZbmcpError as exc:
            healthy = False
            lines.append(f"FAIL connection {name!r}: {exc}")
            continue
        granted = connection.tokens.granted_scopes
        for agent_name, agent in loaded.config.agents.items():
            if agent.connection != name:
                continue
            if granted is not None:
                granted_set = {s.lower() for s in granted}
                missing = [s for s in needs[agent_name].scopes if not scope_granted(s, granted_set)]
                if missing:
                    healthy = False
                    lines.append(f"FAIL agent {agent_name!r} needs scopes not granted to {name!r}: "
                                 f"{', '.join(missing)}. Fix: zbmcp auth login --connection {name} "
                                 f"--agent {agent_name}")
                else:
                    lines.append(f"ok   agent {agent_name!r}: every scope it needs is granted")
        try:
            reached = {o["organization_id"] for o in await organizations_reached(runtime, name)}
        except ZbmcpError as exc:
            healthy = False
            lines.append(f"FAIL connection {name!r} cannot list its organizations: {exc}")
            continue
        for agent_name, agent in loaded.config.agents.items():
            if agent.connection != name:
                continue
            unreachable = [o for o in agent.organizations if o not in reached]
            if unreachable:
                healthy = False
                lines.append(f"FAIL agent {agent_name!r}: organization(s) {', '.join(unreachable)} not "
                             f"reachable with connection {name!r} (it reaches "
                             f"{', '.join(sorted(reached)) or 'none'}). Fix the organizations list, or log "
                             "in as a Zoho user of that organization.")
            else:
                lines.append(f"ok   agent {agent_name!r}: organizations {', '.join(agent.organizations)} "
                             "reachable")
        fields_healthy, field_lines = await unique_field_checks(loaded, runtime, name, reached)
        healthy = healthy and fields_healthy
        lines += field_lines
        for hook_name, hook in loaded.config.hooks.items():
            if hook.connection == name and hook.organization not in reached:
                healthy = False
                lines.append(f"FAIL hook {hook_name!r}: organization {hook.organization} is not reachable "
                             f"with connection {name!r}")
    if loaded.config.hooks:
        from zbmcp.cli.hook_checks import hook_checks

        hooks_healthy, hook_lines = await hook_checks(loaded, runtime)
        healthy = healthy and hooks_healthy
        lines += hook_lines
    return healthy, lines


def self_approval_note(agent: str, agent_policy: AgentPolicy) -> str:
    """An agent that connects with an API key is its own MCP client: with `approval: client` it is asked, and
    answers, its own approval questions (docs/console.md)."""
    asks = [f"require_approval: {', '.join(sorted(agent_policy.needs_approval))}"] \
        if agent_policy.needs_approval else []
    asks += [f"rule {rule.label}" for rule in agent_policy.rules if rule.kind == "approve"]
    return (f"agent {agent!r} has API keys and `approval: client`: over HTTP the agent's own MCP client "
            f"answers the approval questions ({'; '.join(asks)}), so the agent approves its own calls. "
            "Remove `approval: client` to have an operator decide in the console, unless a person's own "
            "client sits between the agent and zbmcp.")
