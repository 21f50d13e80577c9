"""Deciding a call: which tool, for which organization, with which arguments, whether the agent may make it,
and, where the policy asks, a person's approval."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp import types
from mcp.server import ServerRequestContext

from zbmcp.calls.approvals import binding, request_approval
from zbmcp.calls.catalog import excluded_operations
from zbmcp.calls.contact_guard import hold, let_go, lock_name
from zbmcp.calls.inbox import OperatorDecision, ask_operator
from zbmcp.calls.lookups import read_for
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.tool_call import ToolCall
from zbmcp.core.facts import emailed_counterparty, facts_of, reads_for
from zbmcp.core.found import NOTHING, Found
from zbmcp.core.idempotency import split_key
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.numeric_ids import ids_as_strings
from zbmcp.core.policy import AgentPolicy, Decision
from zbmcp.core.question import Question, build_question, still_holds
from zbmcp.core.requests import ZohoRequest, build_request
from zbmcp.core.shaping import View, split_view
from zbmcp.errors import ApprovalRefused, PolicyDenied

Held = types.CallToolResult | types.InputRequiredResult


@dataclass(frozen=True)
class Decided:
    """A call the policy allows, or asks a person about (decision.outcome "allow" or "approve")."""

    policy: AgentPolicy
    spec: ToolSpec
    request: ZohoRequest
    decision: Decision
    view: View  # how to shape Zoho's answer (the `fields` argument)
    today: dt.date
    found: Found = NOTHING  # what zbmcp read from Zoho to decide it
    key: str | None = None  # the call's idempotency key (zbmcp.calls.exactly_once); never sent to Zoho


async def decide(runtime: Runtime, call: ToolCall) -> Decided:
    """The policy's decision on this call; PolicyDenied or InvalidArguments when it may not be made. What is
    learnt goes on `call` at once, so the audit record of a refusal says as much as was known. What the
    decision depends on that the call does not say (whom send=true emails) is read from Zoho first."""
    policy = call.policy
    if policy is None:
        raise PolicyDenied("This caller is not a configured agent; nothing is allowed.", rule="unknown agent")
    try:
        spec = call.spec = policy.tool_for_call(call.name)
    except PolicyDenied as denied:
        reason = excluded_operations().get(call.name) if denied.rule == "unknown tool" else None
        if reason is None:
            raise
        raise PolicyDenied(f"Zoho's operation {call.name!r} is not a zbmcp tool: {reason}. Nothing was sent "
                           "to Zoho.", rule="excluded operation") from None
    arguments = call.arguments = ids_as_strings(call.arguments)
    asked = arguments.get("organization_id")
    if isinstance(asked, str) and asked.isdigit():
        policy.check_organization(asked)  # the agent's own boundary first, so the refusal names the rule
    to_send, key = split_key(spec, arguments)  # zbmcp's own, as `fields` is: Zoho never sees them
    to_send, view = split_view(spec, to_send)
    request = call.request = build_request(spec, to_send, policy.organizations)
    reads = policy.reads_before_deciding(spec, request)
    emailed = emailed_counterparty(spec, request)
    if reads and emailed is not None:  # held from the read of whom Zoho emails until Zoho has the call
        await hold(runtime, call, lock_name(request.organization_id, emailed))
    found = await read_for(runtime, call, request, reads, "to decide it") if reads else NOTHING
    today = organization_today(runtime, found)
    decision = call.decision = policy.decide(spec, request, today, found)
    if decision.outcome == "deny":
        raise PolicyDenied(decision.message, rule=decision.rule)
    return Decided(policy, spec, request, decision, view, today, found, key)


async def approve(runtime: Runtime, call: ToolCall, decided: Decided, ctx: ServerRequestContext[Any],
                  params: types.CallToolRequestParams, *, channel: Literal["console", "client"],
                  url: str) -> Held | None:
    """A person's approval of a call the policy asks about: None once given, and the call goes on; otherwise
    what the agent is answered meanwhile. ApprovalRefused when a person refused. `url` is where the request
    would go, for the question."""
    policy, spec, request, decision = decided.policy, decided.spec, decided.request, decided.decision
    asked: list[Question] = []

    async def question(found: Found | None = None) -> Question:
        """The question, with what a person knows the call by read from Zoho, once, when first needed (or
        afresh, with everything read again, when `found` is given)."""
        if not asked or found is not None:
            if found is None:
                more = reads_for(spec, request, amount=True, question=True).without(decided.found)
                found = decided.found.merged(await read_for(runtime, call, request, more, "for its approval "
                                                            "question")) if more else decided.found
            facts = facts_of(spec, request, organization_today(runtime, found), found)
            asked.insert(0, build_question(policy.agent, spec, request, url, facts, decision.reasons,
                                           call.asked_by))
        return asked[0]

    held = await let_go(call)  # nothing is held while a person is asked
    if channel == "console":
        answer = await ask_operator(runtime.inbox, ctx, spec, request, call.arguments, policy.agent,
                                    call.asked_by, question, decision.rule)
        if not isinstance(answer, OperatorDecision):
            return call.finish_pending(answer, decision.rule)  # held; the agent calls again
        call.approved_by = answer.rule
        call.give_back = partial(runtime.inbox.give_back, answer)
        await _still_as_approved(runtime, call, decided, held, answer.seen, question)
        return None
    key = binding(policy.agent, spec.name, request.organization_id, call.arguments, call.asked_by)
    pending = await request_approval(ctx, params, spec, question, decision.rule, runtime.approvals, key)
    if pending is None:
        approved = (await question()).seen()
        call.give_back = partial(runtime.approvals.keep, key, approved)
        await _still_as_approved(runtime, call, decided, held, approved, question)
    return pending  # the client asks the person and calls again; that call gets the audit record


async def _still_as_approved(runtime: Runtime, call: ToolCall, decided: Decided, held: str | None,
                             approved: Mapping[str, Any], question: Callable[[Found], Awaitable[Question]]
                             ) -> None:
    """After a person's yes: hold the customer again and read again what they were shown; ApprovalRefused
    (the approval spent) when it changed meanwhile, say a contact person's address moved."""
    if not any(value is not None for value in approved.values()):
        return  # nothing was read for them to approve (every read failed): nothing to compare
    if held is not None:
        await hold(runtime, call, held)
    reads = reads_for(decided.spec, decided.request, amount=True, question=True)
    now = (await question(await read_for(runtime, call, decided.request, reads, "to check what was "
                                         "approved"))).seen()
    if still_holds(approved, now):
        return
    call.give_back = None
    changed = ", ".join(key for key, value in approved.items() if value is not None and now.get(key) != value)
    raise ApprovalRefused(
        f"What a person approved for {decided.spec.name} changed before it could be sent ({changed}, as read "
        "from Zoho). Nothing was sent to Zoho; call again to ask them about it as it is now.",
        rule=f"{decided.decision.rule} (approved, then changed: {changed})")


def organization_today(runtime: Runtime, found: Found) -> dt.date:
    """Today where Zoho dates the call's documents: in the organization's time zone, when zbmcp read it (an
    undated create's `date` needs it); else the machine's own date."""
    moment = runtime.clock()
    organization = found.organization
    if organization is not None and organization.time_zone:
        try:
            return dt.datetime.fromtimestamp(moment, ZoneInfo(organization.time_zone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a name this machine's time zone database does not know
    return dt.datetime.fromtimestamp(moment).date()
