"""Sending a decided call: its turn (the agent's quota, then Zoho's pace), the audit record written ahead just
before the request leaves, and Zoho's answer."""

from __future__ import annotations

from typing import Any

from mcp import types

from zbmcp.calls.contact_guard import contact_written, hold
from zbmcp.calls.decide import Decided
from zbmcp.calls.lookups import read_for
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.tool_call import ToolCall
from zbmcp.core.found import Reads


async def send(runtime: Runtime, call: ToolCall, decided: Decided) -> types.CallToolResult:
    policy, spec = decided.policy, decided.spec
    agent = runtime.agent(policy.agent)
    gate = None
    if agent.quota is not None:
        gate = runtime.pacer.agent_gate(
            policy.agent, per_minute=agent.quota.per_minute, per_day=agent.quota.per_day,
            max_wait=runtime.connection_of(policy.agent).settings.limits.max_wait_seconds,
        )
    # The record is written ahead once the request's turn comes; if it cannot be, nothing is sent.
    try:
        changed = contact_written(spec, decided.request)
        if changed is not None:  # not while a call that emails this customer is between its read and Zoho
            await hold(runtime, call, changed)
        connection = runtime.calling_connection(policy.agent, call.person)
        response = await runtime.client.send(connection, decided.request, agent_gate=gate,
                                             before_send=call.write_ahead, delivery=call.delivery)
    except BaseException:
        await call.keep_approval()
        raise
    payload = response.payload
    if spec.name == "list_organizations":
        payload = _only_organizations(payload, policy.organizations)
    currency = await _report_currency(runtime, call, decided) if spec.module == "reports" else None
    return call.finish_ok(payload, response.status, decided.view, currency)


async def _report_currency(runtime: Runtime, call: ToolCall, decided: Decided) -> str | None:
    """The organization's currency, which a report's figures are in and Zoho's answer does not say (read once
    an hour, as for approval questions; None if it cannot be read, and the summary says so)."""
    found = decided.found
    if found.organization is None:
        found = await read_for(runtime, call, decided.request, Reads(organization=True),
                               "to state its currency")
    return found.organization.currency if found.organization is not None else None


def _only_organizations(payload: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    organizations = payload.get("organizations")
    if not isinstance(organizations, list):
        return payload
    kept = [o for o in organizations if isinstance(o, dict) and str(o.get("organization_id")) in allowed]
    return {**payload, "organizations": kept}
