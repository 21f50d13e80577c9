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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp import types
from mcp.server import ServerRequestContext

from zbmcp.errors import ApprovalRefused
from zbmcp.facts import Facts, FieldEffect, Recipients
from zbmcp.manifest import EFFECT_WORDS, ToolSpec, dotted_fields, schema_at
from zbmcp.requests import ZohoRequest

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


class ApprovalTickets:
    """Signs the request_state of an approval question and accepts each answered ticket once.

    The key is per process unless the config gives one (http.approval_secret), so that replicas behind a load
    balancer accept each other's tickets; used tickets are remembered per process until they expire.
    """

    def __init__(self, key: bytes | None = None, *, ttl: float = TICKET_TTL_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = key or secrets.token_bytes(32)
        self._ttl = ttl
        self._clock = clock
        self._used: dict[str, float] = {}

    def issue(self, agent: str, spec: ToolSpec, arguments: Mapping[str, Any]) -> str:
        nonce = secrets.token_urlsafe(12)
        expires = int(self._clock() + self._ttl)
        return f"{nonce}.{expires}.{self._mac(agent, spec, arguments, nonce, expires)}"

    def redeem(self, ticket: str, agent: str, spec: ToolSpec, arguments: Mapping[str, Any]) -> bool:
        """True once for a genuine, unexpired ticket issued for exactly this call."""
        parts = ticket.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return False
        nonce, expires_text, mac = parts
        expires = int(expires_text)
        now = self._clock()
        if expires < now or nonce in self._used:
            return False
        if not hmac.compare_digest(mac, self._mac(agent, spec, arguments, nonce, expires)):
            return False
        self._used = {n: e for n, e in self._used.items() if e >= now}
        self._used[nonce] = expires
        return True

    def _mac(self, agent: str, spec: ToolSpec, arguments: Mapping[str, Any], nonce: str, expires: int) -> str:
        canonical = json.dumps([agent, spec.name, arguments, nonce, expires], sort_keys=True,
                               separators=(",", ":"), default=str)
        return base64.urlsafe_b64encode(hmac.new(self._key, canonical.encode(), hashlib.sha256).digest()).decode()


QUESTION_LIMIT = 2000  # characters; facts are never cut, so a question with many of them can be longer
MIN_FREE_TEXT = 120  # each free text keeps at least this much, however much else there is
NESTED_FREE_TEXT = 80  # a line's description, inside the arguments


@dataclass(frozen=True)
class Question:
    """What a person is asked to approve, as facts (a console can show them as it likes) with one plain
    rendering, text(). Everything that decides the answer comes first and is never shortened: the tool, the
    organization, the amount, every recipient, each field with an effect and every other argument. Free text
    (an email's body, notes, terms...) comes last, and only it may be shortened."""

    agent: str
    tool: str
    title: str
    organization: str | None
    method: str
    url: str
    reasons: tuple[str, ...]
    amount: float | None
    amount_unknown: str | None
    counterparty_id: str | None
    date: str | None
    emails: bool
    recipients: Recipients
    effects: tuple[FieldEffect, ...]  # fields with an effect beyond the record, recipients and words aside
    fields: tuple[tuple[str, str], ...]  # every other argument, as compact JSON, in full
    free_text: tuple[tuple[str, str], ...]  # (field, text), in full here; text() may shorten them

    def text(self, limit: int = QUESTION_LIMIT) -> str:
        head = self._facts()
        room = max(limit - sum(len(line) + 1 for line in head) - 40, 0)
        share = max(room // max(len(self.free_text), 1), MIN_FREE_TEXT)
        tail = [f"{name}: {_shortened(text, share)}" for name, text in self.free_text]
        return "\n".join([*head, *(["Free text (may be shortened):", *tail] if tail else []), "Approve?"])

    def _facts(self) -> list[str]:
        where = f" in organization {self.organization}" if self.organization else ""
        lines = [f'Agent "{self.agent}" wants to {self.title.lower()} ({self.tool}){where}.',
                 "Asked because: " + "; ".join(self.reasons) + "."]
        if self.amount_unknown is not None:
            lines.append(f"Amount: unknown ({self.amount_unknown}).")
        elif self.amount:
            lines.append(f"Amount: {self.amount:,.2f}.")
        if self.emails:
            lines.append("Emails: " + _recipient_text(self.recipients) + ".")
        for effect in self.effects:
            lines.append(f"Effect: {effect.field} = {_json(effect.value)} ({EFFECT_WORDS[effect.effect]}).")
        if self.counterparty_id:
            lines.append(f"Counterparty: {self.counterparty_id}.")
        if self.date:
            lines.append(f"Date: {self.date}.")
        if self.fields:
            lines.append("Arguments: " + ", ".join(f"{name}={value}" for name, value in self.fields) + ".")
        lines.append(f"Request: {self.method} {self.url}")
        return lines


def build_question(agent: str, spec: ToolSpec, request: ZohoRequest, url: str, facts: Facts,
                   reasons: tuple[str, ...]) -> Question:
    arguments: dict[str, Any] = dict(_path_arguments(spec, request))
    arguments.update(facts.arguments)
    free = free_text_fields(spec)
    shown_elsewhere = {e.field for e in facts.effects} | {
        name for name, effect in spec.effects.items() if effect == "recipients"}
    if facts.date is not None:
        shown_elsewhere.add("date")
    if facts.counterparty_id is not None:
        shown_elsewhere |= {"customer_id", "vendor_id"}
    effects = tuple(e for e in facts.effects if e.effect != "recipients" and e.field not in free)
    fields = tuple((name, _json(_nested_shortened(value, name, free))) for name, value in arguments.items()
                   if name not in free and name not in shown_elsewhere)
    free_text = tuple((name, str(arguments[name])) for name in arguments if name in free)
    return Question(agent, spec.name, spec.title, request.organization_id, request.method, url, reasons,
                    facts.amount, facts.amount_unknown, facts.counterparty_id, facts.date, facts.emails,
                    facts.recipients, effects, fields, free_text)


def _path_arguments(spec: ToolSpec, request: ZohoRequest) -> list[tuple[str, str]]:
    """The ids in the request's path (the invoice to email), by the names the tool gives them."""
    pairs = zip(spec.path.split("/"), request.path.split("/"), strict=False)
    return [(template[1:-1], value) for template, value in pairs if template.startswith("{")]


def free_text_fields(spec: ToolSpec) -> set[str]:
    """Dotted paths of the tool's free-text fields: plain strings a person reads, not ids, codes or dates."""
    found = set()
    groups = {**spec.query, **spec.unadvertised_query, **(spec.body or {})}
    for path in dotted_fields(groups):
        schema = schema_at(groups, path)
        name = path.rsplit(".", 1)[-1]
        if (schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema)
                and not name.endswith(("_id", "_ids", "_number", "_mode", "_type"))):
            found.add(path)
    return found


def _nested_shortened(value: Any, path: str, free: set[str]) -> Any:
    """Free text inside an argument (a line's description) shortened; everything else kept whole."""
    if isinstance(value, Mapping):
        return {k: _nested_shortened(v, f"{path}.{k}", free) for k, v in value.items()}
    if isinstance(value, list):
        return [_nested_shortened(item, path, free) for item in value]
    if isinstance(value, str) and path in free:
        return _shortened(value, NESTED_FREE_TEXT)
    return value


def _shortened(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    kept = text[: max(limit - 30, 20)]
    return f"{kept}... ({len(text) - len(kept):,} more characters)"


def _recipient_text(recipients: Recipients) -> str:
    if not recipients.all():
        return "yes, to the addresses Zoho has for the customer (the call names none)"
    parts = [f"to {', '.join(recipients.to) or 'nobody'}"]
    if recipients.cc:
        parts.append(f"cc {', '.join(recipients.cc)}")
    if recipients.bcc:
        parts.append(f"bcc {', '.join(recipients.bcc)}")
    return "; ".join(parts)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def client_can_elicit(ctx: ServerRequestContext[Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.elicitation is not None)


def _modern(ctx: ServerRequestContext[Any]) -> bool:
    return str(ctx.protocol_version) >= MODERN_ERA


async def request_approval(
    ctx: ServerRequestContext[Any],
    params: types.CallToolRequestParams,
    spec: ToolSpec,
    question: Question,
    rule: str,
    tickets: ApprovalTickets,
) -> types.InputRequiredResult | None:
    """None when a person approved; an InputRequiredResult when the client must ask first (2026-07-28);
    ApprovalRefused otherwise. `rule` is the rule that asks (the policy Decision's)."""
    agent = question.agent
    if not client_can_elicit(ctx):
        raise ApprovalRefused(
            f"{spec.name} needs a person's approval ({rule}), and this MCP client cannot ask one "
            "(it does not support elicitation). Nothing was sent to Zoho. Use a client that supports "
            "elicitation, or have a person do this in Zoho Books.",
            rule=rule + " (client cannot ask)",
        )
    text = question.text()
    if _modern(ctx):
        arguments = params.arguments or {}
        answer = None
        if params.request_state and tickets.redeem(params.request_state, agent, spec, arguments):
            answer = _answer_in(params)
        if answer is None:
            ask = types.ElicitRequest(params=types.ElicitRequestFormParams(message=text, requested_schema=APPROVE_SCHEMA))
            return types.InputRequiredResult(input_requests={QUESTION_KEY: ask},
                                             request_state=tickets.issue(agent, spec, arguments))
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
