"""What every business-rule handler receives (Call) and returns (Reply), and the lookups they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zbmcp.sandbox.bodies import Upload
from zbmcp.sandbox.errors import invalid_value, not_found
from zbmcp.sandbox.fields import parse_bool
from zbmcp.sandbox.records import OutboxEmail
from zbmcp.sandbox.settings import SandboxSettings
from zbmcp.sandbox.store import Organization, OrgStore, Record


@dataclass
class Env:
    """Sandbox-wide things a handler may need besides its organization's records."""

    settings: SandboxSettings
    outbox: list[OutboxEmail]
    clock: Callable[[], float]
    organizations: list[Organization] = field(default_factory=list)  # the caller's, for GET /organizations


@dataclass
class Call:
    env: Env
    store: OrgStore | None  # None only for GET /organizations
    params: dict[str, str]
    query: Mapping[str, str]
    body: dict[str, Any] | None
    user_id: str | None = None  # the caller's ZUID
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    files: Mapping[str, Upload] = field(default_factory=dict)  # a multipart request's files, by field

    @property
    def org(self) -> OrgStore:
        assert self.store is not None, "route declared without an organization"
        return self.store

    @property
    def data(self) -> dict[str, Any]:
        return self.body or {}

    def flag(self, name: str) -> bool:
        """A boolean query flag such as send=true or ignore_auto_number_generation=true."""
        value = self.query.get(name)
        if value is None or value == "":
            return False
        if value.lower() not in ("true", "false"):
            raise invalid_value(name)
        return value.lower() == "true"

    def sends(self) -> bool:
        """send=true on a create, as a query flag or as a body field: Zoho's files document both for invoices,
        and only the query for estimates; the sandbox honours either (a body `send` emails too)."""
        in_body = self.data.get("send")
        if in_body is not None and in_body != "":
            return self.flag("send") or parse_bool(in_body, "send")
        return self.flag("send")


@dataclass(frozen=True)
class Reply:
    status: int
    message: str
    key: str | None = None
    value: Any = None
    page_context: dict[str, Any] | None = None

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": 0, "message": self.message}
        if self.key is not None:
            body[self.key] = self.value
        if self.page_context is not None:
            body["page_context"] = self.page_context
        return body


Handler = Callable[[Call], Reply]


def existing(records: dict[str, Record], record_id: str, thing: str) -> Record:
    record = records.get(record_id)
    if record is None:
        raise not_found(thing)
    return record


def contact_ref(store: OrgStore, contact_id: str, field_name: str, contact_type: str) -> Record:
    """A body's customer_id / vendor_id: it must exist and be of the right kind, else 400 naming the field."""
    contact = store.contacts.get(contact_id)
    if contact is None or contact["contact_type"] != contact_type:
        raise invalid_value(field_name)
    return contact


def account_ref(store: OrgStore, account_id: str, field_name: str,
                types: frozenset[str] | None = None) -> Record:
    account = store.accounts.get(account_id)
    if account is None or (types is not None and account["account_type"] not in types):
        raise invalid_value(field_name)
    return account


def primary_email(contact: Record) -> str | None:
    persons = sorted(contact.get("contact_persons", []),
                     key=lambda person: not person.get("is_primary_contact"))
    for person in persons:
        if person.get("email"):
            return str(person["email"])
    return None


def payment_terms_label(days: int) -> str:
    return "Due on Receipt" if days == 0 else f"Net {days}"
