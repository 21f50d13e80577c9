"""Customer payments (§4.8): money received and applied to a customer's invoices.

A payment lowers each invoice's balance and moves it to partially_paid or paid; deleting the payment puts
both back. Refused, with nothing changed: applying more than an invoice's balance (24016), applying more than
the payment's amount, or applying to another customer's invoice (3004) or a void one.

contact_persons (ids of the customer's contact persons) makes Zoho email them a thank-you note for the
payment: the sandbox puts it in the outbox. An id that is not one of the customer's persons, or a person
without an email address, is refused before anything is recorded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import ZohoError, invalid_value, rule
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.records import OutboxEmail
from zbmcp.sandbox.rules import invoices
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, contact_ref, existing
from zbmcp.sandbox.store import Record, public

DEPOSIT_TYPES = frozenset({"cash", "bank", "credit_card", "other_current_asset"})
_MODES = ("Check", "Cash", "BankTransfer", "Paypal", "CreditCard", "GoogleCheckout", "Credit", "Authorizenet",
          "BankRemittance", "Payflowpro", "Stripe", "TwoCheckout", "Braintree", "Others")


def _mode(name: str) -> Predicate:
    return lambda record: record["payment_mode"].replace(" ", "").lower() == name.lower()


LIST = ListSpec(
    key="customerpayments",
    report_name="Customer Payments",
    fields={
        "customer_name": Filterable("text"),
        "reference_number": Filterable("exact"),
        "notes": Filterable("text", lambda r: r["description"]),
        "payment_mode": Filterable("text"),
        "customer_id": Filterable("id"),
        "amount": Filterable("number"),
        "date": Filterable("date"),
    },
    filter_by={"PaymentMode.All": lambda r: True} | {f"PaymentMode.{mode}": _mode(mode) for mode in _MODES},
    default_filter="PaymentMode.All",
    search=("customer_name", "reference_number", "description", "payment_number"),
    sort_columns=frozenset({"date", "amount", "customer_name", "payment_number", "reference_number",
                            "payment_mode", "created_time"}),
    default_sort="created_time",
    row_exclude=frozenset({"invoices"}),
)


def list_payments(call: Call) -> Reply:
    page = filters.run(LIST, list(call.org.payments.values()), call.query)
    # §3 note 2: the list key is `customerpayments` (Zoho's Java parser, real clients), not the OAS's.
    return Reply(200, "success", "customerpayments", page.rows, page.page_context)


def get_payment(call: Call) -> Reply:
    payment = existing(call.org.payments, call.params["payment_id"], "Customer payment")
    return Reply(200, "success", "payment", public(payment))


def create_payment(call: Call) -> Reply:
    store = call.org
    body = call.data
    customer_id = fields.ident(body, "customer_id", need=True)
    mode = fields.text(body, "payment_mode", need=True, max_len=100)
    amount = fields.number(body, "amount", need=True, positive=True)
    payment_date = fields.day(body, "date", need=True)
    entries = fields.objects(body, "invoices", need=True)
    assert customer_id and mode and amount is not None and payment_date and entries is not None
    customer = contact_ref(store, customer_id, "customer_id", "customer")
    amount = fields.money(amount)
    account_id = fields.ident(body, "account_id")
    if account_id is not None:
        account = account_ref(store, account_id, "account_id", DEPOSIT_TYPES)
    else:
        account = next((a for a in store.accounts.values() if a["account_name"] == "Undeposited Funds"), {})
    bank_charges = fields.number(body, "bank_charges", minimum=0) or 0.0

    applied: dict[str, Decimal] = {}
    for index, entry in enumerate(entries):
        path = f"invoices[{index}]"
        invoice_id = fields.ident(entry, "invoice_id", path=f"{path}.invoice_id", need=True)
        share = fields.number(entry, "amount_applied", path=f"{path}.amount_applied", need=True, positive=True)
        assert invoice_id and share is not None
        invoice = store.invoices.get(invoice_id)
        if invoice is None:
            raise invalid_value(f"{path}.invoice_id")
        if invoice["customer_id"] != customer_id:
            raise ZohoError(400, 3004, f"Invoice {invoice['invoice_number']} does not belong to the customer "
                                       f"{customer['contact_name']}.")
        if invoice["_lifecycle"] == "void":
            raise rule(f"Payments cannot be recorded for the void invoice {invoice['invoice_number']}.")
        applied[invoice_id] = applied.get(invoice_id, Decimal(0)) + fields.dec(fields.money(share))
        if applied[invoice_id] > fields.dec(invoice["balance"]):
            raise ZohoError(400, 24016, "The amount entered is more than the balance due for this invoice.")
    total_applied = sum(applied.values(), Decimal(0))
    if total_applied > fields.dec(amount):
        raise rule("The amount applied to invoices is more than the amount of the payment.")
    thanked = _thanked(customer, body)

    payment_id = store.new_id()
    now = store.timestamp()
    for invoice_id, portion in applied.items():
        invoice = store.invoices[invoice_id]
        invoice["_payments"][payment_id] = fields.money(portion)
        invoice["last_payment_date"] = max(invoice["last_payment_date"], payment_date)
        invoice["last_modified_time"] = now
        invoices.settle(invoice)
    org = store.organization
    record: Record = {
        "payment_id": payment_id,
        "payment_number": store.next_number("payment", (p["payment_number"] for p in store.payments.values())),
        "payment_mode": mode,
        "amount": amount,
        "unused_amount": fields.money(fields.dec(amount) - total_applied),
        "bank_charges": fields.money(bank_charges),
        "date": payment_date,
        "status": "success",
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "description": fields.text(body, "description") or "",
        "customer_id": customer_id,
        "customer_name": customer["contact_name"],
        "email": customer.get("email", ""),
        "account_id": account.get("account_id", ""),
        "account_name": account.get("account_name", ""),
        "invoices": [
            {"invoice_id": invoice_id, "invoice_number": store.invoices[invoice_id]["invoice_number"],
             "date": store.invoices[invoice_id]["date"], "invoice_amount": store.invoices[invoice_id]["total"],
             "amount_applied": fields.money(portion), "balance_amount": store.invoices[invoice_id]["balance"]}
            for invoice_id, portion in applied.items()
        ],
        "currency_code": org.currency_code,
        "currency_symbol": org.currency_symbol,
        "exchange_rate": 1.0,
        "custom_fields": fields.objects(body, "custom_fields") or [],
        "created_time": now,
        "last_modified_time": now,
    }
    store.add("payments", payment_id, record)
    if thanked:
        call.env.outbox.append(OutboxEmail(
            organization_id=store.organization_id, document_type="payment", document_id=payment_id,
            document_number=record["payment_number"], to=thanked,
            subject=f"Payment Receipt - {record['payment_number']} from {org.name}",
            body=f"Dear {customer['contact_name']},\n\nThank you for your payment of {org.currency_code} "
                 f"{amount:,.2f}.\n\n{org.name}",
            at=call.env.clock(),
        ))
    return Reply(201, "The payment has been created.", "payment", public(record))


def _thanked(customer: Record, body: dict[str, Any]) -> list[str]:
    """The addresses of the contact persons a thank-you note goes to (validated before anything is stored)."""
    wanted = body.get("contact_persons")
    if wanted is None or wanted == []:
        return []
    if not isinstance(wanted, list) or not all(isinstance(i, str | int) and not isinstance(i, bool) for i in wanted):
        raise invalid_value("contact_persons")
    persons = {str(p["contact_person_id"]): p for p in customer.get("contact_persons", [])}
    addresses = []
    for person_id in map(str, wanted):
        person = persons.get(person_id)
        if person is None or not person.get("email"):
            raise invalid_value("contact_persons")
        addresses.append(str(person["email"]))
    return addresses


def delete_payment(call: Call) -> Reply:
    store = call.org
    payment = existing(store.payments, call.params["payment_id"], "Customer payment")
    payment_id = payment["payment_id"]
    for entry in payment["invoices"]:
        invoice = store.invoices.get(entry["invoice_id"])
        if invoice is None:
            continue
        invoice["_payments"].pop(payment_id, None)
        others = [store.payments[other]["date"] for other in invoice["_payments"] if other in store.payments]
        invoice["last_payment_date"] = max(others, default="")
        invoice["last_modified_time"] = store.timestamp()
        invoices.settle(invoice)
    del store.payments[payment_id]
    return Reply(200, "The payment has been deleted.")
