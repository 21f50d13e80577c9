"""Invoices (§4.1): drafts, sending, emailing, voiding, and balances that payments lower.

State machine (§9.8): create -> draft (sent with send=true, in the query or the body); /status/sent and
/email move draft -> sent; payments move it to partially_paid / paid and deleting them moves it back;
/status/void -> void and /status/draft brings a void invoice back. "overdue" is not stored: a sent invoice
past its due date shows it.

Voiding an invoice with payments is not refused: Zoho's file (mark_invoice_void) says "the payments and
credits associated with the invoices will be unassociated and will be under customer credits". Each payment
keeps its money and its date; what it had applied to the invoice becomes its unused amount, the customer's
credit. A void invoice owes nothing: its balance is 0.
"""

from __future__ import annotations

import copy

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import ZohoError, rule
from zbmcp.sandbox.filters import Filterable, ListSpec
from zbmcp.sandbox.rules import credits, documents, mail
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.rules.documents import DocSpec
from zbmcp.sandbox.store import OrgStore, Record, public

SPEC = DocSpec("invoices", "invoice_id", "invoice_number", "invoice", "Invoice", "customer")

_UNPAID = ("sent", "overdue", "partially_paid")
LIST = ListSpec(
    key="invoices",
    report_name="Invoices",
    fields={
        "invoice_number": Filterable("exact"),
        "reference_number": Filterable("exact"),
        "customer_name": Filterable("text"),
        "email": Filterable("text"),
        "item_name": Filterable("text", lambda r: [line["name"] for line in r["line_items"]]),
        "item_description": Filterable("text", lambda r: [line["description"] for line in r["line_items"]]),
        "item_id": Filterable("id", lambda r: [line["item_id"] for line in r["line_items"]]),
        "customer_id": Filterable("id"),
        "recurring_invoice_id": Filterable("id"),
        "total": Filterable("number"),
        "balance": Filterable("number"),
        "date": Filterable("date"),
        "due_date": Filterable("date"),
        "created_date": Filterable("date", lambda r: r["created_time"][:10]),
        "last_modified_time": Filterable("date"),
    },
    statuses={
        "draft": lambda r: r["status"] == "draft",
        "sent": lambda r: r["status"] == "sent",
        "overdue": lambda r: r["status"] == "overdue",
        "paid": lambda r: r["status"] == "paid",
        "void": lambda r: r["status"] == "void",
        "partially_paid": lambda r: r["status"] == "partially_paid",
        "unpaid": lambda r: r["status"] in _UNPAID,
        "viewed": lambda r: bool(r["is_viewed_by_client"]),
    },
    filter_by={
        "Status.All": lambda r: True,
        "Status.Sent": lambda r: r["status"] == "sent",
        "Status.Draft": lambda r: r["status"] == "draft",
        "Status.OverDue": lambda r: r["status"] == "overdue",
        "Status.Paid": lambda r: r["status"] == "paid",
        "Status.Void": lambda r: r["status"] == "void",
        "Status.Unpaid": lambda r: r["status"] in _UNPAID,
        "Status.PartiallyPaid": lambda r: r["status"] == "partially_paid",
        "Status.Viewed": lambda r: bool(r["is_viewed_by_client"]),
        "Date.PaymentExpectedDate": lambda r: bool(r["payment_expected_date"]),
    },
    search=("invoice_number", "reference_number", "customer_name"),
    sort_columns=frozenset({"customer_name", "invoice_number", "date", "due_date", "total", "balance",
                            "created_time"}),
    default_sort="created_time",
    row_exclude=frozenset({"line_items", "billing_address", "shipping_address", "notes", "terms", "payments",
                           "taxes", "discount_amount", "adjustment_description", "payment_terms",
                           "payment_terms_label", "sub_total", "tax_total", "price_precision"}),
)


def settle(invoice: Record) -> None:
    """Recompute payment_made, balance and the stored status after any change."""
    paid = sum((fields.dec(amount) for amount in invoice["_payments"].values()), fields.dec(0))
    credited = sum((fields.dec(amount) for amount in invoice.get("_credits", {}).values()), fields.dec(0))
    invoice["payment_made"] = fields.money(paid)
    invoice["credits_applied"] = fields.money(credited)
    paid += credited  # a credit note applied settles the invoice as a payment does
    paid += fields.dec(invoice["write_off_amount"])  # and so does what was written off (rules/excess.py)
    invoice["balance"] = fields.money(fields.dec(invoice["total"]) - paid)
    lifecycle = invoice["_lifecycle"]
    if lifecycle == "void":
        invoice["status"] = "void"
        invoice["balance"] = 0.0
    elif paid > 0:
        invoice["status"] = "paid" if invoice["balance"] <= 0 else "partially_paid"
    else:
        invoice["status"] = lifecycle


def status_of(store: OrgStore, invoice: Record) -> str:
    """The status a client sees: "overdue" is not stored, a sent invoice past its due date shows it."""
    due = invoice["due_date"]
    if invoice["status"] == "sent" and due and due < store.today().isoformat():
        return "overdue"
    return str(invoice["status"])


def present(store: OrgStore, invoice: Record) -> Record:
    shown = copy.deepcopy(invoice)
    shown["status"] = status_of(store, invoice)
    shown["due_days"] = documents.due_days(shown["status"], shown["due_date"], store.today())
    shown["payments"] = [
        {"payment_id": payment_id, "payment_number": store.payments[payment_id]["payment_number"],
         "date": store.payments[payment_id]["date"], "amount": amount}
        for payment_id, amount in invoice["_payments"].items() if payment_id in store.payments
    ]
    return shown


def list_invoices(call: Call) -> Reply:
    records = [present(call.org, invoice) for invoice in call.org.invoices.values()]
    page = filters.run(LIST, records, call.query)
    return Reply(200, "success", "invoices", page.rows, page.page_context)


def get_invoice(call: Call) -> Reply:
    invoice = existing(call.org.invoices, call.params["invoice_id"], "Invoice")
    return Reply(200, "success", "invoice", public(present(call.org, invoice)))


def _with_terms(call: Call, record: Record, body: dict[str, object]) -> None:
    party = call.org.contacts[str(record["customer_id"])]
    terms, label, due = documents.due_date(body, party, record["date"])
    record.update(payment_terms=terms, payment_terms_label=label, due_date=due)


def create_invoice(call: Call) -> Reply:
    record, body = documents.build(SPEC, call, None)
    _with_terms(call, record, body)
    send = call.sends()
    record.update(
        _lifecycle="sent" if send else "draft", _payments={}, _credits={},
        credits_applied=0.0, write_off_amount=0.0,
        is_emailed=send, is_viewed_by_client=False, has_attachment=False, reminders_sent=0,
        last_payment_date="", payment_expected_date="",
        allow_partial_payments=fields.boolean(body, "allow_partial_payments") is not False,
    )
    settle(record)
    # send=true emails the customer's contacts (§4.1): validate the recipient before storing anything.
    email = mail.compose(call, "invoice", record, "invoice_number", custom=True) if send else None
    call.org.add("invoices", record["invoice_id"], record)
    if email is not None:
        call.env.outbox.append(email)
    return Reply(201, "The invoice has been created.", "invoice", public(present(call.org, record)))


def update_invoice(call: Call) -> Reply:
    current = existing(call.org.invoices, call.params["invoice_id"], "Invoice")
    record, body = documents.build(SPEC, call, current)
    _with_terms(call, record, body)
    if current["_payments"] and record["customer_id"] != current["customer_id"]:
        # Zoho Invoice's invoices page lists 3010 with these words; Books' own is unverified.
        raise ZohoError(400, 3010, "The customer for this invoice cannot be changed because payments have "
                                   "been recorded for this invoice")
    for key in ("_lifecycle", "_payments", "_credits", "_seq", "credits_applied",
                "write_off_amount", "is_emailed",
                "is_viewed_by_client", "has_attachment", "reminders_sent", "last_payment_date",
                "payment_expected_date"):
        record[key] = current[key]
    if "_write_off_date" in current:
        record["_write_off_date"] = current["_write_off_date"]
    record["allow_partial_payments"] = fields.boolean(body, "allow_partial_payments") is not False
    settle(record)
    if record["balance"] < 0:
        # No Zoho code is documented for it (3010 is a change of customer): the sandbox's own.
        raise rule("The invoice total cannot be less than the payments recorded for it.")
    call.org.invoices[record["invoice_id"]] = record
    return Reply(200, "Invoice information has been updated.", "invoice", public(present(call.org, record)))


def delete_invoice(call: Call) -> Reply:
    invoice = existing(call.org.invoices, call.params["invoice_id"], "Invoice")
    if invoice["_payments"]:
        # §4.1 "Delete": refused while payments are applied; 4001 is Zoho Invoice's code for it.
        raise ZohoError(400, 4001, "Payments have been recorded for this invoice. "
                                   "Delete the payments before deleting the invoice.")
    if invoice.get("_credits"):
        # Zoho Invoice's code for it (§6)
        raise ZohoError(400, 12008, "Credits have been applied to this invoice. Remove the credits applied "
                                    "before deleting the invoice.")
    if invoice["write_off_amount"]:
        raise rule("This invoice has been written off. Cancel the write off before deleting the invoice.")
    del call.org.invoices[invoice["invoice_id"]]
    return Reply(200, "The invoice has been deleted.")


def mark_sent(call: Call) -> Reply:
    invoice = existing(call.org.invoices, call.params["invoice_id"], "Invoice")
    if invoice["_lifecycle"] == "void":
        raise rule("A void invoice cannot be marked as sent. Convert it to draft first.")
    _touch(call, invoice, "sent")
    return Reply(200, "Invoice status has been changed to Sent.")


def email_invoice(call: Call) -> Reply:
    invoice = existing(call.org.invoices, call.params["invoice_id"], "Invoice")
    if invoice["_lifecycle"] == "void":
        raise rule("A void invoice cannot be emailed.")
    email = mail.compose(call, "invoice", invoice, "invoice_number")
    _touch(call, invoice, "sent")
    invoice["is_emailed"] = True
    call.env.outbox.append(email)
    return Reply(200, "Your invoice has been sent.")


def mark_void(call: Call) -> Reply:
    invoice = existing(call.org.invoices, call.params["invoice_id"], "Invoice")
    _unapply_payments(call.org, invoice)
    invoice["write_off_amount"] = 0.0  # a void invoice owes nothing to write off
    invoice.pop("_write_off_date", None)
    _touch(call, invoice, "void")
    return Reply(200, "Invoice status has been changed to Void.")


def _unapply_payments(store: OrgStore, invoice: Record) -> None:
    """The payments applied to an invoice being voided become the customer's credit (their unused amount)."""
    now = store.timestamp()
    for payment_id, applied in invoice["_payments"].items():
        payment = store.payments.get(payment_id)
        if payment is None:
            continue
        payment["unused_amount"] = fields.money(fields.dec(payment["unused_amount"]) + fields.dec(applied))
        payment["invoices"] = [entry for entry in payment["invoices"]
                               if entry["invoice_id"] != invoice["invoice_id"]]
        payment["invoice_number"] = payment["invoice_numbers"] = ", ".join(
            entry["invoice_number"] for entry in payment["invoices"])
        payment["last_modified_time"] = now
    invoice["_payments"] = {}
    invoice["last_payment_date"] = ""
    credits.release(store, "creditnotes", "creditnote_refunds", "creditnote_id", invoice["invoice_id"])
    invoice["_credits"] = {}


def mark_draft(call: Call) -> Reply:
    invoice = existing(call.org.invoices, call.params["invoice_id"], "Invoice")
    if invoice["_lifecycle"] != "void":
        raise rule("Only a void invoice can be converted to draft.")
    _touch(call, invoice, "draft")
    return Reply(200, "Status of invoice changed from void to draft")


def _touch(call: Call, invoice: Record, lifecycle: str) -> None:
    if not (lifecycle == "sent" and invoice["_lifecycle"] != "draft"):
        invoice["_lifecycle"] = lifecycle
    invoice["last_modified_time"] = call.org.timestamp()
    settle(invoice)
