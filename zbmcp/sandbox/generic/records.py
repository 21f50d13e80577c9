"""Where the generic handlers find records: their own (OrgStore.generic, by resource), and the records a rule
module keeps (invoices, contacts, ...), which they read and, where OWNED says, mark.

A generic record is the body fields Zoho's file documents, as sent, with its id, its parents' ids (kept in
`_parents`, so a task of one project is not found under another), a status where Zoho's example has one, and
created_time and last_modified_time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zbmcp.sandbox.errors import ZohoError, invalid_value, not_found
from zbmcp.sandbox.fields import parse_id
from zbmcp.sandbox.generic.data import RESOURCES, Resource
from zbmcp.sandbox.rules.accounts import BANK_TYPES
from zbmcp.sandbox.store import OrgStore, Record


def _is_bank(record: Record) -> bool:
    return record["account_type"] in BANK_TYPES


@dataclass(frozen=True)
class Owned:
    """A resource a rule module keeps: its collection in OrgStore, its records' id field, the name its rules
    give a missing record, and the field a generic status action may set (None: the record's status is the
    rules' alone, because the books read it)."""

    collection: str
    id_field: str
    thing: str
    status_field: str | None = None
    select: Callable[[Record], bool] | None = None


OWNED: dict[str, Owned] = {
    "/invoices": Owned("invoices", "invoice_id", "Invoice"),
    "/bills": Owned("bills", "bill_id", "Bill"),
    "/expenses": Owned("expenses", "expense_id", "Expense"),
    "/customerpayments": Owned("payments", "payment_id", "Customer payment"),
    "/vendorpayments": Owned("vendorpayments", "payment_id", "Vendor payment"),
    "/journals": Owned("journals", "journal_id", "Journal"),
    "/settings/taxes": Owned("taxes", "tax_id", "Tax"),
    "/banktransactions": Owned("banktransactions", "transaction_id", "Transaction"),
    "/creditnotes": Owned("creditnotes", "creditnote_id", "Credit note"),
    "/creditnotes/{}/refunds": Owned("creditnote_refunds", "creditnote_refund_id", "Refund"),
    "/vendorcredits": Owned("vendorcredits", "vendor_credit_id", "Vendor credit"),
    "/vendorcredits/{}/refunds": Owned("vendorcredit_refunds", "vendor_credit_refund_id", "Refund"),
    "/contacts": Owned("contacts", "contact_id", "Contact", "status"),
    "/estimates": Owned("estimates", "estimate_id", "Estimate", "status"),
    "/salesorders": Owned("salesorders", "salesorder_id", "Sales Order", "status"),
    "/purchaseorders": Owned("purchaseorders", "purchaseorder_id", "Purchase Order", "status"),
    "/items": Owned("items", "item_id", "Item", "status"),
    "/bankaccounts": Owned("accounts", "account_id", "Account", "is_active", _is_bank),
    "/chartofaccounts": Owned("accounts", "account_id", "Account", "is_active"),
}

# Body fields naming another record, checked like the rules check theirs (400 code 2 naming the field):
# resource, and the contact type a contact must have.
REFERENCES: dict[str, tuple[str, str | None]] = {
    "customer_id": ("/contacts", "customer"),
    "vendor_id": ("/contacts", "vendor"),
    "contact_id": ("/contacts", None),
    "account_id": ("/chartofaccounts", None),
    "item_id": ("/items", None),
    "project_id": ("/projects", None),
    "task_id": ("/projects/{}/tasks", None),
    "user_id": ("/users", None),
    "currency_id": ("/settings/currencies", None),
    "employee_id": ("/employees", None),
    "location_id": ("/locations", None),
    "fixed_asset_type_id": ("/fixedassettypes", None),
    "tax_authority_id": ("/settings/taxauthorities", None),
    "tax_exemption_id": ("/settings/taxexemptions", None),
}


def resource(path: str) -> Resource:
    return RESOURCES[path]


def identity(of: Resource) -> set[str]:
    """The fields that say which record this is and where it lives: its id and its parents' ids. No body
    sets them (Zoho's files document tax_id in PUT /settings/taxes/{tax_id}'s body, for one)."""
    names = {of.id_field}
    current = of
    while current.parent is not None and current.parent in RESOURCES:
        current = RESOURCES[current.parent]
        names.add(current.id_field)
    return names


def id_of(of: Resource, record: Record) -> str:
    """A record's id (a rule module may name its id field otherwise than Zoho's path does)."""
    own = OWNED.get(of.path)
    return str(record[own.id_field if own is not None else of.id_field])


def documents_of(of: Resource) -> Resource:
    """Where a record's attachments are kept: Zoho's `/invoices/{}/documents`, or one like it."""
    path = f"{of.path}/{{}}/documents"
    return RESOURCES.get(path) or Resource(path, "document_id", "document", "documents", "Attachment", None,
                                           ("file_name",))


def records(store: OrgStore, of: Resource, parents: tuple[str, ...] | None) -> list[Record]:
    """A resource's generic records, oldest first; only those under `parents` when given."""
    found = store.generic.get(of.path, {}).values()
    return sorted((record for record in found if parents is None or tuple(record["_parents"]) == parents),
                  key=lambda record: record["_seq"])


def find(store: OrgStore, of: Resource, record_id: str, parents: tuple[str, ...] | None) -> Record:
    """The record, its own or a rule module's; 404 code 1002 when it (or a parent) does not exist."""
    if parents:
        check_parents(store, of, parents)
    own = OWNED.get(of.path)
    if own is not None:
        record = store.collection(own.collection).get(record_id)
        if record is None or (own.select is not None and not own.select(record)):
            raise not_found(own.thing)
        return record
    found = store.generic.get(of.path, {}).get(record_id)
    if found is None or (parents is not None and tuple(found["_parents"]) != parents):
        raise not_found(of.thing)
    return found


def check_parents(store: OrgStore, of: Resource, parents: tuple[str, ...]) -> None:
    """Each parent exists: a task's project, an address's contact (a custom module's name is no record)."""
    if of.parent is None or of.parent not in RESOURCES:
        return
    parent = RESOURCES[of.parent]
    find(store, parent, parents[-1], parents[:-1] if parent.depth else ())


def reference(store: OrgStore, name: str, value: Any) -> None:
    """A body field naming another record: it must exist (and a contact be of the right type)."""
    path, contact_type = REFERENCES[name]
    record_id = parse_id(value, name)
    try:
        record = find(store, RESOURCES[path], record_id, None)
    except ZohoError:
        raise invalid_value(name) from None
    if contact_type is not None and record.get("contact_type") != contact_type:
        raise invalid_value(name)
