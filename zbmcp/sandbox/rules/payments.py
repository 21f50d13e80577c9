"""Customer payments (§4.8): money received and applied to a customer's invoices.

A payment lowers each invoice's balance and moves it to partially_paid or paid; deleting the payment puts
both back. Refused, with nothing changed: applying more than an invoice's balance (24016), applying more than
the payment's amount, or applying to another customer's invoice (3004), a void one or a draft.

contact_persons (ids of the customer's contact persons) makes Zoho email them a thank-you note for the
payment: the sandbox puts it in the outbox. An id that is not one of the customer's persons, or a person
without an email address, is refused before anything is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import ZohoError, invalid_value, rule
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.records import OutboxEmail
from zbmcp.sandbox.rules import excess, invoices
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, contact_ref, existing
from zbmcp.sandbox.store import OrgStore, Record, public

DEPOSIT_TYPES = frozenset({"cash", "bank", "credit_card", "other_current_asset"})
_MODES = ("Check", "Cash", "BankTransfer", "Paypal", "CreditCard", "GoogleCheckout", "Credit", "Authorizenet",
          "BankRemittance", "Payflowpro", "Stripe", "TwoCheckout", "Braintree", "Others")


def mode_is(name: str) -> Predicate:
    """filter_by=PaymentMode.<name>: Zoho writes modes with and without spaces ("Bank Transfer")."""
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
    filter_by={"PaymentMode.All": lambda r: True} | {f"PaymentMode.{mode}": mode_is(mode) for mode in _MODES},
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


@dataclass(frozen=True)
class _NewPayment:
    """A payment request's checked fields (the free-text ones are read as the record is built)."""

    customer_id: str
    customer: Record
    mode: str
    amount: float
    date: str
    account: Record  # where the money is deposited; {} when no Undeposited Funds account exists
    bank_charges: float
    applied: dict[str, Decimal]  # invoice id -> amount applied to it
    thanked: list[str]  # addresses of the contact persons who get a thank-you note


def create_payment(call: Call) -> Reply:
    store = call.org
    payment = _checked_payment(store, call.data)
    payment_id = store.new_id()
    now = store.timestamp()
    for invoice_id, portion in payment.applied.items():
        invoice = store.invoices[invoice_id]
        invoice["_payments"][payment_id] = fields.money(portion)
        invoice["last_payment_date"] = max(invoice["last_payment_date"], payment.date)
        invoice["last_modified_time"] = now
        invoices.settle(invoice)
    record = _payment_record(store, call.data, payment_id, payment, now)
    store.add("payments", payment_id, record)
    if payment.thanked:
        org = store.organization
        call.env.outbox.append(OutboxEmail(
            organization_id=store.organization_id, document_type="payment", document_id=payment_id,
            document_number=record["payment_number"], to=payment.thanked,
            subject=f"Payment Receipt - {record['payment_number']} from {org.name}",
            body=f"Dear {payment.customer['contact_name']},\n\nThank you for your payment of "
                 f"{org.currency_code} {payment.amount:,.2f}.\n\n{org.name}",
            at=call.env.clock(),
        ))
    return Reply(201, "The payment has been created.", "payment", public(record))


def _checked_payment(store: OrgStore, body: dict[str, Any]) -> _NewPayment:
    """The request's payment, each field checked in the order Zoho reports them; nothing is changed."""
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
    applied = _applied(store, customer_id, customer, entries, payment_date)
    if sum(applied.values(), Decimal(0)) > fields.dec(amount):
        raise rule("The amount applied to invoices is more than the amount of the payment.")
    return _NewPayment(customer_id, customer, mode, amount, payment_date, account, bank_charges, applied,
                       _thanked(customer, body))


def _applied(store: OrgStore, customer_id: str, customer: Record, entries: list[dict[str, Any]],
             payment_date: str) -> dict[str, Decimal]:
    """How much goes to each invoice: the customer's own, sent, dated no later than the payment, and never
    more than its balance."""
    applied: dict[str, Decimal] = {}
    for index, entry in enumerate(entries):
        path = f"invoices[{index}]"
        invoice_id = fields.ident(entry, "invoice_id", path=f"{path}.invoice_id", need=True)
        share = fields.number(entry, "amount_applied", path=f"{path}.amount_applied", need=True,
                              positive=True)
        assert invoice_id and share is not None
        invoice = store.invoices.get(invoice_id)
        if invoice is None:
            raise invalid_value(f"{path}.invoice_id")
        if invoice["customer_id"] != customer_id:
            raise ZohoError(400, 3004, f"Invoice {invoice['invoice_number']} does not belong to the customer "
                                       f"{customer['contact_name']}.")
        if invoice["_lifecycle"] == "void":
            raise rule(f"Payments cannot be recorded for the void invoice {invoice['invoice_number']}.")
        if invoice["_lifecycle"] == "draft":
            # A draft is not yet a receivable: in Zoho's books it has no ledger entry to pay off.
            raise rule(f"Payments cannot be recorded for the draft invoice {invoice['invoice_number']}. "
                       "Mark it as sent first.")
        if payment_date < invoice["date"]:
            # Money cannot settle an invoice not yet issued. Zoho's code and words for it are unverified.
            raise rule(f"The payment date {payment_date} is before the date of invoice "
                       f"{invoice['invoice_number']} ({invoice['date']}).")
        applied[invoice_id] = applied.get(invoice_id, Decimal(0)) + fields.dec(fields.money(share))
        if applied[invoice_id] > fields.dec(invoice["balance"]):
            raise ZohoError(400, 24016, "The amount entered is more than the balance due for this invoice.")
    return applied


def _payment_record(store: OrgStore, body: dict[str, Any], payment_id: str, payment: _NewPayment,
                    now: str) -> Record:
    """The payment as Zoho shows it, the invoices it paid already settled."""
    org = store.organization
    applied = payment.applied
    paid = {invoice_id: store.invoices[invoice_id] for invoice_id in applied}
    taken = (p["payment_number"] for p in store.payments.values())
    return {
        "payment_id": payment_id,
        "payment_number": store.next_number("payment", taken),
        "payment_mode": payment.mode,
        "amount": payment.amount,
        "unused_amount": fields.money(fields.dec(payment.amount) - sum(applied.values(), Decimal(0))),
        "bank_charges": fields.money(payment.bank_charges),
        "date": payment.date,
        "status": "success",
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "description": fields.text(body, "description") or "",
        "customer_id": payment.customer_id,
        "customer_name": payment.customer["contact_name"],
        "email": payment.customer.get("email", ""),
        "account_id": payment.account.get("account_id", ""),
        "account_name": payment.account.get("account_name", ""),
        # List rows name the invoices a payment paid: invoice_number in Zoho's file, invoice_numbers in
        # Zoho's Java wrapper (§4.8); several are joined with ", ".
        "invoice_number": ", ".join(invoice["invoice_number"] for invoice in paid.values()),
        "invoice_numbers": ", ".join(invoice["invoice_number"] for invoice in paid.values()),
        "invoices": [
            {"invoice_id": invoice_id, "invoice_number": invoice["invoice_number"], "date": invoice["date"],
             "invoice_amount": invoice["total"], "amount_applied": fields.money(applied[invoice_id]),
             "balance_amount": invoice["balance"]}
            for invoice_id, invoice in paid.items()
        ],
        "currency_code": org.currency_code,
        "currency_symbol": org.currency_symbol,
        "exchange_rate": 1.0,
        "bcy_amount": payment.amount,  # in the organization's base currency: the rate is 1
        "custom_fields": fields.objects(body, "custom_fields") or [],
        "created_time": now,
        "last_modified_time": now,
    }


def _thanked(customer: Record, body: dict[str, Any]) -> list[str]:
    """The addresses of the contact persons a thank-you note goes to (validated before anything is stored)."""
    wanted = body.get("contact_persons")
    if wanted is None or wanted == []:
        return []
    if not isinstance(wanted, list) or not all(isinstance(i, str | int) and not isinstance(i, bool)
                                               for i in wanted):
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
    if excess.refunded(store.payment_refunds, payment_id):
        raise rule(f"Payment {payment['payment_number']} has refunds. Delete them before deleting the "
                   "payment.")
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
