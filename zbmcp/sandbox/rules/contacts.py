"""Contacts (§4.2): customers and vendors, their contact persons, and what they owe.

Email and phone live on contact persons (§4.2 "Create"); the contact's top-level email is its primary
person's, which is where emailed invoices go when no to_mail_ids is given.

Portal access emails an invitation: a person given `enable_portal: true`, or the primary person when the
contact gets `is_portal_enabled: true`, is invited (outbox, document_type "portal_invitation") the first time
only. A person to invite without an email address is refused, and nothing is stored.
"""

from __future__ import annotations

import copy
from typing import Any

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import ZohoError, already_exists, invalid_value, rule
from zbmcp.sandbox.filters import Filterable, ListSpec
from zbmcp.sandbox.records import OutboxEmail
from zbmcp.sandbox.rules import invoices
from zbmcp.sandbox.rules.base import Call, Reply, existing, payment_terms_label, primary_email
from zbmcp.sandbox.rules.documents import MAX_TERMS
from zbmcp.sandbox.store import OrgStore, Record, public

_PERSON_TEXT = ("salutation", "first_name", "last_name", "phone", "mobile", "designation", "department")
_ADDRESS_KEYS = ("attention", "address", "street2", "city", "state", "state_code", "zip", "country", "phone",
                 "fax")

LIST = ListSpec(
    key="contacts",
    report_name="Contacts",
    fields={
        "contact_name": Filterable("text"),
        "company_name": Filterable("text"),
        "first_name": Filterable("text"),
        "last_name": Filterable("text"),
        "email": Filterable("text"),
        "phone": Filterable("text"),
        "address": Filterable("text", lambda r: [" ".join(str(v) for v in r["billing_address"].values()),
                                                 " ".join(str(v) for v in r["shipping_address"].values())]),
        "contact_type": Filterable("exact"),
        "zcrm_contact_id": Filterable("id"),
        "zcrm_account_id": Filterable("id"),
        "zcrm_vendor_id": Filterable("id"),
    },
    statuses={"active": lambda r: r["status"] == "active", "inactive": lambda r: r["status"] == "inactive"},
    filter_by={
        "Status.All": lambda r: True,
        "Status.Active": lambda r: r["status"] == "active",
        "Status.Inactive": lambda r: r["status"] == "inactive",
        "Status.Duplicate": lambda r: False,
        "Status.PortalEnabled": lambda r: bool(r["is_portal_enabled"]),
        "Status.PortalDisabled": lambda r: not r["is_portal_enabled"],
        "Invoice.OverDue": lambda r: bool(r["_has_overdue"]),
        "Invoice.Unpaid": lambda r: r["outstanding_receivable_amount"] > 0,
        "Status.CreditLimitExceed": lambda r: bool(r["credit_limit"])
        and r["outstanding_receivable_amount"] > r["credit_limit"],
        "Status.Crm": lambda r: False,
    },
    search=("contact_name", "company_name", "notes", "email"),
    sort_columns=frozenset({"contact_name", "first_name", "last_name", "email",
                            "outstanding_receivable_amount", "created_time", "last_modified_time"}),
    default_sort="contact_name",
    default_order="A",
    row_exclude=frozenset({"contact_persons", "billing_address", "shipping_address", "notes", "custom_fields",
                           "website", "language_code"}),
)


def present(store: OrgStore, contact: Record) -> Record:
    shown = copy.deepcopy(contact)
    contact_id = contact["contact_id"]
    owed = [invoice for invoice in store.invoices.values()
            if invoice["customer_id"] == contact_id and invoice["status"] not in ("draft", "void")]
    shown["outstanding_receivable_amount"] = fields.money(sum(invoice["balance"] for invoice in owed))
    shown["_has_overdue"] = any(invoices.status_of(store, invoice) == "overdue" for invoice in owed)
    shown["outstanding_payable_amount"] = fields.money(sum(
        bill["balance"] for bill in store.bills.values()
        if bill["vendor_id"] == contact_id and bill["status"] not in ("draft", "void")))
    # a customer's credit: what its payments left unused, and what its open credit notes still hold
    shown["unused_credits_receivable_amount"] = fields.money(sum(
        payment["unused_amount"] for payment in store.payments.values()
        if payment["customer_id"] == contact_id) + sum(
        note["balance"] for note in store.creditnotes.values()
        if note["customer_id"] == contact_id and note["status"] == "open"))
    return shown


def list_contacts(call: Call) -> Reply:
    # Zoho's file allows customer and vendor only: another value ("supplier") is refused, not answered with
    # an empty list that reads as "there are none" (what Zoho itself answers is unverified).
    if call.query.get("contact_type") not in (None, "customer", "vendor"):
        raise invalid_value("contact_type")
    records = [present(call.org, contact) for contact in call.org.contacts.values()]
    page = filters.run(LIST, records, call.query)
    return Reply(200, "success", "contacts", page.rows, page.page_context)


def get_contact(call: Call) -> Reply:
    contact = existing(call.org.contacts, call.params["contact_id"], "Contact")
    return Reply(200, "success", "contact", public(present(call.org, contact)))


def create_contact(call: Call) -> Reply:
    record = build(call.org, call.data, None)
    invitations = _invitations(call, record, None)
    call.org.add("contacts", record["contact_id"], record)
    call.env.outbox.extend(invitations)
    return Reply(201, "The contact has been created", "contact", public(present(call.org, record)))


def update_contact(call: Call) -> Reply:
    current = existing(call.org.contacts, call.params["contact_id"], "Contact")
    record = build(call.org, call.data, current)
    invitations = _invitations(call, record, current)
    call.org.contacts[record["contact_id"]] = record
    call.env.outbox.extend(invitations)
    return Reply(200, "Contact has been updated successfully", "contact", public(present(call.org, record)))


def _invitations(call: Call, record: Record, current: Record | None) -> list[OutboxEmail]:
    """The portal invitations this write sends: persons newly given access (validated before storing)."""
    before = {p["contact_person_id"] for p in (current or {}).get("contact_persons", [])
              if p.get("enable_portal")}
    org = call.org.organization
    emails = []
    for index, person in enumerate(record["contact_persons"]):
        if not person.get("enable_portal") or person["contact_person_id"] in before:
            continue
        if not person.get("email"):
            raise invalid_value(f"contact_persons[{index}].enable_portal")
        emails.append(OutboxEmail(
            organization_id=call.org.organization_id, document_type="portal_invitation",
            document_id=record["contact_id"], document_number=record["contact_name"], to=[person["email"]],
            subject=f"Your access to the {org.name} portal",
            body=f"Dear {person.get('first_name') or record['contact_name']},\n\n{org.name} has "
                 "given you access to its customer portal.",
            at=call.env.clock(),
        ))
    return emails


def delete_contact(call: Call) -> Reply:
    contact = existing(call.org.contacts, call.params["contact_id"], "Contact")
    if _in_use(call.org, contact["contact_id"]):
        # Zoho Invoice's contacts page lists 3000 with these words; Books' own is unverified.
        raise ZohoError(400, 3000,
                        "This contact cannot be deleted since you have recorded transactions for it")
    del call.org.contacts[contact["contact_id"]]
    return Reply(200, "The contact has been deleted.")


def _in_use(store: OrgStore, contact_id: str) -> bool:
    return any(doc.get("customer_id") == contact_id or doc.get("vendor_id") == contact_id
               for name in ("invoices", "estimates", "salesorders", "bills", "purchaseorders", "expenses",
                            "payments")
               for doc in store.collection(name).values())


def build(store: OrgStore, body: dict[str, Any], current: Record | None) -> Record:
    """Validate a contact body (merged over `current` on update) into the record to store."""
    base = copy.deepcopy(current) if current else {}
    name = fields.text(body, "contact_name", need=current is None, max_len=200)
    name = name if name is not None else base.get("contact_name")
    if not name or not name.strip():
        raise invalid_value("contact_name")
    clash = any(other["contact_name"].lower() == name.lower() for other in store.contacts.values()
                if current is None or other["contact_id"] != current["contact_id"])
    if clash:
        raise already_exists("Contact name")
    contact_type = fields.choice(body, "contact_type", ("customer", "vendor"),
                                 default=base.get("contact_type", "customer"))
    if current is not None and contact_type != current["contact_type"] \
            and _in_use(store, current["contact_id"]):
        raise rule("The contact type cannot be changed while the contact has transactions.")
    currency_id = fields.ident(body, "currency_id")
    if currency_id is not None and currency_id != store.organization.currency_id:
        raise invalid_value("currency_id")
    terms = fields.integer(body, "payment_terms", minimum=0, maximum=MAX_TERMS)
    terms = terms if terms is not None else int(base.get("payment_terms", 0))
    credit_limit = fields.number(body, "credit_limit", minimum=0)
    persons_raw = fields.objects(body, "contact_persons")
    if persons_raw is None:
        persons = base.get("contact_persons", [])
    else:
        # §4.2 "Update": persons left out of contact_persons are removed.
        old = {str(person["contact_person_id"]): person for person in base.get("contact_persons", [])}
        persons = [_person(store, raw, index, old) for index, raw in enumerate(persons_raw)]
        if persons and not any(person["is_primary_contact"] for person in persons):
            persons[0]["is_primary_contact"] = True
    primary: Record = next((person for person in persons if person["is_primary_contact"]), {})
    now = store.timestamp()
    record: Record = {
        "contact_id": base.get("contact_id") or store.new_id(),
        "contact_name": name,
        "company_name": _text(body, base, "company_name"),
        "contact_type": contact_type,
        "customer_sub_type": fields.choice(body, "customer_sub_type", ("business", "individual"),
                                           default=base.get("customer_sub_type", "business")),
        "status": base.get("status", "active"),
        "website": _text(body, base, "website"),
        "language_code": _text(body, base, "language_code") or "en",
        "payment_terms": terms,
        "payment_terms_label": payment_terms_label(terms),
        "credit_limit": credit_limit if credit_limit is not None else base.get("credit_limit", 0.0),
        "currency_id": store.organization.currency_id,
        "currency_code": store.organization.currency_code,
        "notes": _text(body, base, "notes"),
        "is_portal_enabled": _portal(body, base, persons),
        "billing_address": _address(body, base, "billing_address"),
        "shipping_address": _address(body, base, "shipping_address"),
        "contact_persons": persons,
        "first_name": primary.get("first_name", ""),
        "last_name": primary.get("last_name", ""),
        "email": primary.get("email", ""),
        "phone": primary.get("phone", ""),
        "mobile": primary.get("mobile", ""),
        "custom_fields": fields.objects(body, "custom_fields") or base.get("custom_fields", []),
        "created_time": base.get("created_time", now),
        "last_modified_time": now,
    }
    if "_seq" in base:
        record["_seq"] = base["_seq"]
    record["email"] = primary_email(record) or ""
    return record


def _text(body: dict[str, Any], base: Record, key: str) -> str:
    value = fields.text(body, key)
    return value if value is not None else str(base.get(key, ""))


def _address(body: dict[str, Any], base: Record, key: str) -> dict[str, str]:
    raw = fields.obj(body, key)
    if raw is None:
        return dict(base.get(key, {}))
    return {name: str(raw[name]) for name in _ADDRESS_KEYS if raw.get(name) is not None}


def _person(store: OrgStore, raw: dict[str, Any], index: int, old_persons: dict[str, Record]) -> Record:
    path = f"contact_persons[{index}]"
    person_id = fields.ident(raw, "contact_person_id", path=f"{path}.contact_person_id")
    person: Record = {"contact_person_id": person_id if person_id in old_persons else store.new_id()}
    for key in _PERSON_TEXT:
        person[key] = fields.text(raw, key, path=f"{path}.{key}") or ""
    address = raw.get("email")
    person["email"] = fields.email(address, f"{path}.email") if address else ""
    person["is_primary_contact"] = bool(fields.boolean(raw, "is_primary_contact",
                                                       path=f"{path}.is_primary_contact"))
    portal = fields.boolean(raw, "enable_portal", path=f"{path}.enable_portal")
    old_person = old_persons.get(str(person["contact_person_id"]), {})
    person["enable_portal"] = bool(portal) if portal is not None else bool(old_person.get("enable_portal"))
    return person


def _portal(body: dict[str, Any], base: Record, persons: list[Record]) -> bool:
    """is_portal_enabled: the contact's switch; turning it on gives the primary person access."""
    enabled = fields.boolean(body, "is_portal_enabled")
    if enabled is None:
        return bool(base.get("is_portal_enabled", False)) or any(p.get("enable_portal") for p in persons)
    if enabled:
        primary = next((p for p in persons if p["is_primary_contact"]), None)
        if primary is not None:
            primary["enable_portal"] = True
    return enabled or any(p.get("enable_portal") for p in persons)
