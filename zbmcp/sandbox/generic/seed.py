"""Seed records for modules the sandbox emulates generically, where a real organization would have some:
its users, its currencies, and (in the default user's two) a project with a task. Seeded after the rule
modules' records, so their ids do not move.
"""

from __future__ import annotations

from typing import Any

from zbmcp.sandbox.generic.crud import new_record
from zbmcp.sandbox.generic.data import RESOURCES
from zbmcp.sandbox.seed import DEFAULT_USER_ID
from zbmcp.sandbox.store import OrgStore, Record
from zbmcp.sandbox.users import Directory

# A second currency each organization trades in: code, name, symbol, rate to the base currency.
_FOREIGN = {"GBP": ("EUR", "Euro", "€", 0.85), "USD": ("CAD", "Canadian Dollar", "$", 0.73),
            "EUR": ("GBP", "Pound Sterling", "£", 1.17)}


def _add(store: OrgStore, path: str, values: dict[str, Any], under: tuple[str, ...] = (),
         record_id: str | None = None) -> Record:
    resource = RESOURCES[path]
    record = new_record(store, resource, under, values)
    if record_id is not None:
        record[resource.id_field] = record_id
    return store.add_generic(path, record[resource.id_field], record)


def populate(stores: dict[str, OrgStore], directory: Directory) -> None:
    for store in stores.values():
        org = store.organization
        users = [_user(store, directory, user_id, "admin" if user_id == org.owner_user_id else "staff")
                 for user_id in directory.users
                 if user_id == org.owner_user_id or org.organization_id in directory.memberships(user_id)]
        _currencies(store)
        if org.owner_user_id == DEFAULT_USER_ID:
            _project(store, users[0])


def _user(store: OrgStore, directory: Directory, user_id: str, role: str) -> Record:
    person = directory.users[user_id]
    return _add(store, "/users", {"name": f"{person.first_name} {person.last_name}", "email": person.email,
                                  "user_role": role, "status": "active"}, record_id=user_id)


def _currencies(store: OrgStore) -> None:
    org = store.organization
    _add(store, "/settings/currencies", {
        "currency_code": org.currency_code, "currency_symbol": org.currency_symbol, "price_precision": 2,
        "currency_format": "1,234,567.89", "is_base_currency": True, "exchange_rate": 1.0,
    }, record_id=org.currency_id)
    code, name, symbol, rate = _FOREIGN[org.currency_code]
    foreign = _add(store, "/settings/currencies", {
        "currency_code": code, "currency_name": name, "currency_symbol": symbol, "price_precision": 2,
        "currency_format": "1,234,567.89", "is_base_currency": False, "exchange_rate": rate,
    })
    _add(store, "/settings/currencies/{}/exchangerates", {"rate": rate, "effective_date": store.today()
                                                          .isoformat()}, (foreign["currency_id"],))


def _project(store: OrgStore, owner: Record) -> None:
    customer = next(contact for contact in store.contacts.values()
                    if contact["contact_name"] == "Acme Corporation")
    project = _add(store, "/projects", {
        "project_name": "Website redesign", "customer_id": customer["contact_id"],
        "customer_name": customer["contact_name"], "description": "A new website for Acme",
        "billing_type": "based_on_task_hours", "status": "active",
    })
    under = (project["project_id"],)
    _add(store, "/projects/{}/tasks", {"task_name": "Design mockups", "description": "Home and product pages",
                                       "rate": 150.0}, under)
    _add(store, "/projects/{}/users", {"name": owner["name"], "email": owner["email"], "user_role": "admin"},
         under, record_id=owner["user_id"])

