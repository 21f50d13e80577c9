"""Credit notes (credit-notes.yml, creditnotes scope) and the credits an invoice takes (invoices.yml): the
routes; what they do is rules/credits.py's.

POST /invoices/{id}/credits applies, to one invoice, credit notes (`apply_creditnotes: [{creditnote_id,
amount_applied}]`) and the unused part of the customer's payments (`invoice_payments: [{payment_id,
amount_applied}]`: an overpayment, or what a voided invoice gave back): all or none. A payment applied this
way lists the invoice among its own; deleting the payment takes it off again.
"""

from __future__ import annotations

from decimal import Decimal

from zbmcp.sandbox import fields
from zbmcp.sandbox.errors import ZohoError, invalid_value, not_found, rule
from zbmcp.sandbox.rules import credits, invoices
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.rules.credits import CreditSpec
from zbmcp.sandbox.rules.documents import DocSpec
from zbmcp.sandbox.store import OrgStore, Record

SPEC = CreditSpec(
    doc=DocSpec("creditnotes", "creditnote_id", "creditnote_number", "creditnote", "Credit note", "customer"),
    key="creditnote", target="invoices", target_id="invoice_id", target_number="invoice_number",
    target_thing="Invoice", settle=invoices.settle, refunds="creditnote_refunds",
    refund_id="creditnote_refund_id", refund_key="creditnote_refund", refund_account="from_account_id",
    application_id="creditnote_invoice_id",
    messages={"created": "The credit note has been created.", "updated": "The credit note has been updated.",
              "deleted": "The credit note has been deleted.",
              "open": "Status of the credit note has been changed to open.",
              "void": "The credit note has been marked as void.",
              "draft": "The credit note has been marked as Draft.",
              "applied": "Credits have been applied to the invoice(s).",
              "unapplied": "Credits applied to an invoice have been deleted.",
              "refunded": "The credit note amount is refunded successfully.",
              "refunds": "The refunds of the existing credit note are displayed successfully.",
              "all_refunds": "The list of credit note refunds are displayed successfully.",
              "refund": "The refund of the credit note is displayed successfully."},
)


def list_creditnotes(call: Call) -> Reply:
    return credits.list_credits(SPEC, call)


def get_creditnote(call: Call) -> Reply:
    return credits.get_credit(SPEC, call)


def create_creditnote(call: Call) -> Reply:
    return credits.create_credit(SPEC, call)


def update_creditnote(call: Call) -> Reply:
    return credits.update_credit(SPEC, call)


def delete_creditnote(call: Call) -> Reply:
    return credits.delete_credit(SPEC, call)


def mark_open(call: Call) -> Reply:
    return credits.mark(SPEC, call, "open")


def mark_void(call: Call) -> Reply:
    return credits.mark(SPEC, call, "void")


def mark_draft(call: Call) -> Reply:
    return credits.mark(SPEC, call, "draft")


def apply_to_invoices(call: Call) -> Reply:
    return credits.apply_to_targets(SPEC, call)


def invoices_credited(call: Call) -> Reply:
    return credits.list_applied(SPEC, call)


def remove_from_invoice(call: Call) -> Reply:
    return credits.unapply(SPEC, call, "creditnote_invoice_id")


def create_refund(call: Call) -> Reply:
    return credits.create_refund(SPEC, call)


def list_refunds(call: Call) -> Reply:
    return credits.list_refunds(SPEC, call)


def list_all_refunds(call: Call) -> Reply:
    return credits.list_refunds(SPEC, call, all_credits=True)


def get_refund(call: Call) -> Reply:
    return credits.get_refund(SPEC, call)


def delete_refund(call: Call) -> Reply:
    return credits.delete_refund(SPEC, call)


# -- an invoice's credits ------------------------------------------------------------------------------------

def apply_credits_to_invoice(call: Call) -> Reply:
    store = call.org
    invoice = existing(store.invoices, call.params["invoice_id"], "Invoice")
    body = call.data
    notes = fields.objects(body, "apply_creditnotes") or []
    paid = fields.objects(body, "invoice_payments") or []
    if not notes and not paid:
        raise invalid_value("apply_creditnotes")
    credits.check_target(SPEC, store, invoice["customer_id"], invoice["invoice_id"], "invoice_id")
    from_payments = _payment_shares(store, invoice, paid)
    from_notes: list[tuple[Record, Decimal]] = []
    for index, entry in enumerate(notes):
        where = f"apply_creditnotes[{index}]"
        note_id = fields.ident(entry, "creditnote_id", path=f"{where}.creditnote_id", need=True)
        amount = fields.number(entry, "amount_applied", path=f"{where}.amount_applied", need=True,
                               positive=True)
        assert note_id and amount is not None
        note = store.collection("creditnotes").get(note_id)
        if note is None or note["customer_id"] != invoice["customer_id"]:
            raise invalid_value(f"{where}.creditnote_id")
        if note["status"] != "open":
            raise rule(f"Only an open credit note can be applied; {note['creditnote_number']} is "
                       f"{note['status']}.")
        share = fields.dec(fields.money(amount))
        used = sum((s for n, s in from_notes if n is note), Decimal(0)) + share
        if used > fields.dec(note["balance"]):
            raise rule(f"The amount applied ({used:.2f}) is more than the credit note's balance "
                       f"({note['balance']:.2f}).")
        from_notes.append((note, share))
    total = sum((share for _, share in from_notes), Decimal(0)) + sum(from_payments.values(), Decimal(0))
    if total > fields.dec(invoice["balance"]):
        raise ZohoError(400, 24016, "The amount entered is more than the balance due for this invoice.")
    for payment_id, share in from_payments.items():
        _apply_payment(store, store.payments[payment_id], invoice, share)
    for note, share in from_notes:
        credits.apply(SPEC, store, note, [{"invoice_id": invoice["invoice_id"],
                                           "amount_applied": float(share)}], "apply_creditnotes")
    invoices.settle(invoice)
    return Reply(200, SPEC.messages["applied"])


def _payment_shares(store: OrgStore, invoice: Record, entries: list[dict[str, object]]) -> dict[str, Decimal]:
    shares: dict[str, Decimal] = {}
    for index, entry in enumerate(entries):
        where = f"invoice_payments[{index}]"
        payment_id = fields.ident(entry, "payment_id", path=f"{where}.payment_id", need=True)
        amount = fields.number(entry, "amount_applied", path=f"{where}.amount_applied", need=True,
                               positive=True)
        assert payment_id and amount is not None
        payment = store.payments.get(payment_id)
        if payment is None or payment["customer_id"] != invoice["customer_id"]:
            raise invalid_value(f"{where}.payment_id")
        shares[payment_id] = shares.get(payment_id, Decimal(0)) + fields.dec(fields.money(amount))
        if shares[payment_id] > fields.dec(payment["unused_amount"]):
            raise rule(f"The amount applied ({shares[payment_id]:.2f}) is more than payment "
                       f"{payment['payment_number']}'s unused amount ({payment['unused_amount']:.2f}).")
    return shares


def _apply_payment(store: OrgStore, payment: Record, invoice: Record, share: Decimal) -> None:
    """Part of a payment's unused amount goes to the invoice, as if the payment had named it."""
    invoice_id = invoice["invoice_id"]
    invoice["_payments"][payment["payment_id"]] = fields.money(
        fields.dec(invoice["_payments"].get(payment["payment_id"], 0.0)) + share)
    entries = [entry for entry in payment["invoices"] if entry["invoice_id"] == invoice_id]
    if entries:
        entries[0]["amount_applied"] = fields.money(fields.dec(entries[0]["amount_applied"]) + share)
    else:
        payment["invoices"].append({"invoice_id": invoice_id, "invoice_number": invoice["invoice_number"],
                                    "date": invoice["date"], "invoice_amount": invoice["total"],
                                    "amount_applied": fields.money(share), "balance_amount": 0.0})
    payment["unused_amount"] = fields.money(fields.dec(payment["unused_amount"]) - share)
    payment["invoice_numbers"] = ", ".join(entry["invoice_number"] for entry in payment["invoices"])
    payment["last_modified_time"] = store.timestamp()


def credits_applied(call: Call) -> Reply:
    store = call.org
    invoice = existing(store.invoices, call.params["invoice_id"], "Invoice")
    rows = []
    for note in store.collection("creditnotes").values():
        for app_id, entry in note["_applied"].items():
            if entry["target"] == invoice["invoice_id"]:
                rows.append({"creditnote_id": note["creditnote_id"], "creditnotes_invoice_id": app_id,
                             "creditnotes_number": note["creditnote_number"], "credited_date": entry["date"],
                             "amount_applied": entry["amount_applied"]})
    return Reply(200, "success", "credits", rows)


def delete_credit_applied(call: Call) -> Reply:
    store = call.org
    invoice = existing(store.invoices, call.params["invoice_id"], "Invoice")
    app_id = call.params["creditnotes_invoice_id"]
    for note in store.collection("creditnotes").values():
        entry = note["_applied"].get(app_id)
        if entry is not None and entry["target"] == invoice["invoice_id"]:
            credits.remove_application(SPEC, store, note, app_id)
            return Reply(200, SPEC.messages["unapplied"])
    raise not_found("Credit applied")
