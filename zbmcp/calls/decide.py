"""Deciding a call: which tool, for which organization, with which arguments, whether the agent may make it,
and, where the policy asks, a person's approval."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from mcp import types
from mcp.server import ServerRequestContext

from zbmcp.calls.approvals import binding, request_approval
from zbmcp.calls.inbox import OperatorDecision, ask_operator
from zbmcp.calls.lookups import read_for
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.tool_call import ToolCall
from zbmcp.core.facts import facts_of, reads_for
from zbmcp.core.found import NOTHING, Found
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.numeric_ids import ids_as_strings
from zbmcp.core.policy import AgentPolicy, Decision
from zbmcp.core.question import Question, build_question
from zbmcp.core.requests import ZohoRequest, build_request
from zbmcp.core.shaping import View, split_view
from zbmcp.errors import PolicyDenied

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


async def decide(runtime: Runtime, call: ToolCall) -> Decided:
    """The policy's decision on this call; PolicyDenied or InvalidArguments when it may not be made. What is
    learnt goes on `call` at once, so the audit record of a refusal says as much as was known. What the
    decision depends on that the call does not say (whom send=true emails) is read from Zoho first."""
    policy = call.policy
    if policy is None:
        raise PolicyDenied("This caller is not a configured agent; nothing is allowed.", rule="unknown agent")
    spec = call.spec = policy.tool_for_call(call.name)
    arguments = call.arguments = ids_as_strings(call.arguments)
    asked = arguments.get("organization_id")
    if isinstance(asked, str) and asked.isdigit():
        policy.check_organization(asked)  # the agent's own boundary first, so the refusal names the rule
    to_send, view = split_view(spec, arguments)  # `fields` shapes the answer; Zoho never sees it
    request = call.request = build_request(spec, to_send, policy.organizations)
    reads = policy.reads_before_deciding(spec, request)
    found = await read_for(runtime, call, request, reads, "to decide it") if reads else NOTHING
    # The local date dates an undated create (the organization's time zone is not known yet).
    today = dt.date.today()
    decision = call.decision = policy.decide(spec, request, today, found)
    if decision.outcome == "deny":
        raise PolicyDenied(decision.message, rule=decision.rule)
    return Decided(policy, spec, request, decision, view, today, found)


async def approve(runtime: Runtime, call: ToolCall, decided: Decided, ctx: ServerRequestContext[Any],
                  params: types.CallToolRequestParams, *, channel: Literal["console", "client"],
                  url: str) -> Held | None:
    """A person's approval of a call the policy asks about: None once given, and the call goes on; otherwise
    what the agent is answered meanwhile. ApprovalRefused when a person refused. `url` is where the request
    would go, for the question."""
    policy, spec, request, decision = decided.policy, decided.spec, decided.request, decided.decision
    asked: list[Question] = []

    async def question() -> Question:
        """The question, with what a person knows the call by read from Zoho, once, when first needed."""
        if not asked:
            more = reads_for(spec, request, amount=True, question=True).without(decided.found)
            found = decided.found.merged(await read_for(runtime, call, request, more, "for its approval "
                                                        "question")) if more else decided.found
            facts = facts_of(spec, request, decided.today, found)
            asked.append(build_question(policy.agent, spec, request, url, facts, decision.reasons,
                                        call.asked_by))
        return asked[0]

    if channel == "console":
        answer = await ask_operator(runtime.inbox, ctx, spec, request, call.arguments, policy.agent,
                                    call.asked_by, question, decision.rule)
        if not isinstance(answer, OperatorDecision):
            return call.finish_pending(answer, decision.rule)  # held; the agent calls again
        call.approved_by = answer.rule
        call.give_back = partial(runtime.inbox.give_back, answer)
        return None
    key = binding(policy.agent, spec.name, request.organization_id, call.arguments, call.asked_by)
    asking = await question()
    pending = await request_approval(ctx, params, spec, asking, decision.rule, runtime.approvals, key)
    if pending is None:
        call.give_back = partial(runtime.approvals.keep, key, asking.seen())
    return pending  # the client asks the person and calls again; that call gets the audit record
