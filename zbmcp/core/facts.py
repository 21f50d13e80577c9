"""What a call means in the terms a person thinks in (pure): how much money, for whom, dated when, emailed to
whom, and which of its fields reach beyond the record. Argument rules read these facts, and so does the
person asked to approve. Nothing is looked up: what the call itself does not say is unknown, and says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from zbmcp.core.manifest import Effect, ToolSpec
from zbmcp.core.requests import ZohoRequest

COUNTERPARTY_FIELDS = ("customer_id", "vendor_id")


@dataclass(frozen=True)
class Recipients:
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (*self.to, *self.cc, *self.bcc)


@dataclass(frozen=True)
class FieldEffect:
    """A field of this call that reaches beyond the record it writes, with the value it carries."""

    field: str  # dotted path: send, invoices, to_mail_ids
    effect: Effect
    value: Any


@dataclass(frozen=True)
class Facts:
    arguments: Mapping[str, Any]  # the call's arguments as Zoho gets them (call_arguments)
    tool: str
    organization: str | None
    amount: float | None  # None: not knowable from the call alone (amount_unknown says why)
    amount_unknown: str | None
    counterparty_id: str | None
    date: str | None
    recipients: Recipients
    emails: bool
    effects: tuple[FieldEffect, ...] = field(default_factory=tuple)

    @property
    def effect_names(self) -> list[str]:
        names = {effect.effect for effect in self.effects}
        if self.emails:
            names.add("emails")
        return sorted(names)


def facts_of(spec: ToolSpec, request: ZohoRequest, today: dt.date) -> Facts:
    """`today`, the caller's date, dates a create that gives no date, as Zoho does."""
    arguments = call_arguments(request)
    effects = tuple(FieldEffect(name, effect, value) for name, effect in spec.outside_effects
                    if _present(value := arguments.get(name)))
    amount, unknown = _amount(spec, arguments)
    return Facts(
        arguments=arguments,
        tool=spec.name,
        organization=request.organization_id,
        amount=amount,
        amount_unknown=unknown,
        counterparty_id=next((str(arguments[f]) for f in COUNTERPARTY_FIELDS if arguments.get(f)), None),
        date=_date(spec, arguments, today),
        recipients=_recipients(effects),
        emails=spec.emails_customer or any(e.effect == "emails" for e in effects),
        effects=effects,
    )


def call_arguments(request: ZohoRequest) -> dict[str, Any]:
    """The call's arguments as Zoho gets them: query (but organization_id) and body together, with query
    booleans as booleans again."""
    arguments: dict[str, Any] = {k: _query_value(v) for k, v in request.params if k != "organization_id"}
    arguments.update(request.body or {})
    return arguments


def _query_value(value: str) -> Any:
    return {"true": True, "false": False}.get(value, value)


def _present(value: Any) -> bool:
    """Does the value set the field? send=false, [] and "" leave Zoho's behaviour as without them."""
    return value not in (None, False, "", [], {})


def _recipients(effects: tuple[FieldEffect, ...]) -> Recipients:
    found: dict[str, list[str]] = {"to": [], "cc": [], "bcc": []}
    for effect in effects:
        if effect.effect != "recipients" or not isinstance(effect.value, list):
            continue
        kind = "bcc" if effect.field.startswith("bcc") else "cc" if effect.field.startswith("cc") else "to"
        found[kind] += [str(address) for address in effect.value]
    return Recipients(tuple(found["to"]), tuple(found["cc"]), tuple(found["bcc"]))


def _date(spec: ToolSpec, arguments: Mapping[str, Any], today: dt.date) -> str | None:
    if spec.read_only or "date" not in (spec.body or {}):
        return None
    if isinstance(arguments.get("date"), str):
        return str(arguments["date"])
    # Zoho dates a new document today when the call gives no date; an update keeps the stored one (unknown).
    return today.isoformat() if spec.method == "POST" else None


def _amount(spec: ToolSpec, arguments: Mapping[str, Any]) -> tuple[float | None, str | None]:
    body = spec.body or {}
    if "amount" in body:
        return _number(arguments.get("amount")), None
    if "line_items" not in body:
        return 0.0, None
    lines = arguments.get("line_items")
    if not isinstance(lines, list):
        return None, "the call sends no line_items, so the total stays whatever it was"
    total = Decimal(0)
    for index, line in enumerate(lines):
        rate = line.get("rate") if isinstance(line, Mapping) else None
        if rate is None:
            return None, (f"line_items[{index}] has no rate (Zoho would take the item's own price); give "
                          "every line a rate")
        gross = _decimal(rate) * _decimal(line.get("quantity", 1))
        total += gross - _discount(line.get("discount"), gross)
    return float(total), None


def _discount(raw: Any, gross: Decimal) -> Decimal:
    if raw is None or raw == "":
        return Decimal(0)
    if isinstance(raw, str) and raw.endswith("%"):
        return gross * _decimal(raw[:-1]) / 100
    return _decimal(raw)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:  # validation let only numbers and "10%" through; be safe anyway
        return Decimal(0)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
