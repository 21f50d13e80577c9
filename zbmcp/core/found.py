"""What zbmcp read from Zoho about a call, for its decision and for the question a person answers (pure: the
values, what to read, and Zoho's answers turned into them).

zbmcp reads these itself (zbmcp.calls.lookups), on the call's own connection, paced and audited as reads,
whatever the agent may read: who a customer's contact persons are decides where `send=true` emails go, and
a person approving a call should see names, numbers and money rather than ids. A read that fails leaves its
value `unread`, saying why, and nothing is guessed in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

PRECISIONS = (0, 1, 2, 3)  # the decimal places a Zoho currency can have


@dataclass(frozen=True)
class Person:
    """A contact person Zoho may email."""

    email: str
    name: str
    primary: bool

    def label(self) -> str:
        role = "primary contact person" if self.primary else "contact person"
        return f"{self.email} ({self.name + ', ' if self.name else ''}{role})"


@dataclass(frozen=True)
class Party:
    """A customer or vendor as Zoho has it; `unread` says why it could not be read (then nothing else is
    known)."""

    id: str
    name: str | None = None
    currency: str | None = None
    persons: tuple[Person, ...] = ()
    unread: str | None = None

    def label(self) -> str:
        if self.unread is not None:
            return f"{self.id} (its name could not be read from Zoho: {self.unread})"
        return f"{self.name} ({self.id})" if self.name else self.id


@dataclass(frozen=True)
class Document:
    """An existing record a call acts on (the invoice to email, the invoice to update)."""

    kind: str  # "invoice"
    id: str
    number: str | None = None
    party: str | None = None  # the customer's or vendor's name
    total: Decimal | None = None
    currency: str | None = None
    precision: int | None = None
    shipping_charge: Decimal = Decimal(0)  # what an update that sends its lines keeps
    adjustment: Decimal = Decimal(0)
    unread: str | None = None
    balance: Decimal | None = None  # what is still owed on it (what a write-off settles)
    party_id: str | None = None  # its customer's or vendor's id

    def label(self) -> str:
        if self.unread is not None:
            return f"{self.kind} {self.id} (it could not be read from Zoho: {self.unread})"
        if self.number is None and self.party:  # a record known by its name, such as a contact
            text = f"{self.kind} {self.party} ({self.id})"
        else:
            text = f"{self.kind} {self.number} ({self.id})" if self.number else f"{self.kind} {self.id}"
            text += f" for {self.party}" if self.party else ""
        if self.total is not None:
            text += f", total {money_text(self.total, self.currency)}"
        return text


@dataclass(frozen=True)
class Tax:
    """A tax a call's lines name (GET /settings/taxes/{id}): its rate in percent."""

    id: str
    percentage: Decimal | None = None
    unread: str | None = None


@dataclass(frozen=True)
class Organization:
    id: str
    currency: str | None = None
    precision: int | None = None
    unread: str | None = None
    time_zone: str | None = None  # its IANA name ("America/New_York"), in which Zoho dates its documents


@dataclass(frozen=True)
class Found:
    """Everything read for one call; None: not read (not needed, or not yet)."""

    counterparty: Party | None = None
    document: Document | None = None
    organization: Organization | None = None
    taxes: tuple[Tax, ...] = ()

    def merged(self, other: Found) -> Found:
        taxes = {tax.id: tax for tax in (*self.taxes, *other.taxes)}
        return Found(other.counterparty or self.counterparty, other.document or self.document,
                     other.organization or self.organization, tuple(taxes.values()))

    def tax(self, tax_id: str) -> Tax | None:
        return next((tax for tax in self.taxes if tax.id == tax_id), None)

    def currency(self) -> str | None:
        """The currency a call's money is in: the document's, the counterparty's, else the organization's."""
        for source in (self.document, self.counterparty):
            if source is not None and source.currency:
                return source.currency
        if self.counterparty is not None:
            return None  # a counterparty whose currency is unknown may not use the organization's
        return self.organization.currency if self.organization is not None else None

    def precision(self) -> int | None:
        """The decimal places Zoho rounds this call's money to, where a read says so; None when unsure."""
        if self.document is not None and self.document.precision is not None:
            return self.document.precision
        organization, party = self.organization, self.counterparty
        if organization is None or organization.precision is None or party is None:
            return None
        return organization.precision if party.currency and party.currency == organization.currency else None


NOTHING = Found()


@dataclass(frozen=True)
class Reads:
    """What to read from Zoho for one call: a contact, an existing record, the organization's currency, the
    taxes its lines name."""

    counterparty: str | None = None  # a contact id
    document: str | None = None  # the id in the call's path (its first path parameter)
    organization: bool = False
    taxes: tuple[str, ...] = ()  # tax ids

    def __bool__(self) -> bool:
        return bool(self.counterparty or self.document or self.organization or self.taxes)

    def without(self, found: Found) -> Reads:
        """These reads less the ones already done."""
        return Reads(None if found.counterparty is not None else self.counterparty,
                     None if found.document is not None else self.document,
                     self.organization and found.organization is None,
                     tuple(tax_id for tax_id in self.taxes if found.tax(tax_id) is None))


# -- Zoho's answers -----------------------------------------------------------------------------------------


def party_from(contact_id: str, contact: Mapping[str, Any]) -> Party:
    """A contact (GET /contacts/{id}) as a Party: its name, currency and every contact person with an
    address."""
    persons = []
    for entry in contact.get("contact_persons") or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("email"), str) or not entry["email"]:
            continue
        name = " ".join(str(entry.get(key) or "") for key in ("first_name", "last_name")).strip()
        primary = bool(entry.get("is_primary_contact"))
        persons.append(Person(_one_line(entry["email"]), _one_line(name), primary))
    persons.sort(key=lambda person: not person.primary)
    return Party(contact_id, _text(contact.get("contact_name")), _text(contact.get("currency_code")),
                 tuple(persons))


def document_from(kind: str, document_id: str, record: Mapping[str, Any]) -> Document:
    """A record of any module (an invoice, an estimate, a payment) by the fields they share."""
    number = next((_text(record[key]) for key in record
                   if key.endswith("_number") and key != "reference_number" and _text(record[key])), None)
    party = next((_text(record[key]) for key in ("customer_name", "vendor_name", "contact_name")
                  if _text(record.get(key))), None)
    total = _decimal(record.get("total", record.get("amount")))
    precision = record.get("price_precision")
    return Document(kind, document_id, number, party, total, _text(record.get("currency_code")),
                    precision if isinstance(precision, int) and precision in PRECISIONS else None,
                    _decimal(record.get("shipping_charge")) or Decimal(0),
                    _decimal(record.get("adjustment")) or Decimal(0), balance=_decimal(record.get("balance")),
                    party_id=next((str(record[key]) for key in ("customer_id", "vendor_id", "contact_id")
                                   if isinstance(record.get(key), str | int) and str(record[key])), None))


def organization_from(organization_id: str, organizations: Any) -> Organization:
    """The organization's base currency and its decimal places, from GET /organizations."""
    for entry in organizations if isinstance(organizations, list) else []:
        if isinstance(entry, Mapping) and str(entry.get("organization_id")) == organization_id:
            precision = entry.get("price_precision")
            return Organization(organization_id, _text(entry.get("currency_code")),
                                precision if isinstance(precision, int) and precision in PRECISIONS else None,
                                time_zone=_text(entry.get("time_zone")))
    return Organization(organization_id, unread="Zoho did not list it")


def tax_from(tax_id: str, record: Mapping[str, Any]) -> Tax:
    """A tax (GET /settings/taxes/{id}) by its rate; a rate that is not a number from 0 to 100 is unread."""
    percentage = _decimal(record.get("tax_percentage"))
    if percentage is None or not Decimal(0) <= percentage <= Decimal(100):
        return Tax(tax_id, unread="Zoho's answer has no tax_percentage from 0 to 100")
    return Tax(tax_id, percentage)


def money_text(value: Decimal | float, currency: str | None) -> str:
    """5,002.50 EUR; every digit the amount has (5,000.004 is not 5,000.00), and the currency said to be
    unknown rather than left out."""
    number = Decimal(str(value))
    exponent = number.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{number:,.{min(places, 6)}f} " + (currency or "(currency unknown)")


def _text(value: Any) -> str | None:
    return _one_line(value) if isinstance(value, str) and value.strip() else None


def _one_line(text: str) -> str:
    """A name from Zoho, on one line and bounded: it is shown inside the question a person answers."""
    return " ".join(text.split())[:200]


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
