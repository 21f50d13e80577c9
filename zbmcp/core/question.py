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
from zbmcp.core.found import money_text
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
    currency: str | None = None
    counterparty: str | None = None  # "Acme Corporation (460000000000011)", or the id and why no name
    document: str | None = None  # the record the call acts on: "invoice INV-000001 (4600...) for Acme..."
    asked_by: str | None = None  # the person, or the agent's key, whose call this is
    shown: tuple[tuple[str, Any], ...] = ()  # what was read from Zoho, for still_holds (see seen)

    def amount_text(self) -> str | None:
        """5,002.50 EUR; unknown, saying why; None when the call writes no money."""
        if self.amount_unknown is not None:
            return f"unknown ({self.amount_unknown})"
        return money_text(self.amount, self.currency) if self.amount else None

    def recipient_lines(self) -> list[str]:
        """Each address the call emails, with who it is where Zoho chooses them; or why nobody can say."""
        recipients = self.recipients
        if recipients.unknown is not None:
            return [f"unknown: {recipients.unknown}; zbmcp treats it as emailing anyone"]
        if recipients.chosen_by_zoho:
            return [person.label() for person in recipients.people] or [
                "nobody: the customer has no contact person with an email address (Zoho may refuse)"]
        kinds = (("to", recipients.to), ("cc", recipients.cc), ("bcc", recipients.bcc))
        return [f"{kind} {address}" for kind, addresses in kinds for address in addresses]

    def seen(self) -> dict[str, Any]:
        """What zbmcp read from Zoho and showed (None where it could not read it): an approval holds only
        while the same call would show the same (still_holds)."""
        return dict(self.shown)

    def text(self, limit: int = QUESTION_LIMIT) -> str:
        head = self._facts()
        room = max(limit - sum(len(line) + 1 for line in head) - 40, 0)
        share = max(room // max(len(self.free_text), 1), MIN_FREE_TEXT)
        tail = [f"{name}: {_json(_shortened(text, share))}" for name, text in self.free_text]
        return "\n".join([*head, *(["Free text (may be shortened):", *tail] if tail else []), "Approve?"])

    def _facts(self) -> list[str]:
        where = f" in organization {self.organization}" if self.organization else ""
        lines = [f'Agent "{self.agent}" wants to {self.title.lower()} ({self.tool}){where}.']
        if self.asked_by:
            lines.append(f"Asked by: {self.asked_by}.")
        lines.append("Asked because: " + "; ".join(self.reasons) + ".")
        amount = self.amount_text()
        if amount is not None:
            lines.append(f"Amount: {amount}.")
        if self.emails:
            lines.append("Emails: " + _recipient_text(self) + ".")
        for effect in self.effects:
            lines.append(f"Effect: {effect.field} = {_json(effect.value)} ({EFFECT_WORDS[effect.effect]}).")
        if self.counterparty:
            lines.append(f"Counterparty: {self.counterparty}.")
        if self.document:
            lines.append(f"Document: {self.document}.")
        if self.date:
            lines.append(f"Date: {self.date}.")
        if self.fields:
            lines.append("Arguments: " + ", ".join(f"{name}={value}" for name, value in self.fields) + ".")
        lines.append(f"Request: {self.method} {self.url}")
        return lines


def build_question(agent: str, spec: ToolSpec, request: ZohoRequest, url: str, facts: Facts,
                   reasons: tuple[str, ...], asked_by: str | None = None) -> Question:
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
    party = facts.found.counterparty
    counterparty = (party.label() if party is not None and party.id == facts.counterparty_id
                    else facts.counterparty_id)
    document = facts.found.document.label() if facts.found.document is not None else None
    return Question(agent, spec.name, spec.title, request.organization_id, request.method, url, reasons,
                    facts.amount, facts.amount_unknown, facts.counterparty_id, facts.date, facts.emails,
                    facts.recipients, effects, fields, free_text, facts.currency, counterparty, document,
                    asked_by, _shown(facts))


def _shown(facts: Facts) -> tuple[tuple[str, Any], ...]:
    party, document = facts.found.counterparty, facts.found.document
    return (
        ("recipients", list(facts.recipients.all()) if facts.recipients.unknown is None else None),
        ("counterparty", party.name if party is not None and party.unread is None else None),
        ("document", [document.number, str(document.total), document.currency]
         if document is not None and document.unread is None else None),
    )


def still_holds(approved: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    """Whether an approval given on a question that showed `approved` still holds for one that shows `now`:
    nothing read both times has changed (a recipient, a name, a document's number or total), and the
    recipients, if they were known, are known still. What could not be read then was approved as unknown."""
    for key, then in approved.items():
        current = now.get(key)
        if key == "recipients" and then is not None and current is None:
            return False
        if then is not None and current is not None and then != current:
            return False
    return True


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


def _recipient_text(question: Question) -> str:
    recipients = question.recipients
    if recipients.unknown is not None or not recipients.chosen_by_zoho:
        return "; ".join(question.recipient_lines())
    whose = question.counterparty or "the customer"
    return (f"the contact persons Zoho has for {whose}, as read from Zoho for this question: "
            + "; ".join(question.recipient_lines()))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
