"""Asking a person before an agent does something they should see first (emailing a customer, deleting...).

The question goes to the human through MCP elicitation, never through the model: nothing in a tool's arguments
can approve a call. Two protocol eras, one rule:

    up to 2025-11-25   zbmcp sends elicitation/create mid-call and waits for the answer
    2026-07-28         zbmcp answers InputRequiredResult with the question; the client asks the person and
                       retries the call with the answer and zbmcp's request_state, a signed, single-use,
                       expiring ticket bound to this agent, tool and exact arguments: an answer given for one
                       request never approves another, nor the same one twice.

When the client cannot ask, or anything goes wrong while asking, the call is refused (fail closed) with a
message that says why.

An approval is spent by the call it lets through, unless that call provably sent nothing (Zoho could not be
reached, zbmcp's own limits held it): the server then keeps it (ApprovalTickets.keep) for the next identical
call, once, until the ticket would have expired. Anything that may have reached Zoho spends it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mcp import types
from mcp.server import ServerRequestContext

from zbmcp.errors import ApprovalRefused
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.question import Question, still_holds
from zbmcp.state import State
from zbmcp.state.single_use import use_once

log = logging.getLogger(__name__)

MODERN_ERA = "2026-07-28"
QUESTION_KEY = "zbmcp-approval"
APPROVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {"type": "boolean", "title": "Approve", "description": "Let the agent do this now"},
    },
    "required": ["approve"],
}
TICKET_TTL_SECONDS = 600.0
USED_TICKETS = "approval-tickets-used"  # State namespace: the nonce of each ticket honoured, until it expires
KEPT = "approvals-kept"  # State namespace: approvals given back by a call that sent nothing, by call binding


def binding(agent: str, tool: str, organization: str | None, arguments: Mapping[str, Any],
            asked_by: str | None = None) -> str:
    """One exact call (agent, tool, organization, arguments), asked by one person (or the agent's key), as a
    key: an approval of one never lets another, or a changed one, through, nor the same call by someone
    else. (What zbmcp read from Zoho for its question is checked when the approval is taken: still_holds.)"""
    canonical = json.dumps([agent, tool, organization, arguments, *([asked_by] if asked_by else [])],
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def until_text(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%H:%M UTC")


class ApprovalTickets:
    """Signs the request_state of an approval question and accepts each answered ticket once.

    Once means once everywhere: a used ticket is recorded in the State (zbmcp.state) until it expires, so no
    other process, replica or restart honours it again; and a ticket is honoured only in the State's epoch it
    was issued in, so a State that lost that record (a Redis restarted empty) does not re-arm it. The key is
    shared the same way (runtime.approval_key), so any replica accepts a ticket another one issued.
    """

    def __init__(self, key: bytes, state: State, *, ttl: float = TICKET_TTL_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._state = state
        self._ttl = ttl
        self._clock = clock

    async def issue(self, agent: str, spec: ToolSpec, arguments: Mapping[str, Any], seen: str = "") -> str:
        """A ticket for this call; `seen` (who asked, and what the question showed from Zoho) must be the same
        when it is redeemed: the retry comes at once, and anything changed meanwhile is asked again."""
        nonce = secrets.token_urlsafe(12)
        expires = int(self._clock() + self._ttl)
        epoch = await self._state.epoch()
        return f"{nonce}.{expires}.{epoch}.{self._mac(agent, spec, arguments, seen, nonce, expires, epoch)}"

    async def redeem(self, ticket: str, agent: str, spec: ToolSpec, arguments: Mapping[str, Any],
                     seen: str = "") -> bool:
        """True once for a genuine, unexpired ticket issued for exactly this call, about the same recipients
        and totals, in the State's present epoch: one issued before the State lost its records (a Redis
        restarted empty) may have been used, so it is refused. (StateUnavailable when the State cannot say
        whether it was used: the call is then refused, never run on a guess.)"""
        parts = ticket.split(".")
        if len(parts) != 4 or not parts[1].isdigit() or len(parts[1]) > 12:
            return False
        nonce, expires_text, epoch, mac = parts
        expires = int(expires_text)
        now = self._clock()
        if expires < now:
            return False
        # Checked before anything is written: a forged ticket costs the State nothing.
        if not hmac.compare_digest(mac, self._mac(agent, spec, arguments, seen, nonce, expires, epoch)):
            return False
        return await use_once(self._state, USED_TICKETS, nonce, epoch=epoch, ttl=expires - now + 1) == "first"

    async def keep(self, key: str, seen: Mapping[str, Any] | None = None) -> str | None:
        """A person's approval of the call `key` (a binding), whose call sent nothing: usable once more by the
        same call, for as long as a ticket lives, while it shows what `seen` showed (still_holds). Says so,
        or None when one is kept already."""
        if not await self._state.put_if_absent(KEPT, key, {"seen": dict(seen or {})}, ttl=self._ttl):
            return None
        until = until_text(self._clock() + self._ttl)
        return f"the person's approval still holds for this exact call until {until}"

    async def has_kept(self, key: str) -> bool:
        """Whether an approval is kept for the call `key` (look before reading what take_kept compares)."""
        return await self._state.get(KEPT, key) is not None

    async def take_kept(self, key: str, seen: Mapping[str, Any] | None = None) -> bool:
        """True once for an approval kept for the call `key`: of any number of identical calls, exactly
        one, and only if what it shows now still holds for it (taken either way)."""
        kept = await self._state.take(KEPT, key)
        if kept is None:
            return False
        return not isinstance(kept, dict) or still_holds(kept.get("seen") or {}, seen or {})

    def _mac(self, agent: str, spec: ToolSpec, arguments: Mapping[str, Any], seen: str, nonce: str,
             expires: int, epoch: str) -> str:
        canonical = json.dumps([agent, spec.name, arguments, seen, nonce, expires, epoch], sort_keys=True,
                               separators=(",", ":"), default=str)
        digest = hmac.new(self._key, canonical.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()


def client_can_elicit(ctx: ServerRequestContext[Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.elicitation is not None)


def modern(ctx: ServerRequestContext[Any]) -> bool:
    return str(ctx.protocol_version) >= MODERN_ERA


async def request_approval(
    ctx: ServerRequestContext[Any],
    params: types.CallToolRequestParams,
    spec: ToolSpec,
    asking: Callable[[], Awaitable[Question]],
    rule: str,
    tickets: ApprovalTickets,
    call: str,
) -> types.InputRequiredResult | None:
    """None when a person approved; an InputRequiredResult when the client must ask first (2026-07-28);
    ApprovalRefused otherwise. `asking` builds the question (reading from Zoho), only when one is needed;
    `rule` is the rule that asks (the policy Decision's); `call` the call's binding, under which an approval
    given back by an identical call that sent nothing is kept."""
    if await tickets.has_kept(call) and await tickets.take_kept(call, (await asking()).seen()):
        return None
    if not client_can_elicit(ctx):
        raise ApprovalRefused(
            f"{spec.name} needs a person's approval ({rule}), and this MCP client cannot ask one "
            "(it does not support elicitation). Nothing was sent to Zoho. Use a client that supports "
            "elicitation, or have a person do this in Zoho Books.",
            rule=rule + " (client cannot ask)",
        )
    question = await asking()
    agent = question.agent
    text = question.text()
    if modern(ctx):
        arguments = params.arguments or {}
        answer = None
        seen = json.dumps([question.asked_by, question.seen()], sort_keys=True, default=str)
        if params.request_state and await tickets.redeem(params.request_state, agent, spec, arguments, seen):
            answer = _answer_in(params)
        if answer is None:
            form = types.ElicitRequestFormParams(message=text, requested_schema=APPROVE_SCHEMA)
            ask = types.ElicitRequest(params=form)
            return types.InputRequiredResult(input_requests={QUESTION_KEY: ask},
                                             request_state=await tickets.issue(agent, spec, arguments,
                                                                               seen))
    else:
        try:
            answer = await ctx.session.elicit_form(text, APPROVE_SCHEMA)
        except Exception as exc:  # noqa: BLE001 - whatever breaks while asking, the answer is no
            log.warning("approval request for %s failed: %s", spec.name, type(exc).__name__)
            raise ApprovalRefused(
                f"{spec.name} needs a person's approval, and asking failed ({type(exc).__name__}). "
                "Nothing was sent to Zoho.",
                rule=rule + " (asking failed)",
            ) from None
    if _approved(answer):
        return None
    raise ApprovalRefused(
        f"A person did not approve {spec.name} ({answer.action}). Nothing was sent to Zoho; do not retry "
        "unless they ask you to.",
        rule=rule + f" ({answer.action})",
    )


def _answer_in(params: types.CallToolRequestParams) -> types.ElicitResult | None:
    """The person's answer to zbmcp's question, if the retry carries one."""
    response = (params.input_responses or {}).get(QUESTION_KEY)
    if isinstance(response, types.ElicitResult):
        return response
    if isinstance(response, Mapping):
        try:
            return types.ElicitResult.model_validate(response)
        except ValueError:
            return None
    return None


def _approved(answer: types.ElicitResult) -> bool:
    return answer.action == "accept" and answer.content is not None and answer.content.get("approve") is True
