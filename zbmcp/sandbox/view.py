"""StoreView: read access to one organization's records for assertions, shaped as the API shows them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

from zbmcp.sandbox import ledger
from zbmcp.sandbox.rules import accounts, bills, contacts, estimates, invoices
from zbmcp.sandbox.store import OrgStore, Record, public

_PRESENTERS: dict[str, Callable[[OrgStore, Record], Record]] = {
    "invoices": invoices.present,
    "contacts": contacts.present,
    "estimates": estimates.present,
    "bills": bills.present,
}


class StoreView:
    """Copies, never the live records: changing what a view returns changes nothing in the sandbox."""

    def __init__(self, store: OrgStore, lock: AbstractContextManager[Any]) -> None:
        self._store = store
        self._lock = lock

    @property
    def organization_id(self) -> str:
        return self._store.organization_id

    @property
    def organization(self) -> Record:
        return self._store.organization.as_zoho()

    @property
    def today(self) -> date:
        """The organization's today, by the sandbox's clock."""
        return self._store.today()

    def records(self, collection: str) -> dict[str, Record]:
        present = _PRESENTERS.get(collection, lambda store, record: record)
        with self._lock:
            records = self._store.collection(collection)
            if collection == "accounts":  # one ledger for every balance
                return {record["account_id"]: public(record)
                        for record in accounts.present_all(self._store, list(records.values()))}
            return {record_id: public(present(self._store, record)) for record_id, record in records.items()}

    @property
    def contacts(self) -> dict[str, Record]:
        return self.records("contacts")

    @property
    def items(self) -> dict[str, Record]:
        return self.records("items")

    @property
    def accounts(self) -> dict[str, Record]:
        """The chart of accounts; bank and credit-card accounts are among them."""
        return self.records("accounts")

    @property
    def invoices(self) -> dict[str, Record]:
        return self.records("invoices")

    @property
    def estimates(self) -> dict[str, Record]:
        return self.records("estimates")

    @property
    def salesorders(self) -> dict[str, Record]:
        return self.records("salesorders")

    @property
    def bills(self) -> dict[str, Record]:
        return self.records("bills")

    @property
    def purchaseorders(self) -> dict[str, Record]:
        return self.records("purchaseorders")

    @property
    def expenses(self) -> dict[str, Record]:
        return self.records("expenses")

    @property
    def payments(self) -> dict[str, Record]:
        """Customer payments."""
        return self.records("payments")

    @property
    def vendorpayments(self) -> dict[str, Record]:
        return self.records("vendorpayments")

    @property
    def journals(self) -> dict[str, Record]:
        """Manual journals."""
        return self.records("journals")

    @property
    def banktransactions(self) -> dict[str, Record]:
        """Bank and card feeds' statement lines, and transactions added by hand."""
        return self.records("banktransactions")

    @property
    def creditnotes(self) -> dict[str, Record]:
        return self.records("creditnotes")

    @property
    def vendorcredits(self) -> dict[str, Record]:
        return self.records("vendorcredits")

    @property
    def taxes(self) -> dict[str, Record]:
        return self.records("taxes")

    def generic(self, resource: str, *parents: str) -> dict[str, Record]:
        """Records of a module the sandbox emulates generically, by resource: generic("/projects"),
        generic("/projects/{}/tasks", project_id) for one project's tasks."""
        with self._lock:
            found = self._store.generic.get(resource, {})
            return {record_id: public(record) for record_id, record in found.items()
                    if tuple(record["_parents"][:len(parents)]) == parents}

    def journal(self) -> list[ledger.Entry]:
        """The organization's double-entry journal as it stands (zbmcp/sandbox/ledger.py)."""
        with self._lock:
            return ledger.journal(self._store)

    def find(self, collection: str, **match: Any) -> Record | None:
        """The first record whose fields equal every keyword, e.g. find("contacts",
        contact_name="Initech")."""
        for record in self.records(collection).values():
            if all(record.get(key) == value for key, value in match.items()):
                return record
        return None

    def contact_id(self, name: str) -> str:
        return self._id("contacts", "contact_id", contact_name=name)

    def item_id(self, name: str) -> str:
        return self._id("items", "item_id", name=name)

    def account_id(self, name: str) -> str:
        return self._id("accounts", "account_id", account_name=name)

    def invoice_id(self, number: str) -> str:
        return self._id("invoices", "invoice_id", invoice_number=number)

    def _id(self, collection: str, key: str, **match: Any) -> str:
        record = self.find(collection, **match)
        if record is None:
            raise KeyError(f"no {collection} record with {match}")
        return str(record[key])
