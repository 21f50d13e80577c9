"""Vendor credits (vendor-credits.yml, debitnotes scope) and the credits a bill takes (bills.yml): the routes;
what they do is rules/credits.py's. POST /bills/{id}/credits applies vendor credits (`apply_vendor_credits`);
the unapplied part of vendor payments (`bill_payments`) is not applied this way yet (400 code 9998)."""

from __future__ import annotations

from zbmcp.sandbox import fields
from zbmcp.sandbox.errors import ZohoError, invalid_value
from zbmcp.sandbox.rules import bills, credits
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.rules.credits import CreditSpec
from zbmcp.sandbox.rules.documents import DocSpec

SPEC = CreditSpec(
    doc=DocSpec("vendorcredits", "vendor_credit_id", "vendor_credit_number", "vendorcredit", "Vendor credit",
                "vendor"),
    key="vendor_credit", target="bills", target_id="bill_id", target_number="bill_number",
    target_thing="Bill",
    settle=bills.settle, refunds="vendorcredit_refunds", refund_id="vendor_credit_refund_id",
    refund_key="vendor_credit_refund", refund_account="account_id",
    application_id="vendor_credit_bill_id",
    messages={"created": "Vendor credit has been created.",
              "updated": "Vendor credit information has been updated.",
              "deleted": "The vendor credit has been deleted.",
              "open": "The status of the vendor credit has been changed to open.", "open_code": "201",
              "void": "The vendor credit has been voided.", "void_code": "201",
              "draft": "The vendor credit has been marked as draft.",
              "applied": "Credits have been applied to the bill(s).", "applied_code": "201",
              "applied_key": "bills",
              "unapplied": "Credits applied to the bill have been deleted.",
              "refunded": "The refund information for this vendor credit has been saved.",
              "refunded_code": "201",
              "refunds": "success", "all_refunds": "success", "refund": "success"},
)


def list_vendorcredits(call: Call) -> Reply:
    return credits.list_credits(SPEC, call)


def get_vendorcredit(call: Call) -> Reply:
    return credits.get_credit(SPEC, call)


def create_vendorcredit(call: Call) -> Reply:
    return credits.create_credit(SPEC, call)


def update_vendorcredit(call: Call) -> Reply:
    return credits.update_credit(SPEC, call)


def delete_vendorcredit(call: Call) -> Reply:
    return credits.delete_credit(SPEC, call)


def mark_open(call: Call) -> Reply:
    return credits.mark(SPEC, call, "open")


def mark_void(call: Call) -> Reply:
    return credits.mark(SPEC, call, "void")


def apply_to_bills(call: Call) -> Reply:
    return credits.apply_to_targets(SPEC, call)


def bills_credited(call: Call) -> Reply:
    return credits.list_applied(SPEC, call)


def remove_from_bill(call: Call) -> Reply:
    return credits.unapply(SPEC, call, "vendor_credit_bill_id")


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


def apply_credits_to_bill(call: Call) -> Reply:
    store = call.org
    bill = existing(store.bills, call.params["bill_id"], "Bill")
    if fields.objects(call.data, "bill_payments"):
        raise ZohoError(400, 9998, "The sandbox does not emulate apply_credits_to_bill's bill_payments yet: "
                                   "apply a vendor payment to the bill when it is recorded.")
    entries = fields.objects(call.data, "apply_vendor_credits")
    if not entries:
        raise invalid_value("apply_vendor_credits")
    credits.check_target(SPEC, store, bill["vendor_id"], bill["bill_id"], "bill_id")
    chosen = []
    for index, entry in enumerate(entries):
        where = f"apply_vendor_credits[{index}]"
        credit_id = fields.ident(entry, "vendor_credit_id", path=f"{where}.vendor_credit_id", need=True)
        credit = store.vendorcredits.get(credit_id or "")
        if credit is None or credit["vendor_id"] != bill["vendor_id"]:
            raise invalid_value(f"{where}.vendor_credit_id")
        chosen.append((credit, {"bill_id": bill["bill_id"], "amount_applied": entry.get("amount_applied")}))
    # each credit validated whole before any is applied: a refusal changes nothing
    total = 0.0
    for index, (credit, entry) in enumerate(chosen):
        amount = fields.number(entry, "amount_applied", path=f"apply_vendor_credits[{index}].amount_applied",
                               need=True, positive=True)
        assert amount is not None
        total += fields.money(amount)
        if fields.money(amount) > credit["balance"]:
            raise ZohoError(400, 9999, f"The amount applied ({amount:.2f}) is more than the vendor credit's "
                                       f"balance ({credit['balance']:.2f}).")
    if fields.money(total) > bill["balance"]:
        raise ZohoError(400, 24016, "The amount entered is more than the balance due for this bill.")
    for index, (credit, entry) in enumerate(chosen):
        credits.apply(SPEC, store, credit, [entry], f"apply_vendor_credits[{index}]")
    # bills.yml's message, its stray quote included
    return Reply(201, 'Credits have been applied to the bill(s)."')
