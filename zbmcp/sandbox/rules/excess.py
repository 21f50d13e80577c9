"""What is left over on a payment, and what is given up on an invoice: refunds of a customer payment's unused
amount (customer-payments.yml, "refund an excess customer payment") and of a vendor payment's unused balance
(vendor-payments.yml, "refund an excess vendor payment"), and an invoice's write-off (invoices.yml).

A customer payment's refund pays the customer's credit back: the payment's `unused_amount` falls, and the
books debit Accounts Receivable and credit the account the money left from (`from_account_id`). A vendor
payment's refund is the vendor paying back: its `balance` falls, the books debit the account the money came
into (`to_account_id`) and credit Accounts Payable. Deleting the refund gives the amount back; a payment with
refunds cannot be deleted.

Writing an invoice off settles its balance, which is written off to Bad Debt on the day it is done: Dr Bad
Debt, Cr Accounts Receivable (ledger.py). The invoice reads `write_off_amount` and is paid; cancelling puts
its balance back. Voiding a written-off invoice takes the write-off out with it.

Refused, with nothing changed: more than is unused, a date before the payment's, an account money cannot
move through (2, naming the field), writing off a draft, void or settled invoice, or cancelling a write-off
there is none of (the sandbox's 9999: Zoho's codes are unverified).
"""

from __future__ import annotations

from dataclasses import dataclass

from zbmcp.sandbox import fields
from zbmcp.sandbox.errors import not_found, rule
from zbmcp.sandbox.rules import invoices
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, existing
from zbmcp.sandbox.rules.expenses import PAID_THROUGH_TYPES
from zbmcp.sandbox.store import Record, public


@dataclass(frozen=True)
class Excess:
    """One kind of payment whose unused part can be refunded, and the names Zoho's file gives it."""

    payments: str  # the store's collection
    param: str  # the payment's path parameter
    thing: str
    unused: str  # the field holding what is not applied
    refunds: str  # the refunds' collection
    refund_id: str
    refund_param: str
    account: str  # the body field naming the account the money moves through
    party: str  # "customer", "vendor"
    key: str  # the answer's key for one refund (a list of one for customer payments, as Zoho's file has it)
    listed: str
    messages: tuple[str, str, str, str]  # created, updated, listed, shown


CUSTOMER = Excess("payments", "customer_payment_id", "Customer payment", "unused_amount", "payment_refunds",
                  "payment_refund_id", "refund_id", "from_account_id", "customer", "payment_refunds",
                  "payment_refunds",
                  ("The refund information for this payment has been saved.",
                   "The refund information has been saved.",
                   "The list of refunds of the customer is displayed successfully.",
                   "The details of the refund are displayed successfully."))
VENDOR = Excess("vendorpayments", "payment_id", "Vendor payment", "balance", "vendorpayment_refunds",
                "vendorpayment_refund_id", "vendorpayment_refund_id", "to_account_id", "vendor",
                "vendorpayment_refund", "vendorpayment_refunds",
                ("Vendor Payment Refunded successfully", "The refund information has been saved.", "success",
                 "success"))


def _payment(kind: Excess, call: Call) -> Record:
    return existing(call.org.collection(kind.payments), call.params[kind.param], kind.thing)


def _checked(kind: Excess, call: Call, payment: Record, current: Record | None) -> Record:
    """The refund the body asks for (over `current`'s fields, for an update); nothing is stored."""
    store = call.org
    body = {**(current or {}), **call.data}
    amount = fields.number(body, "amount", need=True, positive=True)
    day = fields.day(body, "date", need=True)
    account_id = fields.ident(body, kind.account, need=True)
    assert amount is not None and day and account_id
    account = account_ref(store, account_id, kind.account, PAID_THROUGH_TYPES)
    amount = fields.money(amount)
    number = payment["payment_number"]
    if day < payment["date"]:
        raise rule(f"The refund date {day} is before the date of payment {number} ({payment['date']}).")
    left = fields.dec(payment[kind.unused]) + (fields.dec(current["amount"]) if current else 0)
    if fields.dec(amount) > left:
        raise rule(f"The refund ({amount:.2f}) is more than payment {number}'s unused amount "
                   f"({fields.money(left):.2f}).")
    now = store.timestamp()
    return {
        kind.refund_id: current[kind.refund_id] if current else store.new_id(),
        "payment_id": payment["payment_id"], "payment_number": number, "date": day, "amount": amount,
        "amount_bcy": amount, "amount_fcy": amount,
        "refund_mode": fields.text(body, "refund_mode", max_len=100) or "cash",
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "description": fields.text(body, "description", max_len=500) or "",
        kind.account: account_id, kind.account.replace("_id", "_name"): account["account_name"],
        f"{kind.party}_name": payment[f"{kind.party}_name"],
        "created_time": current["created_time"] if current else now, "last_modified_time": now,
        "_payment": payment["payment_id"],
    }


def _unused_by(kind: Excess, payment: Record, change: float) -> None:
    payment[kind.unused] = fields.money(fields.dec(payment[kind.unused]) + fields.dec(change))
    if kind is VENDOR:
        payment["bcy_balance"] = payment["balance"]


def _answer(kind: Excess, refund: Record) -> object:
    return [public(refund)] if kind is CUSTOMER else public(refund)


def _create(kind: Excess, call: Call) -> Reply:
    store = call.org
    payment = _payment(kind, call)
    refund = _checked(kind, call, payment, None)
    store.add(kind.refunds, refund[kind.refund_id], refund)
    _unused_by(kind, payment, -refund["amount"])
    payment["last_modified_time"] = refund["created_time"]
    # Zoho's files: 200 for a customer payment's refund, 201 for a vendor payment's
    return Reply(200 if kind is CUSTOMER else 201, kind.messages[0], kind.key, _answer(kind, refund))


def _refund(kind: Excess, call: Call) -> tuple[Record, Record]:
    payment = _payment(kind, call)
    refund = call.org.collection(kind.refunds).get(call.params[kind.refund_param])
    if refund is None or refund["_payment"] != payment["payment_id"]:
        raise not_found("Refund")
    return payment, refund


def _update(kind: Excess, call: Call) -> Reply:
    payment, current = _refund(kind, call)
    refund = _checked(kind, call, payment, current)
    call.org.collection(kind.refunds)[refund[kind.refund_id]] = {**refund, "_seq": current["_seq"]}
    _unused_by(kind, payment, current["amount"] - refund["amount"])
    return Reply(200, kind.messages[1], kind.key, _answer(kind, refund))


def _delete(kind: Excess, call: Call) -> Reply:
    payment, refund = _refund(kind, call)
    del call.org.collection(kind.refunds)[refund[kind.refund_id]]
    _unused_by(kind, payment, refund["amount"])
    return Reply(200, "The refund has been deleted.")


def _list(kind: Excess, call: Call) -> Reply:
    payment = _payment(kind, call)
    rows = [public(refund) for refund in call.org.collection(kind.refunds).values()
            if refund["_payment"] == payment["payment_id"]]
    context = {"page": 1, "per_page": 200, "has_more_page": False}
    return Reply(200, kind.messages[2], kind.listed, rows, context)


def _get(kind: Excess, call: Call) -> Reply:
    _, refund = _refund(kind, call)
    return Reply(200, kind.messages[3], kind.key, _answer(kind, refund))


def refunded(store_refunds: dict[str, Record], payment_id: str) -> bool:
    return any(refund["_payment"] == payment_id for refund in store_refunds.values())


def create_payment_refund(call: Call) -> Reply:
    return _create(CUSTOMER, call)


def update_payment_refund(call: Call) -> Reply:
    return _update(CUSTOMER, call)


def delete_payment_refund(call: Call) -> Reply:
    return _delete(CUSTOMER, call)


def list_payment_refunds(call: Call) -> Reply:
    return _list(CUSTOMER, call)


def get_payment_refund(call: Call) -> Reply:
    return _get(CUSTOMER, call)


def create_vendor_payment_refund(call: Call) -> Reply:
    return _create(VENDOR, call)


def update_vendor_payment_refund(call: Call) -> Reply:
    return _update(VENDOR, call)


def delete_vendor_payment_refund(call: Call) -> Reply:
    return _delete(VENDOR, call)


def list_vendor_payment_refunds(call: Call) -> Reply:
    return _list(VENDOR, call)


def get_vendor_payment_refund(call: Call) -> Reply:
    return _get(VENDOR, call)


# -- an invoice's write-off ----------------------------------------------------------------------------------

def write_off(call: Call) -> Reply:
    store = call.org
    invoice = existing(store.invoices, call.params["invoice_id"], "Invoice")
    if invoice["status"] in ("draft", "void"):
        raise rule(f"A {invoice['status']} invoice cannot be written off.")
    if invoice["balance"] <= 0:
        raise rule(f"Invoice {invoice['invoice_number']} has no balance to write off.")
    invoice["write_off_amount"] = invoice["balance"]
    invoice["_write_off_date"] = max(store.today().isoformat(), invoice["date"])
    invoice["last_modified_time"] = store.timestamp()
    invoices.settle(invoice)
    return Reply(200, "Invoice has been written off")


def cancel_write_off(call: Call) -> Reply:
    store = call.org
    invoice = existing(store.invoices, call.params["invoice_id"], "Invoice")
    if not invoice["write_off_amount"]:
        raise rule(f"Invoice {invoice['invoice_number']} has not been written off.")
    invoice["write_off_amount"] = 0.0
    invoice.pop("_write_off_date", None)
    invoice["last_modified_time"] = store.timestamp()
    invoices.settle(invoice)
    return Reply(200, "The write off done for this invoice has been cancelled.")
