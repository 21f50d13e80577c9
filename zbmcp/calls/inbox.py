"""The approval inbox: a call that needs a person's approval waits until an operator decides in the console.

Why not ask through MCP? Over HTTP a hosted agent's own code is its MCP client, so an elicitation "accept" may
come from the agent itself. With `approval: console` nothing the agent sends (arguments, request_state, input
responses) is ever read as a decision: only a decision an operator made in the console, stored under the exact
call it approves, lets that call through, once.

    records in the shared state (all expire)
    inbox-approval/<id>           the held call as the operator sees it, and its status
    inbox-call/<binding>          the open approval for this exact call (so a retry waits on the same one)
    inbox-decided/<id>            the first decision (a second one, from another tab or operator, is refused)
    inbox-decision/<binding>      a decision waiting for its call: taken once, by exactly one call

A binding is a hash of (agent, tool, organization, arguments): a decision for one call never lets another,
or a changed one, through. The records live in the shared store, so every replica sees every decision.

A call that took an approval and then provably sent nothing (Zoho unreachable) gives it back (give_back): the
decision waits again for the next identical call. Anything that may have reached Zoho spends it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import anyio
import httpx2
from mcp import types
from mcp.server import ServerRequestContext

from zbmcp.calls.approvals import binding, modern, until_text
from zbmcp.audit.log import AuditEvent, AuditLog, now_iso
from zbmcp.errors import ApprovalRefused, AuditUnavailable
from zbmcp.core.manifest import EFFECT_WORDS, ToolSpec
from zbmcp.core.question import Question, still_holds
from zbmcp.state import State, Value
from zbmcp.core.requests import ZohoRequest

log = logging.getLogger(__name__)

# changed: approved, but what zbmcp read from Zoho for the call changed before the call took it (asked again)
Status = Literal["pending", "approved", "denied", "used", "changed"]
Asking = Callable[[], Awaitable[Question]]  # the question about a call, read from Zoho when first needed
DECISION_SECONDS = 600.0  # an approval given while the agent is not waiting stays usable this long
POLL_SECONDS = 0.5  # how often a held call looks for a decision made by another process or replica
WEBHOOK_TIMEOUT_SECONDS = 5.0
_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud or typed from a chat message


class DecisionRefused(Exception):
    """An operator's decision that cannot be taken; the message says why and what to do."""


@dataclass(frozen=True)
class HeldCall:
    """A call waiting for an operator, with everything the approval question shows."""

    id: str
    binding: str
    agent: str
    tool: str
    title: str
    organization: str | None
    question: str  # the question's plain text, as elicitation would show it
    reasons: list[str]  # every rule that asks a person
    effects: list[str]
    recipients: list[str]
    amount: str | None
    free_text: list[list[str]]  # [field, text], in full
    method: str
    url: str
    query: dict[str, Any]
    body: Any
    arguments: dict[str, Any]
    requested_at: float
    expires_at: float
    status: Status = "pending"
    operator: str | None = None
    decided_at: float | None = None
    asked_by: str = ""  # the signed-in person, or the agent and its key: only their identical call takes it
    counterparty: str | None = None  # "Acme Corporation (460000000000011)", or the id and why no name
    document: str | None = None  # "invoice INV-000001 (4600...) for Acme Corporation, total 1,234.00 EUR"
    emailed: list[str] = field(default_factory=list)  # each recipient as the question shows it
    seen: dict[str, Any] = field(default_factory=dict)  # what was read from Zoho for it (Question.seen)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> HeldCall:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in record.items() if k in known})


@dataclass(frozen=True)
class OperatorDecision:
    approval: str
    approved: bool
    operator: str
    binding: str = ""  # the call it lets through
    until: float = 0.0  # when it stops letting that call through
    seen: Mapping[str, Any] = field(default_factory=dict)  # what the operator was shown (Question.seen)

    @property
    def rule(self) -> str:
        verb = "approved" if self.approved else "denied"
        return f"{verb} by operator {self.operator} in the console (approval {self.approval})"


def effects_of(question: Question) -> list[str]:
    """Each effect of the call beyond the record it writes, in words."""
    effects = ["emails " + "; ".join(question.recipient_lines())] if question.emails else []
    effects += [f"{e.field} = {json.dumps(e.value, ensure_ascii=False)} ({EFFECT_WORDS[e.effect]})"
                for e in question.effects]
    return effects


class ApprovalInbox:
    def __init__(self, state: State, audit: AuditLog, *, approval_seconds: float = 3600.0,
                 hold_seconds: float = 20.0, webhook_url: str | None = None, public_url: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.audit = audit
        self.approval_seconds = approval_seconds
        self.hold_seconds = hold_seconds
        self.webhook_url = webhook_url
        self.public_url = public_url
        self._clock = clock
        self._changed: anyio.Event | None = None

    # -- the agent's side --------------------------------------------------------------------------------

    async def hold(self, spec: ToolSpec, request: ZohoRequest, arguments: Mapping[str, Any], agent: str,
                   asked_by: str | None, question: Asking) -> HeldCall | OperatorDecision:
        """The operator's decision on this exact call, waiting up to hold_seconds; else the held call.

        The first call opens the approval (and announces it); a retry of the same call waits on the same
        one. A decision is taken here once: the call that takes it is the only one it lets through.
        `question` builds the question (reading from Zoho): only to open an approval or to take a decision,
        so an agent calling again while it waits spends none of Zoho's calls.
        """
        key = binding(agent, spec.name, request.organization_id, arguments, asked_by)
        decision = await self._take_decision(key, question)
        if decision is not None:
            return decision
        held, opened = await self._open(key, spec, request, arguments, question)
        async with anyio.create_task_group() as tg:
            if opened:
                tg.start_soon(self._announce, held)
            decision = await self._wait(key, question)
        return decision or held

    async def _take_decision(self, key: str, question: Asking) -> OperatorDecision | None:
        if await self.state.get("inbox-decision", key) is None:
            return None
        seen = (await question()).seen()  # read before taking it: a failed read leaves the decision in place
        record = _as_dict(await self.state.take("inbox-decision", key))
        if record is None:
            return None
        # The next identical call asks again; an approval another identical call opened meanwhile stays open.
        await self.state.delete("inbox-call", key, only_if={"id": record["approval"]})
        held = await self.get(record["approval"])
        shown = record.get("seen") or {}
        if record["approved"] and not still_holds(shown, seen):
            if held is not None:
                await self._save(held, status="changed")
                self._audit(held, "approval.changed", "denied",
                            f'approval {held.id} of agent "{held.agent}"\'s request to {held.title.lower()}'
                            + _where(held) + " no longer holds: what zbmcp read from Zoho for it changed "
                            f"since it was approved (then {json.dumps(shown, ensure_ascii=False)}, now "
                            f"{json.dumps(dict(seen), ensure_ascii=False)}); asked again")
            return None
        if held is not None:
            await self._save(held, status="used" if record["approved"] else "denied")
        return OperatorDecision(record["approval"], bool(record["approved"]), record["operator"], key,
                                float(record.get("until") or 0), shown)

    async def give_back(self, decision: OperatorDecision) -> str | None:
        """An approval taken by a call that then provably sent nothing (Zoho could not be reached): usable
        again, once, by the next identical call, until it would have expired anyway. Says so, or None when it
        cannot be (expired, or another decision for the same call is waiting)."""
        remaining = decision.until - self._clock()
        if not decision.approved or remaining <= 0:
            return None
        record = {"approval": decision.approval, "approved": True, "operator": decision.operator,
                  "until": decision.until, "seen": dict(decision.seen)}
        if not await self.state.put_if_absent("inbox-decision", decision.binding, record, ttl=remaining):
            return None
        held = await self.get(decision.approval)
        if held is not None and held.status == "used":
            await self._save(held, status="approved")
        self._notify()
        until = until_text(decision.until)
        return f"approval {decision.approval} still holds for this exact call until {until}"

    async def _open(self, key: str, spec: ToolSpec, request: ZohoRequest, arguments: Mapping[str, Any],
                    asking: Asking) -> tuple[HeldCall, bool]:
        """The open approval for this call, or a new one; True when this call opened it."""
        for _ in range(3):  # another process may open or close the same call's approval meanwhile
            existing = _as_dict(await self.state.get("inbox-call", key))
            if existing is not None:
                held = await self.get(existing["id"])
                if held is not None:
                    return held, False
                await self.state.delete("inbox-call", key)
            question = await asking()
            now = self._clock()
            held = HeldCall(
                id="".join(secrets.choice(_ID_ALPHABET) for _ in range(8)), binding=key, agent=question.agent,
                tool=spec.name, title=spec.title, organization=request.organization_id,
                question=question.text(),
                reasons=list(question.reasons), effects=effects_of(question),
                recipients=list(question.recipients.all()), amount=question.amount_text(),
                free_text=[[name, text] for name, text in question.free_text],
                method=request.method, url=question.url, query=dict(request.query()), body=request.body,
                arguments=dict(arguments), requested_at=now, expires_at=now + self.approval_seconds,
                asked_by=question.asked_by or f"agent {question.agent}", counterparty=question.counterparty,
                document=question.document,
                emailed=question.recipient_lines() if question.emails else [], seen=question.seen(),
            )
            if await self.state.put_if_absent("inbox-call", key, {"id": held.id}, ttl=self.approval_seconds):
                try:  # on the record first: an approval the audit does not know of must not exist
                    self._audit(held, "approval.requested", "pending",
                                f'agent "{held.agent}" ({held.asked_by}) asked to {spec.title.lower()}'
                                + _where(held) + f": held for an operator's approval (approval {held.id})")
                except AuditUnavailable:
                    await self.state.delete("inbox-call", key)
                    raise
                await self.state.put("inbox-approval", held.id, held.to_record(), ttl=self.approval_seconds)
                self._notify()
                return held, True
        raise ApprovalRefused("zbmcp could not open an approval for this call; nothing was sent to Zoho. "
                              "Try again.", rule="approval: console (could not open)")

    async def _wait(self, key: str, question: Asking) -> OperatorDecision | None:
        deadline = anyio.current_time() + self.hold_seconds
        while True:
            decision = await self._take_decision(key, question)
            if decision is not None:
                return decision
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return None
            with anyio.move_on_after(min(POLL_SECONDS, remaining)):
                await self._event().wait()

    # -- the operator's side -----------------------------------------------------------------------------

    async def get(self, approval_id: str) -> HeldCall | None:
        record = _as_dict(await self.state.get("inbox-approval", approval_id))
        return HeldCall.from_record(record) if record else None

    async def all(self) -> list[HeldCall]:
        """Every approval still on record, pending first, newest first within each."""
        records = [_as_dict(r) for r in (await self.state.items("inbox-approval")).values()]
        held = [HeldCall.from_record(r) for r in records if r is not None]
        return sorted(held, key=lambda h: (h.status != "pending", -h.requested_at))

    async def decide(self, approval_id: str, expected_binding: str, operator: str, approve: bool) -> HeldCall:
        """Record an operator's decision; DecisionRefused says why it cannot be taken."""
        held = await self.get(approval_id)
        if held is None or held.expires_at <= self._clock():
            raise DecisionRefused(f"Approval {approval_id} has expired or does not exist; nothing was "
                                  "decided. If the agent still needs it, it will ask again.")
        if held.binding != expected_binding:
            raise DecisionRefused(f"The call behind approval {approval_id} is not the one this page showed; "
                                  "nothing was decided. Reload the inbox and decide on what it shows now.")
        first = {"operator": operator, "approved": approve, "at": self._clock()}
        if held.status != "pending" or not await self.state.put_if_absent(
                "inbox-decided", approval_id, first, ttl=max(1.0, held.expires_at - self._clock())):
            by = held.operator or "another operator"
            raise DecisionRefused(f"Approval {approval_id} was already decided by {by}; a decision counts "
                                  "once.")
        decided = HeldCall(**{**held.to_record(), "status": "approved" if approve else "denied",
                              "operator": operator, "decided_at": self._clock()})
        verb = "approved" if approve else "denied"
        try:  # on the record before it can take effect: fail closed
            self._audit(decided, "approval.decided", "approved" if approve else "denied",
                        f'operator "{operator}" {verb} agent "{held.agent}"\'s request ({held.asked_by}) '
                        f'to {held.title.lower()}'
                        + _where(held) + f" (approval {approval_id})")
        except AuditUnavailable:
            await self.state.delete("inbox-decided", approval_id)
            raise
        remaining = max(1.0, held.expires_at - self._clock())
        await self.state.put("inbox-approval", approval_id, decided.to_record(),
                             ttl=max(remaining, DECISION_SECONDS))
        await self.state.put("inbox-decision", held.binding,
                             {"approval": approval_id, "approved": approve, "operator": operator,
                              "until": self._clock() + DECISION_SECONDS, "seen": held.seen},
                             ttl=DECISION_SECONDS)
        self._notify()
        return decided

    # -- plumbing ----------------------------------------------------------------------------------------

    async def _save(self, held: HeldCall, **changes: Any) -> None:
        updated = {**held.to_record(), **changes}
        ttl = max(1.0, max(held.expires_at, (held.decided_at or 0) + DECISION_SECONDS) - self._clock())
        await self.state.put("inbox-approval", held.id, updated, ttl=ttl)

    def changes(self) -> anyio.Event:
        """Set at the next change this process makes (an approval opened or decided): the console's live view
        and tests wait on it. Changes made by other processes are seen by polling."""
        return self._event()

    def _event(self) -> anyio.Event:
        if self._changed is None:
            self._changed = anyio.Event()
        return self._changed

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = anyio.Event()

    def _audit(self, held: HeldCall, event: str, decision: str, sentence: str) -> None:
        record = AuditEvent(time=now_iso(), event=event, decision=decision, sentence=sentence,
                            operator=held.operator, agent=held.agent, tool=held.tool,
                            organization=held.organization, approval=held.id,
                            rule=f"require_approval: {held.tool} (approval: console)")
        self.audit.write(record)  # AuditUnavailable: the caller takes nothing further

    async def _announce(self, held: HeldCall) -> None:
        if not self.webhook_url:
            return
        link = f"{self.public_url or ''}/console/approvals/{held.id}"
        text = (f"zbmcp: agent {held.agent} wants to {held.title.lower()}{_where(held)}. "
                f"Approve or deny in the console: {link} (approval {held.id}, expires "
                f"{dt.datetime.fromtimestamp(held.expires_at, dt.UTC):%H:%M} UTC)")
        try:
            with anyio.fail_after(WEBHOOK_TIMEOUT_SECONDS):
                async with httpx2.AsyncClient(follow_redirects=False) as http:
                    response = await http.post(self.webhook_url, json={"text": text, "approval": held.id})
            if response.status_code >= 400:
                log.warning("the approval webhook answered %d for approval %s", response.status_code, held.id)
        except Exception as exc:  # noqa: BLE001 - an announcement must never break the call it announces
            # The URL is not logged: a chat webhook's URL is its secret.
            log.warning("could not announce approval %s to the webhook (%s)", held.id, type(exc).__name__)


def _as_dict(value: Value | None) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _where(held: HeldCall) -> str:
    return f" in organization {held.organization}" if held.organization else ""


async def ask_operator(
    inbox: ApprovalInbox,
    ctx: ServerRequestContext[Any],
    spec: ToolSpec,
    request: ZohoRequest,
    arguments: Mapping[str, Any],
    agent: str,
    asked_by: str | None,
    question: Asking,
    rule: str,
) -> OperatorDecision | types.CallToolResult | types.InputRequiredResult:
    """An operator's approval for this call, or the answer that tells the agent to wait; ApprovalRefused when
    an operator denied it. Nothing in the agent's messages is read here: only the inbox decides. `rule` is the
    policy's rule that asks."""
    answer = await inbox.hold(spec, request, arguments, agent, asked_by, question)
    if isinstance(answer, OperatorDecision):
        if answer.approved:
            return answer
        raise ApprovalRefused(
            f"Operator {answer.operator} denied {spec.name} in the zbmcp console (approval "
            f"{answer.approval}). Nothing was sent to Zoho; do not retry unless a person asks you to.",
            rule=answer.rule,
        )
    if modern(ctx):  # the client retries with request_state, which zbmcp does not need: the call is the key
        return types.InputRequiredResult(request_state=f"zbmcp-approval:{answer.id}")
    until = dt.datetime.fromtimestamp(answer.expires_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (f"Waiting for approval {answer.id}: {spec.name} needs an operator's approval in the zbmcp "
            f"console, so nothing has been sent to Zoho yet. Call {spec.name} again with exactly the same "
            f"arguments to get the result once they decide (the request stays open until {until}); a changed "
            "call needs a new approval.")
    return types.CallToolResult(
        content=[types.TextContent(text=text)],
        structured_content={"error": {"type": "ApprovalPending", "message": text, "approval_id": answer.id,
                                      "expires_at": until, "rule": rule}},
        is_error=True,
    )
