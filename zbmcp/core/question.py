"""The question a person answers before an agent may go ahead (pure): what the call does, in the order that
matters, as a value a console can lay out as it likes, with one plain rendering for MCP elicitation.

Everything that decides the answer comes first and is never shortened: the tool, the organization, the
amount, every recipient, each field with an effect and every other argument. Free text (an email's body,
notes, terms, a line's description) comes last and is the only thing shortened, each piece quoted on one
line, so text an agent writes can neither push a recipient out of sight nor pose as a line of the question.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zbmcp.core.facts import Facts, FieldEffect, Recipients
from zbmcp.core.manifest import EFFECT_WORDS, ToolSpec, dotted_fields, schema_at
from zbmcp.core.requests import ZohoRequest

QUESTION_LIMIT = 2000  # characters; facts are never cut, so a question with many of them can be longer
MIN_FREE_TEXT = 120  # each free text keeps at least this much, however much else there is
NESTED_FREE_TEXT = 80  # a line's description, inside the arguments


@dataclass(frozen=True)
class Question:
    """What a person is asked to approve: the facts, and text() to show them."""

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
        tail = [f"{name}: {_json(_shortened(text, share))}" for name, text in self.free_text]
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
