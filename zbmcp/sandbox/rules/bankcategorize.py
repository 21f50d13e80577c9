"""Categorizing a statement line (bank-transactions.yml): what the money was, recorded once.

    POST .../uncategorized/{id}/categorize                   a deposit, transfer, owner's contribution...:
                                                             the line posts by itself (rules/bankfeed.py)
    POST .../uncategorized/{id}/categorize/expenses          money out: an expense paid through the account
    POST .../uncategorized/{id}/categorize/customerpayments  money in: a customer payment into the account
    POST .../uncategorized/{id}/categorize/vendorpayments    money out: a vendor payment from the account
    POST .../uncategorized/{id}/categorize/creditnoterefunds money out: a credit note refunded from it
    POST .../uncategorized/{id}/categorize/vendorcreditrefunds  money in: a vendor credit refunded into it
    POST /banktransactions/{id}/uncategorize                 undoes it: what it recorded is deleted

The expense or payment is made by its own module's rules, with the line's account, date and amount: a body
that names another account, another amount or the wrong direction is refused, and a refusal leaves the line
and the books as they were. Only an uncategorized line can be categorized.
"""

from __future__ import annotations

from typing import Any

from zbmcp.sandbox import fields
from zbmcp.sandbox.errors import invalid_value, rule
from zbmcp.sandbox.rules import (
    bankfeed,
    creditnotes,
    credits,
    expenses,
    payments,
    vendorcredits,
    vendorpayments,
)
from zbmcp.sandbox.rules.bankfeed import IN, OUT
from zbmcp.sandbox.rules.base import Call, Handler, Reply, account_ref
from zbmcp.sandbox.store import OrgStore, Record

CATEGORIZED = "The transaction(s) have been categorized."


def categorize(call: Call) -> Reply:
    store = call.org
    line = bankfeed.line_of(call)
    bankfeed.uncategorized(line)
    body = call.data
    kind_name = fields.text(body, "transaction_type", need=True)
    assert kind_name
    bankfeed.need_amount(body, line)
    feed = bankfeed.feed_account(store, line)
    side = line["debit_or_credit"]
    other_field = "from_account_id" if side == IN else "to_account_id"
    other_id = fields.ident(body, other_field, need=True)
    assert other_id
    other = account_ref(store, other_id, other_field)
    bankfeed.check_kind(kind_name, feed, side, other, other_field)
    day = fields.day(body, "date") or line["date"]
    described = {key: fields.text(body, key, max_len=500) for key in ("reference_number", "description")}
    customer_id = fields.ident(body, "customer_id")
    if customer_id is not None and customer_id not in store.contacts:
        raise invalid_value("customer_id")
    source, target = (other, feed) if side == IN else (feed, other)
    bankfeed.posting(line, kind_name, source, target)
    line.update({key: value for key, value in described.items() if value}, date=day, status="categorized",
                customer_id=customer_id or line["customer_id"], last_modified_time=store.timestamp())
    return Reply(201, CATEGORIZED)


def as_expense(call: Call) -> Reply:
    line = _ready(call, OUT, "an expense")
    body = {**call.data, "amount": call.data.get("amount", line["amount"]),
            "date": call.data.get("date") or line["date"]}
    _same_account(call.org, body, "paid_through_account_id", line)
    expense = _record(call, expenses.create_expense, body)
    if expense["total"] != line["amount"]:
        del call.org.expenses[expense["expense_id"]]
        raise rule(f"The expense comes to {expense['total']:.2f} with its tax, not the statement line's "
                   f"{line['amount']:.2f}: give the amount that makes the total the line's, or "
                   "is_inclusive_tax.")
    return _link(call.org, line, "expense", ("expenses", expense["expense_id"]), expense["account_name"])


def as_customer_payment(call: Call) -> Reply:
    line = _ready(call, IN, "a customer payment")
    bankfeed.need_amount(call.data, line)
    body = {"payment_mode": "banktransfer", **call.data, "amount": line["amount"],
            "date": call.data.get("date") or line["date"]}
    _same_account(call.org, body, "account_id", line)
    payment = _record(call, payments.create_payment, body)
    return _link(call.org, line, "customer_payment", ("payments", payment["payment_id"]),
                 "Accounts Receivable", payment["customer_id"])


def as_vendor_payment(call: Call) -> Reply:
    line = _ready(call, OUT, "a vendor payment")
    bankfeed.need_amount(call.data, line)
    body = {"payment_mode": "banktransfer", **call.data, "amount": line["amount"],
            "date": call.data.get("date") or line["date"]}
    _same_account(call.org, body, "paid_through_account_id", line)
    payment = _record(call, vendorpayments.create_vendor_payment, body)
    return _link(call.org, line, "vendor_payment", ("vendorpayments", payment["payment_id"]),
                 "Accounts Payable", payment["vendor_id"])


def as_credit_note_refund(call: Call) -> Reply:
    line = _ready(call, OUT, "a credit note's refund")
    return _refund(call, line, creditnotes.SPEC, "creditnote_id", "from_account_id")


def as_vendor_credit_refund(call: Call) -> Reply:
    line = _ready(call, IN, "a vendor credit's refund")
    return _refund(call, line, vendorcredits.SPEC, "vendor_credit_id", "account_id")


def _refund(call: Call, line: Record, spec: credits.CreditSpec, id_field: str, account_field: str) -> Reply:
    """The credit's refund through the line's account, on its date, of its whole amount."""
    bankfeed.need_amount(call.data, line)
    credit_id = fields.ident(call.data, id_field, need=True)
    assert credit_id
    if credit_id not in call.org.collection(spec.doc.collection):
        raise invalid_value(id_field)
    body = {**call.data, "amount": line["amount"], "date": call.data.get("date") or line["date"]}
    _same_account(call.org, body, account_field, line)
    refund = credits.create_refund(spec, _call(call, {spec.doc.id_field: credit_id}, body)).value
    credit = call.org.collection(spec.doc.collection)[credit_id]
    offset = "Accounts Receivable" if spec is creditnotes.SPEC else "Accounts Payable"
    return _link(call.org, line, f"{spec.doc.collection.rstrip('s')}_refund",
                 (spec.refunds, refund[spec.refund_id]), offset, credit[spec.doc.party_field])


def uncategorize(call: Call) -> Reply:
    line = bankfeed.line_of(call)
    if line["status"] != "categorized":
        raise rule(f"This transaction is {line['status']}, not categorized"
                   + (": unmatch it instead." if line["status"] == "matched" else "."))
    undo(call, line)
    return Reply(201, "Transaction(s) have been uncategorized.")


def undo(call: Call, line: Record) -> None:
    """Delete what categorizing or matching the line recorded (restoring what payments paid), and reset it."""
    for collection, record_id in line["_created"]:
        if collection == "payments":
            payments.delete_payment(_call(call, {"payment_id": record_id}))
        elif collection == "vendorpayments":
            vendorpayments.delete_vendor_payment(_call(call, {"payment_id": record_id}))
        elif collection in (creditnotes.SPEC.refunds, vendorcredits.SPEC.refunds):
            spec = creditnotes.SPEC if collection == creditnotes.SPEC.refunds else vendorcredits.SPEC
            refund = call.org.collection(collection).pop(record_id, None)
            credit = call.org.collection(spec.doc.collection).get(refund["_credit"]) if refund else None
            if credit is not None:
                credits.settle(call.org, spec, credit)
        else:
            call.org.collection(collection).pop(record_id, None)
    bankfeed.reset(line)
    line["last_modified_time"] = call.org.timestamp()


def _ready(call: Call, side: str, what: str) -> Record:
    line = bankfeed.line_of(call)
    bankfeed.uncategorized(line)
    if line["debit_or_credit"] != side:
        raise rule(f"This statement line is money {'in' if line['debit_or_credit'] == IN else 'out'}; "
                   f"it cannot be {what}.")
    return line


def _same_account(store: OrgStore, body: dict[str, Any], name: str, line: Record) -> None:
    """The expense or payment goes through the line's own account; another one is refused."""
    given = fields.ident(body, name)
    if given is not None and given != line["account_id"]:
        raise invalid_value(name)
    body[name] = line["account_id"]


def _call(call: Call, params: dict[str, str], body: dict[str, Any] | None = None) -> Call:
    return Call(call.env, call.store, params, {}, body, call.user_id, call.headers)


def _record(call: Call, handler: Handler, body: dict[str, Any]) -> Record:
    value: Record = handler(_call(call, {}, body)).value
    return value


def _link(store: OrgStore, line: Record, kind_name: str, link: tuple[str, str], offset: str,
          contact_id: str = "") -> Reply:
    line.update(status="categorized", transaction_type=kind_name, offset_account_name=offset,
                customer_id=contact_id or line["customer_id"], _links=[list(link)], _created=[list(link)],
                last_modified_time=store.timestamp())
    return Reply(201, CATEGORIZED)
