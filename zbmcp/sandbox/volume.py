"""A busy organization for benchmarks and load: hundreds of invoices over fifteen months, with the customers,
payments, bills, vendor payments and expenses around them, on top of the default organization's seed.

    Sandbox(bulk_invoices=600)          # or: zbmcp sandbox --invoices 600

Everything goes through the business rules the API uses, from a fixed random seed, so two sandboxes made on
the same day hold the same books. Older invoices are mostly paid; recent ones are open, some overdue, a few
drafts or void. Bills are paid by vendor payments from Business Checking, in the same proportions.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from zbmcp.sandbox.rules import bills, contacts, expenses, invoices, payments, vendorpayments

if TYPE_CHECKING:
    from zbmcp.sandbox.seed import _Seeder

HISTORY_DAYS = 450
_FIRST = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Blue Yonder", "Coho", "Lucerne",
          "Proseware", "Alpine", "Litware", "Woodgrove")
_SECOND = ("Traders", "Group", "Partners")
_VENDORS = ("Paper Mill Supplies", "Metro Office Rentals", "Swift Couriers", "Brightline Telecom",
            "Keystone Legal", "Harbor Insurance", "Pixel Print Shop", "Summit Travel")
_BILL_ACCOUNTS = ("IT and Internet Expenses", "Office Supplies", "Rent Expense", "Travel Expense")
_EXPENSE_ACCOUNTS = ("Travel Expense", "Office Supplies", "IT and Internet Expenses")
_PAID_THROUGH = ("Business Checking", "Company Credit Card", "Petty Cash")
_SELLING = ("Consulting", "Website design", "Support plan")


def populate(seeder: _Seeder, invoice_count: int) -> None:
    rng = random.Random(15)
    store = seeder.store
    account = {a["account_name"]: a["account_id"] for a in store.accounts.values()}
    item = {i["name"]: i["item_id"] for i in store.items.values()}
    customers = [_contact(seeder, f"{first} {second}", "customer", rng)
                 for first in _FIRST for second in _SECOND]
    vendors = [_contact(seeder, name, "vendor", rng) for name in _VENDORS]
    for _ in range(invoice_count):
        _invoice(seeder, rng, rng.choice(customers), [item[name] for name in _SELLING], account)
    for _ in range(invoice_count // 4):
        _bill(seeder, rng, rng.choice(vendors), account)
    for _ in range(invoice_count // 10):
        age = rng.randint(0, HISTORY_DAYS)
        expense = seeder.run(expenses.create_expense, {
            "account_id": account[rng.choice(_EXPENSE_ACCOUNTS)], "amount": rng.randint(800, 40000) / 100,
            "date": seeder.day(age), "paid_through_account_id": account[rng.choice(_PAID_THROUGH)],
            "description": "Card and cash spending"})
        seeder.backdate("expenses", expense["expense_id"], seeder.day(age))


def _contact(seeder: _Seeder, name: str, kind: str, rng: random.Random) -> str:
    slug = name.lower().replace(" ", "")
    made = seeder.run(contacts.create_contact, {
        "contact_name": name, "company_name": name, "contact_type": kind,
        "payment_terms": rng.choice((15, 30, 45)),
        "contact_persons": [{"first_name": "Accounts", "last_name": "Team",
                             "email": f"accounts@{slug}.example", "is_primary_contact": True}]})
    return str(made["contact_id"])


def _fate(rng: random.Random, age: int) -> str:
    """What became of a document `age` days old: paid, part-paid, open, draft or void."""
    roll = rng.random()
    if age > 60:
        return "paid" if roll < 0.85 else "part" if roll < 0.93 else "open" if roll < 0.97 else "void"
    if age > 20:
        return "paid" if roll < 0.5 else "part" if roll < 0.65 else "open" if roll < 0.95 else "void"
    return "paid" if roll < 0.2 else "part" if roll < 0.3 else "open" if roll < 0.8 else "draft"


def _invoice(seeder: _Seeder, rng: random.Random, customer: str, sold: list[str],
             account: dict[str, str]) -> None:
    age = rng.randint(0, HISTORY_DAYS)
    lines = [{"item_id": rng.choice(sold), "quantity": rng.randint(1, 10)} for _ in range(rng.randint(1, 3))]
    made = seeder.run(invoices.create_invoice, {"customer_id": customer, "date": seeder.day(age),
                                                "line_items": lines})
    invoice_id = made["invoice_id"]
    fate = _fate(rng, age)
    if fate != "draft":
        seeder.run(invoices.mark_sent, invoice_id=invoice_id)
    if fate == "void":
        seeder.run(invoices.mark_void, invoice_id=invoice_id)
    elif fate in ("paid", "part"):
        amount = made["total"] if fate == "paid" else round(made["total"] * rng.choice((0.25, 0.5, 0.75)), 2)
        paid_on = max(0, age - rng.randint(3, 40))
        payment = seeder.run(payments.create_payment, {
            "customer_id": customer, "payment_mode": rng.choice(("banktransfer", "check", "cash")),
            "amount": amount, "date": seeder.day(paid_on), "account_id": account["Business Checking"],
            "invoices": [{"invoice_id": invoice_id, "amount_applied": amount}]})
        seeder.backdate("payments", payment["payment_id"], seeder.day(paid_on))
    seeder.backdate("invoices", invoice_id, seeder.day(age))


def _bill(seeder: _Seeder, rng: random.Random, vendor: str, account: dict[str, str]) -> None:
    age = rng.randint(0, HISTORY_DAYS)
    number = f"VB-{len(seeder.store.bills) + 1:05d}"
    line: dict[str, Any] = {"account_id": account[rng.choice(_BILL_ACCOUNTS)],
                            "rate": rng.randint(5000, 300000) / 100}
    made = seeder.run(bills.create_bill, {"vendor_id": vendor, "bill_number": number, "date": seeder.day(age),
                                          "line_items": [line]})
    fate = _fate(rng, age)
    if fate in ("paid", "part"):
        amount = made["total"] if fate == "paid" else round(made["total"] * 0.5, 2)
        paid_on = max(0, age - rng.randint(5, 30))
        payment = seeder.run(vendorpayments.create_vendor_payment, {
            "vendor_id": vendor, "amount": amount, "date": seeder.day(paid_on),
            "payment_mode": "banktransfer", "paid_through_account_id": account["Business Checking"],
            "bills": [{"bill_id": made["bill_id"], "amount_applied": amount}]})
        seeder.backdate("vendorpayments", payment["payment_id"], seeder.day(paid_on))
    seeder.backdate("bills", made["bill_id"], seeder.day(age))
