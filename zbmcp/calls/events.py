"""Webhook events as agents read them, within their grant: the `list_webhook_events` tool.

An agent sees a hook's events only if the hook is on the agent's own connection, for one of its
organizations, and about a module it may read: one of its visible tools has that module's READ scope
(core.config_hooks.MODULES). The tool is listed only to agents that can see at least one hook, so every other
agent's tools/list costs nothing more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from mcp import types

from zbmcp.audit.log import AuditRecord, now_iso, recorded_names, shorten
from zbmcp.calls.runtime import Runtime
from zbmcp.core.config_hooks import MODULES, Hook
from zbmcp.core.policy import AgentPolicy
from zbmcp.errors import AuditUnavailable
from zbmcp.state import StateUnavailable
from zbmcp.state.hook_events import Cursor, events_after

TOOL_NAME = "list_webhook_events"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
SHOWN = ("hook", "organization_id", "module", "event", "record_id", "received_at", "method")


def readable_hooks(runtime: Runtime, policy: AgentPolicy) -> dict[str, Hook]:
    """The hooks whose events this agent may read."""
    connection = runtime.connection_of(policy.agent).name
    scopes = {spec.scope for spec in policy.visible.values() if spec.read_only}
    return {name: hook for name, hook in runtime.config.config.hooks.items()
            if hook.connection == connection and hook.organization in policy.organizations
            and MODULES[hook.module].read_scope in scopes}


def events_tool(hooks: Mapping[str, Hook]) -> types.Tool:
    organizations = sorted({hook.organization for hook in hooks.values()})
    modules = sorted({hook.module for hook in hooks.values()})
    return types.Tool(
        name=TOOL_NAME,
        description="Zoho Books events (a payment recorded, an invoice created...) that Zoho's webhooks "
                    "reported, oldest first after `cursor`; without it, the newest. Call again with "
                    "next_cursor to get only what is new.",
        input_schema={
            "type": "object",
            "properties": {
                "cursor": {"type": "string", "description": "next_cursor from the last answer"},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                "organization_id": {"type": "string", "enum": organizations},
                "module": {"type": "string", "enum": modules},
                "payloads": {"type": "boolean", "description": "include each record as Zoho sent it"},
            },
            "additionalProperties": False,
        },
        annotations=types.ToolAnnotations(title="List webhook events", read_only_hint=True,
                                          open_world_hint=False),
    )


class BadArguments(ValueError):
    pass


async def list_events(runtime: Runtime, policy: AgentPolicy, arguments: Mapping[str, Any]
                      ) -> types.CallToolResult:
    started = time.perf_counter()
    hooks = readable_hooks(runtime, policy)
    try:
        cursor, limit, chosen, payloads = _arguments(arguments, hooks)
        found, after = await events_after(runtime.state, chosen, cursor, limit)
    except BadArguments as bad:
        return _error(runtime, policy, arguments, started, "denied", str(bad))
    except StateUnavailable as exc:
        return _error(runtime, policy, arguments, started, "failed", str(exc))
    events = [{"id": number, **{k: event.get(k) for k in SHOWN},
               **({"payload": event.get("payload")} if payloads else {})} for number, event in found]
    answer = {"events": events, "next_cursor": str(after), "more": len(found) == limit}
    problem = _audit(runtime, policy, arguments, started, "allowed",
                     f"hooks {', '.join(sorted(chosen)) or '(none)'}",
                     f"read {len(events)} webhook event{'s' if len(events) != 1 else ''}")
    if problem is not None:
        return _result(str(problem), error=True)
    return _result(json.dumps(answer, ensure_ascii=False), structured=answer)


def _arguments(arguments: Mapping[str, Any], hooks: Mapping[str, Hook]
               ) -> tuple[Cursor | None, int, list[str], bool]:
    unknown = sorted(set(arguments) - {"cursor", "limit", "organization_id", "module", "payloads"})
    if unknown:
        raise BadArguments(f"{unknown[0]}: not an argument of {TOOL_NAME}; it takes cursor, limit, "
                           "organization_id, module and payloads")
    cursor = None
    if arguments.get("cursor") is not None:
        text = arguments["cursor"]
        cursor = Cursor.parse(text) if isinstance(text, str) else None
        if cursor is None:
            raise BadArguments("cursor: not a cursor this tool gave; pass next_cursor from its last answer, "
                               "or leave it out for the newest events")
    limit = arguments.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise BadArguments(f"limit: a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
    payloads = arguments.get("payloads", False)
    if not isinstance(payloads, bool):
        raise BadArguments(f"payloads: true or false, not {payloads!r}")
    chosen = list(hooks)
    for field, attribute in (("organization_id", "organization"), ("module", "module")):
        wanted = arguments.get(field)
        if wanted is None:
            continue
        known = sorted({getattr(hook, attribute) for hook in hooks.values()})
        if wanted not in known:
            raise BadArguments(f"{field}: {shorten(str(wanted), 40)!r} has no events this agent may read; "
                               f"choose one of {', '.join(known) or '(none)'}")
        chosen = [name for name in chosen if getattr(hooks[name], attribute) == wanted]
    return cursor, limit, chosen, payloads


def _error(runtime: Runtime, policy: AgentPolicy, arguments: Mapping[str, Any], started: float,
           decision: str, why: str) -> types.CallToolResult:
    _audit(runtime, policy, arguments, started, decision, why, "could not read webhook events")
    return _result(why, error=True)


def _audit(runtime: Runtime, policy: AgentPolicy, arguments: Mapping[str, Any], started: float,
           decision: Any, rule: str, phrase: str) -> AuditUnavailable | None:
    organization = arguments.get("organization_id")
    record = AuditRecord(
        time=now_iso(), agent=policy.agent, tool=TOOL_NAME, scope=None, access="read",
        organization=organization if isinstance(organization, str) else None, region=None, decision=decision,
        rule=shorten(rule, 400), http_status=None, zoho_code=None,
        duration_ms=int((time.perf_counter() - started) * 1000), arguments=recorded_names(arguments),
        config_revision=runtime.config.revision, sentence=f"agent \"{policy.agent}\" {phrase} ({decision})",
    )
    try:
        runtime.audit.write(record)
    except AuditUnavailable as problem:
        return problem
    return None


def _result(text: str, *, error: bool = False, structured: dict[str, Any] | None = None
            ) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error,
                                structured_content=structured)
