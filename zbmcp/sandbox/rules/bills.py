"""Bills (§4.5): what the organization owes its vendors. No auto-numbering: the client sends bill_number.

A bill is "open" when recorded and shows "overdue" past its due date; vendor payments move it to
partially_paid and paid. The OAS requires only vendor_id and bill_number; the sandbox also wants at least one
line, as a bill of nothing cannot be recorded in Zoho's UI.
"""

from __future__ import annotations

import copy

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.rules import documents
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.rules.documents import DocSpec
from zbmcp.sandbox.store import OrgStore, Record, public

SPEC = DocSpec("bills", "bill_id", "bill_number", None, "Bill", "vendor")


def _is(status: str) -> Predicate:
    return lambda record: record["status"] == status


LIST = ListSpec(
    key="bills",
    report_name="Bills",
    fields={
        "bill_number": Filterable("exact"),
        "reference_number": Filterable("exact"),
        "description": Filterable("text", lambda r: [line["description"] for line in r["line_items"]]),
        "vendor_name": Filterable("text"),
        "vendor_id": Filterable("id"),
        "item_id": Filterable("id", lambda r: [line["item_id"] for line in r["line_items"]]),
        "recurring_bill_id": Filterable("id"),
        "purchaseorder_id": Filterable("id"),
        "total": Filterable("number"),
        "date": Filterable("date"),
        "due_date": Filterable("date"),
        "last_modified_time": Filterable("date"),
    },
    statuses={status: _is(status) for status in ("paid", "open", "overdue", "void", "partially_paid")},
    filter_by={"Status.All": lambda r: True, "Status.PartiallyPaid": _is("partially_paid"),
               "Status.Paid": _is("paid"), "Status.Overdue": _is("overdue"), "Status.Void": _is("void"),
               "Status.Open": _is("open")},
    search=("bill_number", "reference_number", "vendor_name"),
    sort_columns=frozenset({"vendor_name", "bill_number", "date", "due_date", "total", "balance",
                            "created_time"}),
    default_sort="created_time",
    row_exclude=frozenset({"line_items", "notes", "terms", "taxes", "sub_total", "tax_total",
                           "price_precision", "discount_amount", "adjustment_description", "payment_terms",
                           "payment_terms_label"}),
)


def status_of(store: OrgStore, bill: Record) -> str:
    """The status a client sees: an open bill past its due date shows "overdue"."""
    if bill["status"] == "open" and bill["due_date"] < store.today().isoformat():
        return "overdue"
    return str(bill["status"])


def present(store: OrgStore, bill: Record) -> Record:
    shown = copy.deepcopy(bill)
    shown["status"] = status_of(store, bill)
    shown["due_days"] = documents.due_days(shown["status"], shown["due_date"], store.today())
    return shown


def settle(bill: Record) -> None:
    """Recompute payment_made, balance and the stored status from the vendor payments applied."""
    paid = sum((fields.dec(amount) for amount in bill["_payments"].values()), fields.dec(0))
    bill["payment_made"] = fields.money(paid)
    credited = sum((fields.dec(amount) for amount in bill.get("_credits", {}).values()), fields.dec(0))
    bill["vendor_credits_applied"] = fields.money(credited)
    paid += credited  # a vendor credit applied settles the bill as a payment does
    bill["balance"] = fields.money(fields.dec(bill["total"]) - paid)
    if bill["status"] != "void":
        bill["status"] = "open" if paid <= 0 else ("paid" if bill["balance"] <= 0 else "partially_paid")


def list_bills(call: Call) -> Reply:
    records = [present(call.org, bill) for bill in call.org.bills.values()]
    page = filters.run(LIST, records, call.query)
    return Reply(200, "success", "bills", page.rows, page.page_context)


def get_bill(call: Call) -> Reply:
    bill = existing(call.org.bills, call.params["bill_id"], "Bill")
    return Reply(200, "success", "bill", public(present(call.org, bill)))


def create_bill(call: Call) -> Reply:
    record, body = documents.build(SPEC, call, None)
    vendor = call.org.contacts[str(record["vendor_id"])]
    terms, label, due = documents.due_date(body, vendor, record["date"])
    record.update(payment_terms=terms, payment_terms_label=label, due_date=due, status="open", _payments={})
    settle(record)
    call.org.add("bills", record["bill_id"], record)
    # §3: "success" is the OAS example's message for a created bill; Zoho's real wording is unverified.
    return Reply(201, "success", "bill", public(present(call.org, record)))
