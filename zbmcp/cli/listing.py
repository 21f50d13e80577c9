"""`zbmcp tools`: the tools as a table (or JSON); for one agent, what it sees and why the rest is hidden."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from zbmcp.core.config import LoadedConfig
from zbmcp.core.manifest import ToolSpec
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.policy import policies, unknown_agent
from zbmcp.core.yamlsource import ENV_REFERENCE


def tool_rows(loaded: LoadedConfig | None, agent: str | None,
              specs: Mapping[str, ToolSpec] | None = None) -> list[dict[str, Any]]:
    specs = load_manifests() if specs is None else specs
    rows: list[dict[str, Any]] = []
    hidden: dict[str, str] = {}
    if agent is not None:
        assert loaded is not None
        granted = _granted_scopes(loaded)
        agent_policies = policies(loaded, specs, granted)
        if agent not in agent_policies:
            raise unknown_agent(agent, agent_policies)
        hidden = {name: h.rule for name, h in agent_policies[agent].hidden.items()}
    for spec in specs.values():
        row: dict[str, Any] = {
            "name": spec.name, "module": spec.module, "access": spec.access, "scope": spec.scope,
            "method": spec.method, "path": spec.path,
        }
        if agent is not None:
            row["visible"] = spec.name not in hidden
            if spec.name in hidden:
                row["hidden_because"] = hidden[spec.name]
        rows.append(row)
    return rows


def _granted_scopes(loaded: LoadedConfig) -> dict[str, list[str] | None]:
    import asyncio
    import threading

    import anyio

    from zbmcp.calls.runtime import token_session

    state = loaded.config.state
    settings = [secret.get_secret_value() for secret in (state.url, state.encryption_key) if secret]
    unset = [match.group(1) for match in map(ENV_REFERENCE.fullmatch, settings) if match]
    if unset:  # the config was read without them (a command that contacts nothing)
        print(f"zbmcp: {' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set, so the scopes "
              "granted (kept in the State) were not read: this shows what the config selects.",
              file=sys.stderr)
        return {}

    async def read() -> dict[str, list[str] | None]:
        async with token_session(loaded) as managers:  # the stored tokens may be in Redis
            return {name: manager.granted_scopes for name, manager in managers.items()}

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(read)
    # Called from code that runs an event loop already (a test, an embedding app): read on a thread of its
    # own.
    found: dict[str, list[str] | None] = {}
    reader = threading.Thread(target=lambda: found.update(anyio.run(read)), name="zbmcp-scopes")
    reader.start()
    reader.join()
    return found


def print_tools(loaded: LoadedConfig | None, agent: str | None, *, as_json: bool,
                out: TextIO = sys.stdout, specs: Mapping[str, ToolSpec] | None = None) -> None:
    """The tools grouped by module (one line each); for an agent, the hidden ones grouped by the rule that
    hides them, a module named whole when the rule hides all of it, so 500 rows stay readable."""
    rows = tool_rows(loaded, agent, specs)
    if as_json:
        out.write(json.dumps(rows, indent=2) + "\n")
        return
    shown = [r for r in rows if r.get("visible", True)]
    if agent is not None:
        out.write(f"Agent {agent!r} sees {len(shown)} of {len(rows)} tools.\n\n")
        assert loaded is not None
        if not shown:
            out.write(no_tools_note(loaded, agent) + "\n\n")
    if shown:
        width = max(len(r["name"]) for r in shown)
        scope_width = max(len(r["scope"]) for r in shown)
        for module, group in _by_module(shown).items():
            out.write(f"{module} ({_count(group)})\n")
            for row in group:
                out.write(f"  {row['name']:<{width}}  {row['access']:<5}  {row['scope']:<{scope_width}}  "
                          f"{row['method']} {row['path']}\n")
    hidden = [r for r in rows if not r.get("visible", True)]
    if hidden:
        out.write("\nHidden:\n")
        modules = _by_module(rows)
        by_rule: dict[str, list[dict[str, Any]]] = {}
        for row in hidden:
            by_rule.setdefault(row["hidden_because"], []).append(row)
        for rule, group in by_rule.items():
            parts = []
            for module, members in _by_module(group).items():
                whole = len(members) == len(modules[module])
                parts.append(f"{module} ({_count(members)})" if whole and len(members) > 1
                             else ", ".join(r["name"] for r in members))
            out.write(f"  {rule}: {'; '.join(parts)}\n")


def _by_module(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["module"]):
        grouped.setdefault(row["module"], []).append(row)
    return grouped


def _count(rows: list[dict[str, Any]]) -> str:
    return f"{len(rows)} tool{'s' if len(rows) != 1 else ''}"


def no_tools_note(loaded: LoadedConfig, agent: str) -> str:
    """Why an agent sees nothing, and the fix (`tools: []` is allowed, for an agent kept for later)."""
    if not loaded.config.agents[agent].tools:
        return (f"Agent {agent!r} has an empty `tools` list, so it can call nothing (everything is denied "
                "unless selected). Add selectors to `tools`, e.g. [\"*:read\"], to let it work.")
    return (f"Agent {agent!r} can call nothing: every tool its `tools` selects is hidden (see why below).")
