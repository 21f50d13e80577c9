"""Matching a statement line to what the books already hold (bank-transactions.yml).

GET .../uncategorized/{id}/match suggests, for money in: open invoices (by their balance), customer payments
into the account and transactions that moved money into it; for money out: open bills, expenses and vendor
payments paid through the account and transactions that moved money out of it. Nothing another line already
matched is offered. By default only what has the line's amount (`is_best_match`; the same reference or
contact comes first); `show_all_transactions=true`, `amount_start`/`amount_end`, `date_after`/`date_before`,
`contact`, `reference_number` and `transaction_type` widen or narrow it.

POST .../uncategorized/{id}/match with `transactions_to_be_matched: [{transaction_id, transaction_type}]`:
their amounts must add up to the line's, else nothing is matched. A payment, an expense or a transaction is
linked as it is (it is in the books already: nothing posts twice); an invoice or a bill gets a payment for
its balance, into (or from) the line's account, dated the line's day, as Zoho records one. POST
/banktransactions/{id}/unmatch deletes those payments again and leaves the line uncategorized.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from zbmcp.sandbox import fields
from zbmcp.sandbox.errors import ZohoError, invalid_value, rule
from zbmcp.sandbox.rules import bankcategorize, bankfeed, payments, vendorpayments
from zbmcp.sandbox.rules.bankfeed import IN
from zbmcp.sandbox.rules.base import Call, Reply
from zbmcp.sandbox.store import OrgStore, Record

_OPEN_INVOICE = ("sent", "overdue", "partially_paid")


@dataclass(frozen=True)
class Candidate:
    kind: str  # invoice, bill, customer_payment, vendor_payment, expense, or a bank transaction's type
    link: tuple[str, str]  # (collection, id)
    date: str
    amount: float
    number: str
    contact: str
    reference: str


def candidates(store: OrgStore, line: Record) -> Iterator[Candidate]:
    account = line["account_id"]
    if line["debit_or_credit"] == IN:
        for invoice in store.invoices.values():
            if invoice["status"] in _OPEN_INVOICE and invoice["balance"] > 0:
                yield Candidate("invoice", ("invoices", invoice["invoice_id"]), invoice["date"],
                                invoice["balance"], invoice["invoice_number"], invoice["customer_name"],
                                invoice["reference_number"])
        for payment in store.payments.values():
            if payment["account_id"] == account:
                deposited = fields.money(fields.dec(payment["amount"]) - fields.dec(payment["bank_charges"]))
                yield Candidate("customer_payment", ("payments", payment["payment_id"]), payment["date"],
                                deposited, payment["payment_number"], payment["customer_name"],
                                payment["reference_number"])
    else:
        for bill in store.bills.values():
            if bill["status"] != "void" and bill["balance"] > 0:
                yield Candidate("bill", ("bills", bill["bill_id"]), bill["date"], bill["balance"],
                                bill["bill_number"], bill["vendor_name"], bill["reference_number"])
        for payment in store.vendorpayments.values():
            if payment["paid_through_account_id"] == account:
                yield Candidate("vendor_payment", ("vendorpayments", payment["payment_id"]), payment["date"],
                                payment["amount"], payment["payment_number"], payment["vendor_name"],
                                payment["reference_number"])
        for expense in store.expenses.values():
            if expense["paid_through_account_id"] == account:
                yield Candidate("expense", ("expenses", expense["expense_id"]), expense["date"],
                                expense["total"], expense["reference_number"], expense["vendor_name"],
                                expense["reference_number"])
    near = "to_account_id" if line["debit_or_credit"] == IN else "from_account_id"
    for other in store.banktransactions.values():
        if other["_posts"] and other[near] == account and other["transaction_id"] != line["transaction_id"]:
            yield Candidate(other["transaction_type"], ("banktransactions", other["transaction_id"]),
                            other["date"], other["amount"], other["reference_number"], other["payee"],
                            other["reference_number"])


def offered(store: OrgStore, line: Record) -> list[Candidate]:
    """What the line may be matched with: not matched by another line, and not the line itself."""
    taken = {tuple(link) for other in store.banktransactions.values() for link in other["_links"]}
    return [candidate for candidate in candidates(store, line) if candidate.link not in taken]


def suggestions(call: Call) -> Reply:
    store = call.org
    line = bankfeed.line_of(call)
    query = call.query
    show_all = call.flag("show_all_transactions")
    low = _number(query, "amount_start")
    high = _number(query, "amount_end")
    after, before = _day(query, "date_after"), _day(query, "date_before")
    contact = (query.get("contact") or "").lower()
    reference = (query.get("reference_number") or "").lower()
    kind = query.get("transaction_type") or ""
    rows = []
    for candidate in offered(store, line):
        best = candidate.amount == line["amount"]
        if not (show_all or best or low is not None or high is not None) \
                or (low is not None and candidate.amount < low) \
                or (high is not None and candidate.amount > high) \
                or (after and candidate.date <= after) or (before and candidate.date >= before) \
                or (contact and contact not in candidate.contact.lower()) \
                or (reference and reference not in candidate.reference.lower()) \
                or (kind and candidate.kind != kind):
            continue
        alike = bool(line["reference_number"]) and line["reference_number"] == candidate.reference \
            or bool(candidate.contact) and candidate.contact.lower() in line["payee"].lower()
        rows.append((not best, not alike, candidate.date, {
            "transaction_id": candidate.link[1], "date": candidate.date, "transaction_type": candidate.kind,
            "reference_number": candidate.reference, "amount": candidate.amount,
            "debit_or_credit": line["debit_or_credit"], "transaction_number": candidate.number,
            "is_paid_via_print_check": False, "contact_name": candidate.contact, "is_best_match": best}))
    rows.sort(key=lambda row: row[:3])
    page_context = {"page": 1, "per_page": 200, "has_more_page": False}
    return Reply(200, "success", "matching_transactions", [row[3] for row in rows], page_context)


def match(call: Call) -> Reply:
    store = call.org
    line = bankfeed.line_of(call)
    bankfeed.uncategorized(line)
    wanted = fields.objects(call.data, "transactions_to_be_matched", need=True, non_empty=True)
    assert wanted is not None
    available = {candidate.link[1]: candidate for candidate in offered(store, line)}
    chosen: list[Candidate] = []
    for index, entry in enumerate(wanted):
        path = f"transactions_to_be_matched[{index}]"
        record_id = fields.ident(entry, "transaction_id", path=f"{path}.transaction_id", need=True)
        kind = fields.text(entry, "transaction_type", path=f"{path}.transaction_type")
        candidate = available.get(record_id or "")
        if candidate is None or candidate in chosen:
            raise invalid_value(f"{path}.transaction_id")
        if kind and kind != candidate.kind:
            raise invalid_value(f"{path}.transaction_type")
        chosen.append(candidate)
    total = sum((fields.dec(candidate.amount) for candidate in chosen), Decimal(0))
    if total != fields.dec(line["amount"]):
        raise rule(f"The transactions selected come to {total:.2f}, not the statement line's "
                   f"{line['amount']:.2f}: nothing was matched.")
    for candidate in chosen:
        if candidate.kind in ("invoice", "bill") and candidate.date > line["date"]:
            number = candidate.number
            raise rule(f"The statement line ({line['date']}) is dated before {candidate.kind} {number} "
                       f"({candidate.date}): it cannot pay it.")
    created = _pay(call, line, chosen)
    links = [list(candidate.link) for candidate in chosen if candidate.kind not in ("invoice", "bill")]
    line.update(status="matched", _links=[*links, *created], _created=created,
                transaction_type=chosen[0].kind if len({c.kind for c in chosen}) == 1 else "multiple",
                offset_account_name=", ".join(sorted({c.contact for c in chosen if c.contact})),
                last_modified_time=store.timestamp())
    return Reply(201, "The transaction has been matched.")


def _pay(call: Call, line: Record, chosen: list[Candidate]) -> list[list[str]]:
    """A payment per customer (or vendor) for the invoices (or bills) chosen, all or none."""
    store = call.org
    grouped: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in chosen:
        if candidate.kind == "invoice":
            grouped[store.invoices[candidate.link[1]]["customer_id"]].append(candidate)
        elif candidate.kind == "bill":
            grouped[store.bills[candidate.link[1]]["vendor_id"]].append(candidate)
    created: list[list[str]] = []
    try:
        for contact_id, documents in grouped.items():
            amount = fields.money(sum((fields.dec(doc.amount) for doc in documents), Decimal(0)))
            common = {"amount": amount, "date": line["date"], "payment_mode": "banktransfer",
                      "reference_number": line["reference_number"] or None}
            if documents[0].kind == "invoice":
                payment = payments.create_payment(bankcategorize._call(call, {}, {
                    **common, "customer_id": contact_id, "account_id": line["account_id"],
                    "invoices": [{"invoice_id": doc.link[1], "amount_applied": doc.amount}
                                 for doc in documents],
                })).value
                created.append(["payments", payment["payment_id"]])
            else:
                payment = vendorpayments.create_vendor_payment(bankcategorize._call(call, {}, {
                    **common, "vendor_id": contact_id, "paid_through_account_id": line["account_id"],
                    "bills": [{"bill_id": doc.link[1], "amount_applied": doc.amount} for doc in documents],
                })).value
                created.append(["vendorpayments", payment["payment_id"]])
    except ZohoError:
        line["_created"] = created
        bankcategorize.undo(call, line)
        raise
    return created


def unmatch(call: Call) -> Reply:
    line = bankfeed.line_of(call)
    if line["status"] != "matched":
        raise rule(f"This transaction is {line['status']}, not matched"
                   + (": uncategorize it instead." if line["status"] == "categorized" else "."))
    bankcategorize.undo(call, line)
    return Reply(201, "The transaction has been unmatched.")


def _number(query: Mapping[str, str], key: str) -> float | None:
    value = query.get(key)
    return fields.parse_number(value, key) if value not in (None, "") else None


def _day(query: Mapping[str, str], key: str) -> str | None:
    value = query.get(key)
    return fields.parse_date(value, key) if value not in (None, "") else None
