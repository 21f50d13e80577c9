"""What a call means in the terms a person thinks in (pure): how much money, for whom, dated when, emailed to
whom, and which of its fields reach beyond the record. Argument rules read these facts, and so does the
person asked to approve.

What the call itself does not say comes from what zbmcp read from Zoho for it (zbmcp.core.found): who a
customer's contact persons are (where `send=true` emails go), a stored document's charges, a currency's
decimal places. reads_for says what to read; what was not read, or could not be, is unknown and says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from zbmcp.core.amounts import precision_matters, takes_a_tax, tax_ids, written_amount
from zbmcp.core.found import NOTHING, Found, Person, Reads
from zbmcp.core.manifest import Effect, ToolSpec
from zbmcp.core.requests import ZohoRequest

COUNTERPARTY_FIELDS = ("customer_id", "vendor_id")
TAX_SCOPE = "ZohoBooks.settings.READ"  # zbmcp reads a tax's rate for the amount a rule reads


@dataclass(frozen=True)
class Recipients:
    """Who the call emails: the addresses it names, or the contact persons Zoho chooses (`chosen_by_zoho`),
    read from Zoho before the call is decided. `unknown` says why they could not be learnt."""

    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    chosen_by_zoho: bool = False
    people: tuple[Person, ...] = ()  # the contact persons behind `to`, when Zoho chooses
    unknown: str | None = None

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
    amount: float | None  # None: not knowable (amount_unknown says why)
    amount_unknown: str | None
    counterparty_id: str | None
    date: str | None
    recipients: Recipients
    emails: bool
    effects: tuple[FieldEffect, ...] = field(default_factory=tuple)
    currency: str | None = None  # the amount's, where a read says it
    found: Found = NOTHING  # what zbmcp read from Zoho for this call
    counterparty_unknown: str | None = None  # why the path's record's customer or vendor is not known

    @property
    def effect_names(self) -> list[str]:
        names = {effect.effect for effect in self.effects}
        if self.emails:
            names.add("emails")
        return sorted(names)


def facts_of(spec: ToolSpec, request: ZohoRequest, today: dt.date, found: Found = NOTHING) -> Facts:
    """`today`, the caller's date, dates a create that gives no date, as Zoho does; `found`, what zbmcp read
    from Zoho for this call (reads_for)."""
    arguments = call_arguments(request)
    effects = _effects(spec, arguments)
    amount, unknown = written_amount(tuple(spec.body or {}), arguments, precision=found.precision(),
                                     updates=_updates(spec), stored=found.document, taxes=found.taxes,
                                     moves_money=[e.field for e in effects if e.effect == "moves_money"])
    if writes_off(spec):
        amount, unknown = _written_off(found)
    return Facts(
        arguments=arguments,
        tool=spec.name,
        organization=request.organization_id,
        amount=float(amount) if amount is not None else None,
        amount_unknown=unknown,
        counterparty_id=_counterparty(arguments) or _path_party(spec, request, found),
        date=_date(spec, arguments, today),
        recipients=_recipients(effects, _counterparty(arguments), found),
        emails=spec.emails_customer or any(e.effect == "emails" for e in effects),
        effects=effects,
        currency=found.currency(),
        found=found,
        counterparty_unknown=None if _counterparty(arguments) else _path_party_unknown(spec, request, found),
    )


def reads_for(spec: ToolSpec, request: ZohoRequest, *, amount: bool, question: bool,
              date: bool = False, party: bool = False) -> Reads:
    """What zbmcp reads from Zoho for this call: before deciding it, who a field that emails reaches and,
    when a rule reads the `amount`, what the amount depends on; for a `question`, also the names, number
    and currency a person knows a call by. An undated create is dated today in the organization's time
    zone, read from Zoho when a rule reads the `date` or a person is asked."""
    arguments = call_arguments(request)
    lines = "line_items" in (spec.body or {}) and isinstance(arguments.get("line_items"), list)
    money = lines or "amount" in (spec.body or {})
    emails_through_a_field = any(effect.effect == "emails" for effect in _effects(spec, arguments))
    # the currency's decimal places: the counterparty's currency, and the organization's for it
    precise = amount and money and precision_matters(arguments)
    counterparty = question or emails_through_a_field or precise
    document = question or (amount and lines and _updates(spec)) or (amount and writes_off(spec)) \
        or (party and _counterparty(arguments) is None)  # whose record the path names
    path_ids = _path_ids(spec, request)
    dated_today = (question or date) and undated_create(spec, arguments)
    return Reads(counterparty=_counterparty(arguments) if counterparty else None,
                 document=path_ids[0] if document and path_ids else None,
                 organization=(question and money or precise or dated_today)
                 and request.organization_id is not None,
                 taxes=tax_ids(tuple(spec.body or {}), arguments) if amount or question else ())


def _path_party(spec: ToolSpec, request: ZohoRequest, found: Found) -> str | None:
    """The customer or vendor of the record the call's path names (a credit note refunded, an invoice a credit
    is applied to), when it was read; the call itself names none."""
    document, path_ids = found.document, _path_ids(spec, request)
    if document is None or not path_ids or document.id != path_ids[0] or document.unread is not None:
        return None
    return document.party_id


def _path_party_unknown(spec: ToolSpec, request: ZohoRequest, found: Found) -> str | None:
    """Why the customer or vendor of the record the path names is not known: it could not be read."""
    document, path_ids = found.document, _path_ids(spec, request)
    if document is None or not path_ids or document.id != path_ids[0] or document.unread is None:
        return None
    return f"the customer or vendor of {document.label()} is not known"


def writes_off(spec: ToolSpec) -> bool:
    """A write-off (POST /invoices/{id}/writeoff): it names no amount, and settles what the record still
    owes."""
    return spec.method == "POST" and spec.path.endswith("/writeoff")


def _written_off(found: Found) -> tuple[Decimal | None, str | None]:
    """A write-off's amount: the balance of the record it writes off, read from Zoho before deciding."""
    document = found.document
    if document is None:
        return None, "it writes off the record's balance, which was not read"
    if document.unread is not None or document.balance is None:
        return None, (f"it writes off the record's balance, which could not be read from Zoho "
                      f"({document.unread or 'Zoho did not say it'})")
    return document.balance, None


def undated_create(spec: ToolSpec, arguments: Mapping[str, Any]) -> bool:
    """A create that leaves its date to Zoho, which dates it today in the organization's time zone."""
    return (spec.method == "POST" and not spec.read_only and "date" in (spec.body or {})
            and not isinstance(arguments.get("date"), str))


def tax_read_scopes(tools: Mapping[str, ToolSpec], reads_amount: Callable[[str], bool]) -> set[str]:
    """The scope zbmcp's read of a tax's rate needs, when a rule reads the amount of a tool taking a
    tax_id."""
    taxed = any(takes_a_tax(spec.body or {}) and reads_amount(name) for name, spec in tools.items())
    return {TAX_SCOPE} if taxed else set()


def emailed_counterparty(spec: ToolSpec, request: ZohoRequest) -> str | None:
    """The customer whose contact persons Zoho will email for this call (a field such as send=true, and no
    address named); None when the call emails nobody that way."""
    arguments = call_arguments(request)
    kinds = {effect.effect for effect in _effects(spec, arguments)}
    if "emails" not in kinds or "recipients" in kinds:
        return None
    return _counterparty(arguments)


def call_arguments(request: ZohoRequest) -> dict[str, Any]:
    """The call's arguments as Zoho gets them: query (but organization_id) and body together, with query
    booleans as booleans again."""
    arguments: dict[str, Any] = {k: _query_value(v) for k, v in request.params if k != "organization_id"}
    arguments.update(request.body or {})
    return arguments


def _effects(spec: ToolSpec, arguments: Mapping[str, Any]) -> tuple[FieldEffect, ...]:
    return tuple(FieldEffect(name, effect, value) for name, effect in spec.outside_effects
                 if _present(value := arguments.get(name)))


def _updates(spec: ToolSpec) -> bool:
    """The call changes a stored document, keeping what it does not send."""
    return spec.method in ("PUT", "PATCH") and bool(spec.path_params)


def _path_ids(spec: ToolSpec, request: ZohoRequest) -> list[str]:
    pairs = zip(spec.path.split("/"), request.path.split("/"), strict=False)
    return [value for template, value in pairs if template.startswith("{")]


def _counterparty(arguments: Mapping[str, Any]) -> str | None:
    return next((str(arguments[f]) for f in COUNTERPARTY_FIELDS if arguments.get(f)), None)


def _query_value(value: str) -> Any:
    return {"true": True, "false": False}.get(value, value)


def _present(value: Any) -> bool:
    """Does the value set the field? send=false, [] and "" leave Zoho's behaviour as without them."""
    return value not in (None, False, "", [], {})


def _recipients(effects: tuple[FieldEffect, ...], counterparty: str | None, found: Found) -> Recipients:
    found_named: dict[str, list[str]] = {"to": [], "cc": [], "bcc": []}
    for effect in effects:
        if effect.effect != "recipients" or not isinstance(effect.value, list):
            continue
        kind = "bcc" if effect.field.startswith("bcc") else "cc" if effect.field.startswith("cc") else "to"
        found_named[kind] += [str(address) for address in effect.value]
    named = Recipients(tuple(found_named["to"]), tuple(found_named["cc"]), tuple(found_named["bcc"]))
    if named.all() or not any(effect.effect == "emails" for effect in effects):
        return named
    # A field such as send=true names nobody: Zoho emails the customer's contact persons. Every one with an
    # address counts (Zoho's files say "the contact person(s) associated", and may mean fewer).
    party = found.counterparty
    if counterparty is None:
        return Recipients(chosen_by_zoho=True, unknown="the call names no customer whose contact persons "
                                                       "Zoho would email")
    if party is None or party.id != counterparty:
        return Recipients(chosen_by_zoho=True, unknown=f"the contact persons of {counterparty} were not read")
    if party.unread is not None:
        return Recipients(chosen_by_zoho=True, unknown=f"the contact persons of {counterparty} could not be "
                                                       f"read from Zoho ({party.unread})")
    return Recipients(to=tuple(person.email for person in party.persons), chosen_by_zoho=True,
                      people=party.persons)


def _date(spec: ToolSpec, arguments: Mapping[str, Any], today: dt.date) -> str | None:
    if spec.read_only or "date" not in (spec.body or {}):
        return None
    if isinstance(arguments.get("date"), str):
        return str(arguments["date"])
    # Zoho dates a new document today when the call gives no date; an update keeps the stored one (unknown).
    return today.isoformat() if spec.method == "POST" else None
