"""Seed data: three organizations, so an agent can do something real at once and tests can check it stays in
its own organization.

    10234695  Sandbox Trading Ltd   GBP  default user (the default organization)
    10234696  Sandbox Services Inc  USD  default user
    20987654  Nordwind Handels GmbH EUR  another user: exists, but the default user's calls answer 6041

Both of the default user's organizations get the same books (different ids): customers Acme Corporation,
Globex Ltd and Initech (no email address), vendors Office Supplies Co and Cloud Hosting Ltd, items Consulting
(150/hour), Website design, Support plan, Printer paper (purchases) and the inactive Legacy hosting, a chart
of accounts with Business Checking and Company Credit Card, invoices in every state: paid, overdue, partially
paid and draft, and a draft journal accruing this month's rent. Records are made through the same business
rules the API uses. Ids are deterministic (one counter, fixed order); dates are relative to today, so
"overdue" stays overdue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from zbmcp.sandbox import volume
from zbmcp.sandbox.rules import (
    accounts,
    bankfeed,
    bills,
    creditnotes,
    contacts,
    estimates,
    expenses,
    invoices,
    items,
    journals,
    orders,
    payments,
    taxes,
    vendorcredits,
)
from zbmcp.sandbox.rules.base import Call, Env, Handler
from zbmcp.sandbox.store import IdGenerator, Organization, OrgStore, Record

DEFAULT_USER_ID = "700000000000001"
OTHER_USER_ID = "700000000000002"

_CHART: tuple[tuple[str, str, str], ...] = (
    ("Sales", "income", "4000"),
    ("Consulting Income", "income", "4010"),
    ("General Income", "income", "4090"),
    ("Discount", "income", "4100"),
    ("Shipping Charge", "income", "4200"),
    ("Other Charges", "income", "4300"),
    ("Interest Income", "other_income", "4500"),
    ("Cost of Goods Sold", "cost_of_goods_sold", "5000"),
    ("Office Supplies", "expense", "6010"),
    ("Rent Expense", "expense", "6020"),
    ("IT and Internet Expenses", "expense", "6030"),
    ("Travel Expense", "expense", "6040"),
    ("Bank Fees and Charges", "expense", "6050"),
    ("Purchase Discounts", "expense", "6060"),
    ("Bad Debt", "expense", "6070"),
    ("Other Expenses", "other_expense", "6900"),
    ("Petty Cash", "cash", "1010"),
    ("Undeposited Funds", "cash", "1020"),
    ("Accounts Receivable", "accounts_receivable", "1100"),
    ("Accounts Payable", "accounts_payable", "2000"),
    ("Tax Payable", "other_current_liability", "2100"),
    ("Accrued Liabilities", "other_current_liability", "2200"),
    ("Owner's Equity", "equity", "3000"),
    ("Retained Earnings", "equity", "3100"),
    ("Opening Balance Adjustments", "equity", "3900"),
)


# Each country's taxes: name, rate.
_TAXES = {
    "United Kingdom": (("Standard Rate", 20.0), ("Reduced Rate", 5.0), ("Zero Rate", 0.0)),
    "U.S.A": (("NY Sales Tax", 8.875),),
    "Germany": (("MwSt", 19.0), ("MwSt ermäßigt", 7.0)),
}


def organizations(ids: IdGenerator) -> list[Organization]:
    return [
        Organization("10234695", "Sandbox Trading Ltd", DEFAULT_USER_ID, ids(), "GBP", "£", "Europe/London",
                     "Sam Sandbox", "owner@sandbox-trading.example", "United Kingdom", is_default_org=True),
        Organization("10234696", "Sandbox Services Inc", DEFAULT_USER_ID, ids(), "USD", "$",
                     "America/New_York", "Sam Sandbox", "owner@sandbox-services.example", "U.S.A"),
        Organization("20987654", "Nordwind Handels GmbH", OTHER_USER_ID, ids(), "EUR", "€", "Europe/Berlin",
                     "Nora Nordwind", "nora@nordwind.example", "Germany"),
    ]


class _Seeder:
    def __init__(self, store: OrgStore, env: Env) -> None:
        self.store = store
        self.env = env
        self.today = store.today()

    def day(self, days_ago: int) -> str:
        return (self.today - timedelta(days=days_ago)).isoformat()

    def run(self, handler: Handler, body: dict[str, Any] | None = None, **params: str) -> Record:
        reply = handler(Call(self.env, self.store, params, {}, body))
        value: Record = reply.value if isinstance(reply.value, dict) else {}
        return value

    def backdate(self, collection: str, record_id: str, day: str) -> None:
        record = self.store.collection(collection)[record_id]
        record["created_time"] = record["last_modified_time"] = f"{day}T09:00:00+0000"

    def id_of(self, collection: str, key: str, value: str, id_key: str) -> str:
        return next(r[id_key] for r in self.store.collection(collection).values() if r[key] == value)


def _chart(seeder: _Seeder) -> None:
    store = seeder.store
    for name, account_type, code in _CHART:
        record = accounts.build(store, {"account_name": name, "account_type": account_type,
                                        "account_code": code}, accounts.ACCOUNT_TYPES)
        record.update(is_system_account=True, is_user_created=False)
        store.add("accounts", record["account_id"], record)
    for name, account_type, number, opening in (("Business Checking", "bank", "****4321", 25000.0),
                                                ("Company Credit Card", "credit_card", "****9876", 0.0)):
        record = accounts.build(store, {"account_name": name, "account_type": account_type,
                                        "account_number": number, "bank_name": "Sandbox Bank",
                                        "is_primary_account": account_type == "bank"},
                                accounts.BANK_TYPES)
        record["_opening_balance"] = opening
        store.add("accounts", record["account_id"], record)
    for name, rate in _TAXES.get(store.organization.country, ()):
        seeder.run(taxes.create_tax, {"tax_name": name, "tax_percentage": rate})


def _person(first: str, last: str, email: str = "", phone: str = "") -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "email": email, "phone": phone,
            "is_primary_contact": True}


def _books(seeder: _Seeder) -> None:
    """The default user's books: enough to invoice Acme for three hours of consulting straight away."""
    _chart(seeder)
    run = seeder.run

    def account(name: str) -> str:
        return seeder.id_of("accounts", "account_name", name, "account_id")

    acme = run(contacts.create_contact, {
        "contact_name": "Acme Corporation", "company_name": "Acme Corporation", "contact_type": "customer",
        "payment_terms": 30, "contact_persons": [_person("Jane", "Smith", "jane.smith@acme.example",
                                                         "+1-555-0100")],
        "billing_address": {"address": "1 Acme Way", "city": "Springfield", "zip": "12345",
                            "country": "U.S.A"},
    })["contact_id"]
    globex = run(contacts.create_contact, {
        "contact_name": "Globex Ltd", "company_name": "Globex Ltd", "contact_type": "customer",
        "payment_terms": 15, "contact_persons": [_person("Hank", "Scorpio", "hank.scorpio@globex.example")],
    })["contact_id"]
    initech = run(contacts.create_contact, {
        "contact_name": "Initech", "company_name": "Initech", "contact_type": "customer", "payment_terms": 30,
        "contact_persons": [_person("Bill", "Lumbergh", phone="+1-555-0199")],  # no email, on purpose
    })["contact_id"]
    office = run(contacts.create_contact, {
        "contact_name": "Office Supplies Co", "contact_type": "vendor", "payment_terms": 30,
        "contact_persons": [_person("Olive", "Stapleton", "orders@officesupplies.example")],
    })["contact_id"]
    hosting = run(contacts.create_contact, {
        "contact_name": "Cloud Hosting Ltd", "contact_type": "vendor", "payment_terms": 15,
        "contact_persons": [_person("Cole", "Rackham", "billing@cloudhosting.example")],
    })["contact_id"]

    consulting = run(items.create_item, {"name": "Consulting", "rate": 150, "unit": "hour",
                                         "description": "Consulting services, per hour",
                                         "account_id": account("Consulting Income")})["item_id"]
    design = run(items.create_item, {"name": "Website design", "rate": 2400, "unit": "project",
                                     "description": "Design and build of a small business website",
                                     "account_id": account("Sales")})["item_id"]
    support = run(items.create_item, {"name": "Support plan", "rate": 99, "unit": "month",
                                      "description": "Monthly support and maintenance",
                                      "account_id": account("Sales")})
    paper = run(items.create_item, {"name": "Printer paper", "rate": 8.5, "unit": "ream",
                                    "product_type": "goods", "item_type": "purchases", "purchase_rate": 6,
                                    "purchase_account_id": account("Office Supplies")})["item_id"]
    legacy = run(items.create_item, {"name": "Legacy hosting", "rate": 40, "unit": "month"})["item_id"]
    seeder.store.items[legacy]["status"] = "inactive"

    def invoice(customer: str, item: str, quantity: float, days_ago: int, send: bool) -> str:
        made = run(invoices.create_invoice, {"customer_id": customer, "date": seeder.day(days_ago),
                                             "line_items": [{"item_id": item, "quantity": quantity}]})
        if send:
            run(invoices.mark_sent, invoice_id=made["invoice_id"])
        seeder.backdate("invoices", made["invoice_id"], seeder.day(days_ago))
        return str(made["invoice_id"])

    paid = invoice(acme, design, 1, 60, send=True)
    invoice(globex, consulting, 8, 45, send=True)  # Net 15: overdue
    partly = invoice(acme, support["item_id"], 12, 10, send=True)
    invoice(initech, consulting, 3, 2, send=False)
    for target, amount, mode, days_ago, deposit in ((paid, 2400, "banktransfer", 35, "Business Checking"),
                                                    (partly, 500, "check", 5, "Undeposited Funds")):
        payment = run(payments.create_payment, {
            "customer_id": acme, "payment_mode": mode, "amount": amount, "date": seeder.day(days_ago),
            "account_id": account(deposit), "invoices": [{"invoice_id": target, "amount_applied": amount}],
        })
        seeder.backdate("payments", payment["payment_id"], seeder.day(days_ago))

    quote = run(estimates.create_estimate, {"customer_id": globex, "date": seeder.day(7),
                                            "expiry_date": seeder.day(-23),
                                            "line_items": [{"item_id": design}]})
    seeder.backdate("estimates", quote["estimate_id"], seeder.day(7))
    quote = run(estimates.create_estimate, {"customer_id": acme, "date": seeder.day(20),
                                            "line_items": [{"item_id": consulting, "quantity": 20}]})
    seeder.store.estimates[quote["estimate_id"]]["status"] = "sent"
    seeder.backdate("estimates", quote["estimate_id"], seeder.day(20))
    order = run(orders.create_salesorder, {"customer_id": acme, "date": seeder.day(3),
                                           "line_items": [{"item_id": support["item_id"], "quantity": 12}]})
    seeder.backdate("salesorders", order["salesorder_id"], seeder.day(3))
    order = run(orders.create_purchaseorder, {"vendor_id": office, "date": seeder.day(4),
                                              "line_items": [{"item_id": paper, "quantity": 10,
                                                              "account_id": account("Office Supplies")}]})
    seeder.backdate("purchaseorders", order["purchaseorder_id"], seeder.day(4))
    for vendor, number, line, days_ago in (
        (hosting, "CH-1001", {"name": "Cloud hosting (monthly)", "rate": 180,
                              "account_id": account("IT and Internet Expenses")}, 20),
        (office, "OS-2231", {"item_id": paper, "quantity": 2}, 3),
    ):
        bill = run(bills.create_bill, {"vendor_id": vendor, "bill_number": number,
                                       "date": seeder.day(days_ago), "line_items": [line]})
        seeder.backdate("bills", bill["bill_id"], seeder.day(days_ago))
    for expense_account, spent, through, description, days_ago, vendor_id in (
        ("Rent Expense", 1200.0, "Business Checking", "Office rent", 25, ""),
        ("Office Supplies", 45.5, "Petty Cash", "Stationery", 6, office),
    ):
        expense = run(expenses.create_expense, {
            "account_id": account(expense_account), "amount": spent, "date": seeder.day(days_ago),
            "paid_through_account_id": account(through), "description": description,
            "vendor_id": vendor_id or None,
        })
        seeder.backdate("expenses", expense["expense_id"], seeder.day(days_ago))
    _feed(seeder, account)
    # credits: Globex's for an hour not worked, Office Supplies' for a returned ream, one still a draft
    note = run(creditnotes.create_creditnote, {"customer_id": globex, "date": seeder.day(8), "line_items": [
        {"item_id": consulting, "quantity": 1, "description": "An hour billed twice"}]})
    seeder.backdate("creditnotes", note["creditnote_id"], seeder.day(8))
    for vendor, line, days_ago, draft in ((office, {"item_id": paper, "quantity": 1}, 2, False),
                                          (hosting, {"account_id": account("IT and Internet Expenses"),
                                                     "name": "Downtime credit", "rate": 30}, 1, True)):
        credit = run(vendorcredits.create_vendorcredit, {"vendor_id": vendor, "date": seeder.day(days_ago),
                                                         "line_items": [line], "is_draft": draft})
        seeder.backdate("vendorcredits", credit["vendor_credit_id"], seeder.day(days_ago))
    # a draft accrual: not in the books until published
    run(journals.create_journal, {
        "journal_date": seeder.day(0), "reference_number": "ACCR-001", "notes": "Rent accrued for this month",
        "status": "draft", "line_items": [
            {"account_id": account("Rent Expense"), "debit_or_credit": "debit", "amount": 1200.0},
            {"account_id": account("Accrued Liabilities"), "debit_or_credit": "credit", "amount": 1200.0}],
    })


def _feed(seeder: _Seeder, account: Callable[[str], str]) -> None:
    """A month of statement lines, uncategorized: deposits that pay open invoices (and one already recorded),
    the rent already recorded, card charges, fees, interest and a card payment seen from both accounts."""
    day = seeder.day
    for name, lines in (
        ("Business Checking", [
            (35, "debit", 2400.0, "ACME CORPORATION", "BACS INV-000001", ""),
            (25, "credit", 1200.0, "LANDLORD PROPERTIES", "STANDING ORDER OFFICE RENT", ""),
            (14, "debit", 1200.0, "GLOBEX LTD", "FASTER PAYMENT", "INV-000002"),
            (12, "credit", 500.0, "SANDBOX BANK CARD", "TRANSFER TO CREDIT CARD", ""),
            (9, "debit", 688.0, "ACME CORPORATION", "BACS REMITTANCE", "INV-000003"),
            (3, "credit", 15.0, "SANDBOX BANK", "MONTHLY ACCOUNT FEE", ""),
            (1, "debit", 2.13, "SANDBOX BANK", "INTEREST PAID", ""),
        ]),
        ("Company Credit Card", [
            (20, "credit", 180.0, "CLOUD HOSTING LTD", "CLOUDHOSTING.EXAMPLE", "CH-1001"),
            (18, "credit", 86.4, "TRAINLINE", "RAIL TICKETS", ""),
            (11, "debit", 500.0, "SANDBOX BANK", "PAYMENT RECEIVED - THANK YOU", ""),
            (7, "credit", 23.99, "AMAZON MKTPLACE", "PRINTER TONER", ""),
        ]),
    ):
        seeder.run(bankfeed.import_statement, {"account_id": account(name), "transactions": [
            {"date": day(days_ago), "debit_or_credit": side, "amount": amount, "payee": payee,
             "description": description, "reference_number": reference}
            for days_ago, side, amount, payee, description, reference in lines]})


def _other_books(seeder: _Seeder) -> None:
    """Someone else's organization: a little data, never reachable with the default user's tokens."""
    _chart(seeder)
    umbrella = seeder.run(contacts.create_contact, {
        "contact_name": "Umbrella Corporation", "contact_type": "customer",
        "contact_persons": [_person("Albert", "Wesker", "ops@umbrella.example")],
    })["contact_id"]
    consulting = seeder.run(items.create_item, {"name": "Consulting", "rate": 120, "unit": "hour"})["item_id"]
    seeder.run(invoices.create_invoice, {"customer_id": umbrella, "line_items": [{"item_id": consulting}]})


def build(ids: IdGenerator, env_for: Callable[[], Env], clock: Callable[[], float],
          bulk_invoices: int = 0) -> dict[str, OrgStore]:
    """Every organization's books; `bulk_invoices` more invoices (and their surroundings)
    in the default one."""
    stores: dict[str, OrgStore] = {}
    for organization in organizations(ids):
        store = OrgStore(organization, ids, clock)
        seeder = _Seeder(store, env_for())
        if organization.owner_user_id == DEFAULT_USER_ID:
            _books(seeder)
            if organization.is_default_org and bulk_invoices:
                volume.populate(seeder, bulk_invoices)
        else:
            _other_books(seeder)
        stores[organization.organization_id] = store
    return stores
