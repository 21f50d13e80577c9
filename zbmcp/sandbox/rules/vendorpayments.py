"""Vendor payments: money paid to a vendor from a cash, bank or card account, applied to the vendor's bills.

Zoho's vendor-payments OpenAPI file is not among the files zbmcp's sandbox was built from; what is reproduced
comes from Zoho's vendor-payments.yml as published in the public OAS corpus (paths, scopes, fields, the list
key `vendorpayments`) and Zoho's Java wrapper (the `vendorpayment` key of a single payment). Unverified.

A payment lowers each bill's balance and moves it to partially_paid or paid; deleting it puts both back.
Refused, with nothing changed: applying more than a bill's balance, more than the payment's amount, another
vendor's bill, a void bill, or paying through an account money cannot leave from.
"""

from __future__ import annotations

from decimal import Decimal

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import ZohoError, invalid_value, rule
from zbmcp.sandbox.filters import Filterable, ListSpec
from zbmcp.sandbox.rules import bills, excess
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, contact_ref, existing
from zbmcp.sandbox.rules.expenses import PAID_THROUGH_TYPES
from zbmcp.sandbox.rules.payments import mode_is
from zbmcp.sandbox.store import Record, public

_MODES = ("Check", "Cash", "BankTransfer", "Paypal", "CreditCard", "GoogleCheckout", "Credit", "Authorizenet",
          "BankRemittance", "Payflowpro", "Others")
DEFAULT_PAID_THROUGH = "Petty Cash"


LIST = ListSpec(
    key="vendorpayments",
    report_name="Vendor Payments",
    fields={
        "vendor_name": Filterable("text"),
        "reference_number": Filterable("exact"),
        "payment_number": Filterable("exact"),
        "description": Filterable("text"),
        "notes": Filterable("text", lambda r: r["description"]),
        "payment_mode": Filterable("text"),
        "vendor_id": Filterable("id"),
        "bill_id": Filterable("id", lambda r: [entry["bill_id"] for entry in r["bills"]]),
        "amount": Filterable("number"),
        "date": Filterable("date"),
        "last_modified_time": Filterable("date"),
    },
    filter_by={"PaymentMode.All": lambda r: True} | {f"PaymentMode.{mode}": mode_is(mode) for mode in _MODES},
    default_filter="PaymentMode.All",
    search=("vendor_name", "reference_number", "description"),
    sort_columns=frozenset({"vendor_name", "date", "reference_number", "amount", "balance", "created_time"}),
    default_sort="created_time",
    row_exclude=frozenset({"bills"}),
)


def list_vendor_payments(call: Call) -> Reply:
    page = filters.run(LIST, list(call.org.vendorpayments.values()), call.query)
    return Reply(200, "success", "vendorpayments", page.rows, page.page_context)


def get_vendor_payment(call: Call) -> Reply:
    payment = existing(call.org.vendorpayments, call.params["payment_id"], "Vendor payment")
    return Reply(200, "success", "vendorpayment", public(payment))


def create_vendor_payment(call: Call) -> Reply:
    store = call.org
    body = call.data
    vendor_id = fields.ident(body, "vendor_id", need=True)
    amount = fields.number(body, "amount", need=True, positive=True)
    assert vendor_id and amount is not None
    vendor = contact_ref(store, vendor_id, "vendor_id", "vendor")
    amount = fields.money(amount)
    payment_date = fields.day(body, "date") or store.today().isoformat()
    mode = fields.text(body, "payment_mode", max_len=100) or "Cash"
    account_id = fields.ident(body, "paid_through_account_id")
    if account_id is not None:
        account = account_ref(store, account_id, "paid_through_account_id", PAID_THROUGH_TYPES)
    else:
        account = next(a for a in store.accounts.values() if a["account_name"] == DEFAULT_PAID_THROUGH)

    applied: dict[str, Decimal] = {}
    for index, entry in enumerate(fields.objects(body, "bills") or []):
        path = f"bills[{index}]"
        bill_id = fields.ident(entry, "bill_id", path=f"{path}.bill_id", need=True)
        share = fields.number(entry, "amount_applied", path=f"{path}.amount_applied", need=True,
                              positive=True)
        assert bill_id and share is not None
        bill = store.bills.get(bill_id)
        if bill is None:
            raise invalid_value(f"{path}.bill_id")
        if bill["vendor_id"] != vendor_id:
            # 3004 and 24016 are Zoho's codes for a customer payment's same mistakes (Zoho Invoice's page)
            raise ZohoError(400, 3004, f"Bill {bill['bill_number']} does not belong to the vendor "
                                       f"{vendor['contact_name']}.")
        if bill["status"] == "void":
            raise rule(f"Payments cannot be recorded for the void bill {bill['bill_number']}.")
        if payment_date < bill["date"]:
            raise rule(f"The payment date {payment_date} is before the date of bill {bill['bill_number']} "
                       f"({bill['date']}).")
        applied[bill_id] = applied.get(bill_id, Decimal(0)) + fields.dec(fields.money(share))
        if applied[bill_id] > fields.dec(bill["balance"]):
            raise ZohoError(400, 24016, "The amount entered is more than the balance due for this bill.")
    total_applied = sum(applied.values(), Decimal(0))
    if total_applied > fields.dec(amount):
        raise rule("The amount applied to bills is more than the amount of the payment.")

    payment_id = store.new_id()
    now = store.timestamp()
    entries = []
    for bill_id, portion in applied.items():
        bill = store.bills[bill_id]
        bill["_payments"][payment_id] = fields.money(portion)
        bill["last_modified_time"] = now
        bills.settle(bill)
        entries.append({"bill_payment_id": store.new_id(), "bill_id": bill_id,
                        "bill_number": bill["bill_number"], "date": bill["date"],
                        "due_date": bill["due_date"], "total": bill["total"], "balance": bill["balance"],
                        "amount_applied": fields.money(portion)})
    org = store.organization
    unapplied = fields.money(fields.dec(amount) - total_applied)
    record: Record = {
        "payment_id": payment_id,
        "payment_number": store.next_number("vendorpayment",
                                            (p["payment_number"] for p in store.vendorpayments.values())),
        "vendor_id": vendor_id,
        "vendor_name": vendor["contact_name"],
        "payment_mode": mode,
        "date": payment_date,
        "amount": amount,
        "bcy_amount": amount,
        "balance": unapplied,
        "bcy_balance": unapplied,
        "paid_through_account_id": account["account_id"],
        "paid_through_account_name": account["account_name"],
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "description": fields.text(body, "description") or "",
        "bill_numbers": ", ".join(entry["bill_number"] for entry in entries),
        "bills": entries,
        "currency_id": org.currency_id,
        "currency_code": org.currency_code,
        "currency_symbol": org.currency_symbol,
        "exchange_rate": fields.number(body, "exchange_rate", positive=True) or 1.0,
        "created_time": now,
        "last_modified_time": now,
    }
    store.add("vendorpayments", payment_id, record)
    return Reply(201, "The payment made to the vendor has been recorded.", "vendorpayment", public(record))


def delete_vendor_payment(call: Call) -> Reply:
    store = call.org
    payment = existing(store.vendorpayments, call.params["payment_id"], "Vendor payment")
    if excess.refunded(store.vendorpayment_refunds, payment["payment_id"]):
        raise rule(f"Payment {payment['payment_number']} has refunds. Delete them before deleting the "
                   "payment.")
    for entry in payment["bills"]:
        bill = store.bills.get(entry["bill_id"])
        if bill is None:
            continue
        bill["_payments"].pop(payment["payment_id"], None)
        bill["last_modified_time"] = store.timestamp()
        bills.settle(bill)
    del store.vendorpayments[payment["payment_id"]]
    return Reply(200, "The payment has been deleted.")
