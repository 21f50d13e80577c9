"""In-memory state: organizations, and one OrgStore of records per organization.

Records are plain dicts in Zoho's shape. Keys starting with "_" are the sandbox's own bookkeeping (insertion
order, lifecycle, applied payments) and are stripped before anything is sent to a client.
Ids come from one counter per sandbox, so a freshly seeded sandbox always has the same ids.
Time is the organization's: "today" (default dates, overdue, report periods) and timestamps are in its
time_zone, as Zoho keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

Clock = Callable[[], float]
Record = dict[str, Any]

COLLECTIONS = (
    "contacts", "items", "accounts", "invoices", "estimates", "salesorders", "bills", "purchaseorders",
    "expenses", "payments", "vendorpayments", "journals", "taxes", "banktransactions",
    "creditnotes", "vendorcredits", "creditnote_refunds", "vendorcredit_refunds", "payment_refunds",
    "vendorpayment_refunds",
)

# Auto-numbering per organization (§9.7): prefix and digits.
NUMBERING: dict[str, tuple[str, int]] = {
    "invoice": ("INV-", 6),
    "estimate": ("EST-", 6),
    "salesorder": ("SO-", 5),
    "purchaseorder": ("PO-", 5),
    "payment": ("", 1),
    "vendorpayment": ("", 1),
    "journal": ("", 1),
    "creditnote": ("CN-", 5),
    "vendorcredit": ("DN-", 5),
}


# The day each organization's books start: opening balances are dated then (Zoho's "opening balance date").
BOOKS_START = "2024-01-02"


class IdGenerator:
    """Long numeric string ids like Zoho's (§2), deterministic per sandbox."""

    def __init__(self, start: int = 460000000026049) -> None:
        self._next = start

    def __call__(self) -> str:
        value = self._next
        self._next += 1
        return str(value)


@dataclass
class Organization:
    organization_id: str
    name: str
    owner_user_id: str
    currency_id: str
    currency_code: str
    currency_symbol: str
    time_zone: str
    contact_name: str
    email: str
    country: str
    is_default_org: bool = False
    plan_name: str = "PROFESSIONAL"

    def as_zoho(self) -> Record:
        """The organizations[] row of §4.0."""
        return {
            "organization_id": self.organization_id,
            "name": self.name,
            "contact_name": self.contact_name,
            "email": self.email,
            "is_default_org": self.is_default_org,
            "plan_type": 130,
            "plan_name": self.plan_name,
            "plan_period": "Monthly",
            "language_code": "en",
            "fiscal_year_start_month": 0,
            "account_created_date": BOOKS_START,
            "time_zone": self.time_zone,
            "is_org_active": True,
            "currency_id": self.currency_id,
            "currency_code": self.currency_code,
            "currency_symbol": self.currency_symbol,
            "currency_format": "###,##0.00",
            "price_precision": 2,
            "country": self.country,
        }


class OrgStore:
    """Every record of one organization. Handlers validate first, then mutate: a refused
    write leaves no trace."""

    def __init__(self, organization: Organization, ids: IdGenerator, clock: Clock) -> None:
        self.organization = organization
        self._ids = ids
        self._clock = clock
        self._seq = 0
        self._numbers: dict[str, int] = {}
        self.contacts: dict[str, Record] = {}
        self.items: dict[str, Record] = {}
        self.accounts: dict[str, Record] = {}  # chart of accounts; bank and card accounts are rows of it too
        self.invoices: dict[str, Record] = {}
        self.estimates: dict[str, Record] = {}
        self.salesorders: dict[str, Record] = {}
        self.bills: dict[str, Record] = {}
        self.purchaseorders: dict[str, Record] = {}
        self.expenses: dict[str, Record] = {}
        self.payments: dict[str, Record] = {}  # customer payments
        self.vendorpayments: dict[str, Record] = {}
        self.journals: dict[str, Record] = {}  # manual journals
        self.taxes: dict[str, Record] = {}
        self.banktransactions: dict[str, Record] = {}  # bank and card feeds, and transactions added by hand
        self.creditnotes: dict[str, Record] = {}
        self.vendorcredits: dict[str, Record] = {}
        self.creditnote_refunds: dict[str, Record] = {}
        self.vendorcredit_refunds: dict[str, Record] = {}
        self.payment_refunds: dict[str, Record] = {}  # a customer payment's unused amount paid back
        self.vendorpayment_refunds: dict[str, Record] = {}  # a vendor payment's unused balance paid back
        self.webhooks: dict[str, Record] = {}  # what workflow rules call (rules/webhooks.py, workflows.py)
        # Records of the modules the sandbox emulates generically, by resource ("/projects/{}/tasks")
        self.generic: dict[str, dict[str, Record]] = {}

    @property
    def organization_id(self) -> str:
        return self.organization.organization_id

    def collection(self, name: str) -> dict[str, Record]:
        if name not in COLLECTIONS:
            raise KeyError(name)
        result: dict[str, Record] = getattr(self, name)
        return result

    def new_id(self) -> str:
        return self._ids()

    def add(self, collection: str, record_id: str, record: Record) -> Record:
        self._seq += 1
        record["_seq"] = self._seq
        self.collection(collection)[record_id] = record
        return record

    def add_generic(self, resource: str, record_id: str, record: Record) -> Record:
        self._seq += 1
        record["_seq"] = self._seq
        self.generic.setdefault(resource, {})[record_id] = record
        return record

    def next_number(self, kind: str, taken: Iterable[str]) -> str:
        """The next free auto-number; numbers a client chose itself are skipped, never reused."""
        prefix, digits = NUMBERING[kind]
        used = set(taken)
        while True:
            self._numbers[kind] = self._numbers.get(kind, 0) + 1
            candidate = f"{prefix}{self._numbers[kind]:0{digits}d}"
            if candidate not in used:
                return candidate

    def now(self) -> datetime:
        """The sandbox clock's moment in the organization's time zone."""
        return datetime.fromtimestamp(self._clock(), ZoneInfo(self.organization.time_zone))

    def today(self) -> date:
        return self.now().date()

    def timestamp(self) -> str:
        """ISO-8601 with an offset, as Zoho writes created_time (§2)."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%S%z")


def public(record: Record) -> Record:
    """The record as a client sees it: bookkeeping keys removed."""
    return {key: value for key, value in record.items() if not key.startswith("_")}
