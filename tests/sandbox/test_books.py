"""The sandbox keeps books: every report agrees with a ledger the test builds from its own API calls.

Transactions are dated in the second quarter of 2024, after the books start (2024-01-02) and long before the
seed's own documents (all within the last few months), so the test knows every figure in that quarter.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from tests.sandbox.conftest import FULL, ORG, asgi_client, auth, error, ok
from zbmcp.sandbox import Sandbox

CUSTOM = "TransactionDate.CustomDate"  # Zoho reads report dates only with it
QUARTER = {"filter_by": "TransactionDate.CustomDate", "from_date": "2024-04-01", "to_date": "2024-06-30"}


class Books:
    """What the test itself recorded: amounts per account, by the accounting rules a bookkeeper would use."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.view = sandbox.store(ORG)
        self.moved: dict[str, Decimal] = defaultdict(Decimal)  # debit - credit, by account name, this quarter

    def post(self, *lines: tuple[str, float]) -> None:
        assert sum(Decimal(str(amount)) for _, amount in lines) == 0, lines  # the test's own entries balance
        for name, amount in lines:
            self.moved[name] += Decimal(str(amount))

    def income(self, name: str) -> float:
        return float(-self.moved[name])

    def expense(self, name: str) -> float:
        return float(self.moved[name])


async def _record_a_quarter(books: httpx2.AsyncClient, sandbox: Sandbox) -> Books:
    """Invoices, payments, a bill, a vendor payment and expenses through the API, with
    the test's own ledger."""
    ledger = Books(sandbox)
    view = ledger.view
    acme, globex = view.contact_id("Acme Corporation"), view.contact_id("Globex Ltd")
    office = view.contact_id("Office Supplies Co")
    consulting, design = view.item_id("Consulting"), view.item_id("Website design")
    checking, card = view.account_id("Business Checking"), view.account_id("Company Credit Card")

    async def invoice(customer: str, lines: list[dict[str, Any]], day: str) -> dict[str, Any]:
        made = ok(await books.post("invoices", json={"customer_id": customer, "date": day,
                                                     "line_items": lines}),
                  201)["invoice"]
        ok(await books.post(f"invoices/{made['invoice_id']}/status/sent"))
        return made

    first = await invoice(acme, [{"item_id": consulting, "quantity": 10}, {"item_id": design}], "2024-04-10")
    ledger.post(("Accounts Receivable", 3900), ("Consulting Income", -1500), ("Sales", -2400))
    second = await invoice(globex, [{"item_id": consulting, "quantity": 4}], "2024-05-02")
    ledger.post(("Accounts Receivable", 600), ("Consulting Income", -600))
    voided = await invoice(globex, [{"item_id": design}], "2024-05-20")  # voided below: never in the books
    ok(await books.post(f"invoices/{voided['invoice_id']}/status/void"))
    # a draft: not in the books
    ok(await books.post("invoices", json={"customer_id": acme, "date": "2024-05-21",
                                          "line_items": [{"item_id": design}]}), 201)

    ok(await books.post("customerpayments", json={
        "customer_id": acme, "payment_mode": "banktransfer", "amount": 3000, "date": "2024-05-15",
        "account_id": checking, "invoices": [{"invoice_id": first["invoice_id"], "amount_applied": 3000}]}),
       201)
    ledger.post(("Business Checking", 3000), ("Accounts Receivable", -3000))
    ok(await books.post("customerpayments", json={
        "customer_id": globex, "payment_mode": "cash", "amount": 600, "date": "2024-06-01", "bank_charges": 5,
        "account_id": checking, "invoices": [{"invoice_id": second["invoice_id"], "amount_applied": 600}]}),
       201)
    ledger.post(("Business Checking", 595), ("Bank Fees and Charges", 5), ("Accounts Receivable", -600))

    bill = ok(await books.post("bills", json={
        "vendor_id": office, "bill_number": "Q2-1", "date": "2024-04-20",
        "line_items": [{"account_id": view.account_id("Office Supplies"), "rate": 250},
                       {"account_id": view.account_id("IT and Internet Expenses"), "rate": 150}]}),
              201)["bill"]
    ledger.post(("Office Supplies", 250), ("IT and Internet Expenses", 150), ("Accounts Payable", -400))
    ok(await books.post("vendorpayments", json={
        "vendor_id": office, "amount": 300, "date": "2024-05-05", "paid_through_account_id": checking,
        "bills": [{"bill_id": bill["bill_id"], "amount_applied": 300}]}), 201)
    ledger.post(("Accounts Payable", 300), ("Business Checking", -300))

    ok(await books.post("expenses", json={"account_id": view.account_id("Travel Expense"), "amount": 120.5,
                                          "date": "2024-06-12", "paid_through_account_id": card}), 201)
    ledger.post(("Travel Expense", 120.5), ("Company Credit Card", -120.5))
    ok(await books.post("expenses", json={"account_id": view.account_id("Rent Expense"), "amount": 1000,
                                          "date": "2024-06-30", "paid_through_account_id": checking}), 201)
    ledger.post(("Rent Expense", 1000), ("Business Checking", -1000))
    ok(await books.post("expenses", json={"account_id": view.account_id("Rent Expense"), "amount": 1000,
                                          "date": "2024-07-01", "paid_through_account_id": checking}), 201)
    return ledger  # (the July rent is the next quarter's)


def _flatten(nodes: list[dict[str, Any]], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], float]:
    """Every node of a report tree by its path of names, e.g. ("Gross Profit",
    "Operating Income", "Sales")."""
    found: dict[tuple[str, ...], float] = {}
    for node in nodes:
        here = (*path, node["name"])
        found[here] = node["total"]
        found.update(_flatten(node.get("account_transactions", []), here))
    return found


async def test_profit_and_loss_is_the_quarters_income_less_its_expenses(books: httpx2.AsyncClient,
                                                                       sandbox: Sandbox) -> None:
    ledger = await _record_a_quarter(books, sandbox)
    body = ok(await books.get("reports/profitandloss", params=QUARTER))
    assert body["page_context"]["from_date"] == "2024-04-01" \
        and body["page_context"]["to_date"] == "2024-06-30"
    report = _flatten(body["profit_and_loss"])
    income = ledger.income("Consulting Income") + ledger.income("Sales")
    expenses = sum(ledger.expense(name) for name in ("Office Supplies", "IT and Internet Expenses",
                                                     "Travel Expense", "Rent Expense",
                                                     "Bank Fees and Charges"))
    assert report[("Gross Profit", "Operating Income", "Consulting Income")] \
        == ledger.income("Consulting Income")
    assert report[("Gross Profit", "Operating Income", "Sales")] == ledger.income("Sales") == 2400.0
    assert report[("Gross Profit", "Operating Income")] == report[("Gross Profit",)] == income == 4500.0
    assert report[("Operating Profit", "Operating Expense", "Rent Expense")] == 1000.0  # July's is not in it
    assert report[("Operating Profit", "Operating Expense")] == expenses == 1525.5
    assert report[("Operating Profit",)] == report[("Net Profit/Loss",)] == income - expenses
    assert ("Gross Profit", "Cost of Goods Sold", "Cost of Goods Sold") not in report  # nothing moved there


async def test_balance_sheet_balances_and_holds_what_the_quarter_left(books: httpx2.AsyncClient,
                                                                      sandbox: Sandbox) -> None:
    ledger = await _record_a_quarter(books, sandbox)
    report = _flatten(ok(await books.get("reports/balancesheet",
                                         params={"filter_by": CUSTOM,
                                                 "to_date": "2024-06-30"}))["balance_sheet"])
    opening = 25000.0  # Business Checking's opening balance, on the day the books start
    current = ("Assets", "Current Assets")
    assert report[(*current, "Business Checking")] == opening + float(ledger.moved["Business Checking"]) \
        == 27295.0
    assert report[(*current, "Accounts Receivable")] == float(ledger.moved["Accounts Receivable"]) == 900.0
    liabilities = ("Liabilities & Equities", "Liabilities", "Current Liabilities")
    assert report[(*liabilities, "Accounts Payable")] == -float(ledger.moved["Accounts Payable"]) == 100.0
    assert report[(*liabilities, "Company Credit Card")] == 120.5
    equities = ("Liabilities & Equities", "Equities")
    earnings = ledger.income("Consulting Income") + ledger.income("Sales") - 1525.5
    assert report[(*equities, "Current Year Earnings")] == earnings
    assert report[(*equities, "Opening Balance Adjustments")] == opening
    assert report[("Assets",)] == report[("Liabilities & Equities",)] == 27295.0 + 900.0


async def test_aged_receivables_are_the_open_invoices_by_customer_and_days_overdue(books: httpx2.AsyncClient,
                                                                                  sandbox: Sandbox) -> None:
    await _record_a_quarter(books, sandbox)
    open_invoices = [row for row in ok(await books.get("invoices", params={"status": "unpaid"}))["invoices"]]
    expected: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    today = sandbox.store(ORG).today
    for row in open_invoices:
        overdue = (today - date.fromisoformat(row["due_date"])).days
        bucket = ("current" if overdue <= 0 else "1-15" if overdue <= 15 else "16-30" if overdue <= 30
                  else "31-45" if overdue <= 45 else "above_45")
        expected[row["customer_name"]][bucket] += row["balance"]
    body = ok(await books.get("reports/aragingsummary"))
    customers = body["invoice"]["group_list"][0]["group_list"]
    got = {row["name"]: {i["interval"]: i["amount"] for i in row["intervals"] if i["amount"]}
           for row in customers}
    assert got == {name: {k: round(v, 2) for k, v in buckets.items()} for name, buckets in expected.items()}
    assert body["invoice"]["total"] == round(sum(row["balance"] for row in open_invoices), 2)
    # Globex's seeded overdue invoice (dated 45 days ago, Net 15) is 30 days late; Acme's 2024 rest is old.
    assert got["Globex Ltd"] == {"16-30": 1200.0} and got["Acme Corporation"]["above_45"] == 900.0


async def test_aged_payables_are_the_open_bills_by_vendor(books: httpx2.AsyncClient,
                                                          sandbox: Sandbox) -> None:
    await _record_a_quarter(books, sandbox)
    bills = ok(await books.get("bills"))["bills"]
    owed: dict[str, float] = defaultdict(float)
    for bill in bills:
        owed[bill["vendor_name"]] += bill["balance"]
    body = ok(await books.get("reports/apagingsummary"))
    vendors = {row["name"]: row["total"] for row in body["bills"]["group_list"][0]["group_list"]}
    assert vendors == {name: round(amount, 2) for name, amount in owed.items() if amount}
    assert vendors["Office Supplies Co"] == 100.0 + 12.0  # the quarter's bill less its payment, and OS-2231
    assert body["page_context"]["report_name"] == "AP Aging Summary"


async def test_every_entry_balances_and_bank_balances_come_from_the_books(books: httpx2.AsyncClient,
                                                                          sandbox: Sandbox) -> None:
    ledger = await _record_a_quarter(books, sandbox)
    journal = sandbox.store(ORG).journal()
    assert journal and all(entry.balanced for entry in journal)
    assert sum(posting.amount for entry in journal for posting in entry.postings) == 0
    banks = {row["account_name"]: row["balance"]
             for row in ok(await books.get("bankaccounts"))["bankaccounts"]}
    # Seed: 25,000 opening, +2,400 from INV-000001, -1,200 rent; the quarter; July's rent.
    assert banks["Business Checking"] == 25000 + 2400 - 1200 + float(ledger.moved["Business Checking"]) - 1000
    assert banks["Company Credit Card"] == -120.5  # spending on the card lowers its balance


async def test_voiding_drafting_and_deleting_take_documents_out_of_the_books(books: httpx2.AsyncClient,
                                                                            sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    made = ok(await books.post("invoices", json={"customer_id": view.contact_id("Initech"),
                                                 "date": "2024-04-03",
                                                 "line_items": [{"item_id": view.item_id("Support plan")}]}),
              201)["invoice"]
    path = f"invoices/{made['invoice_id']}"

    async def sales() -> float:
        report = _flatten(ok(await books.get("reports/profitandloss", params=QUARTER))["profit_and_loss"])
        return report.get(("Gross Profit", "Operating Income", "Sales"), 0.0)

    assert await sales() == 0.0  # a draft
    ok(await books.post(f"{path}/status/sent"))
    assert await sales() == 99.0
    ok(await books.post(f"{path}/status/void"))
    assert await sales() == 0.0
    ok(await books.post(f"{path}/status/draft"))
    ok(await books.post(f"{path}/status/sent"))
    payment = ok(await books.post("customerpayments", json={
        "customer_id": view.contact_id("Initech"), "payment_mode": "cash", "amount": 99, "date": "2024-04-04",
        "account_id": view.account_id("Petty Cash"), "invoices": [{"invoice_id": made["invoice_id"],
                                                                   "amount_applied": 99}]}), 201)["payment"]
    sheet = {"filter_by": CUSTOM, "to_date": "2024-04-30"}
    assert _flatten(ok(await books.get("reports/balancesheet", params=sheet))["balance_sheet"])[
        ("Assets", "Current Assets", "Petty Cash")] == 99.0
    ok(await books.delete(f"customerpayments/{payment['payment_id']}"))
    assert _flatten(ok(await books.get("reports/balancesheet", params=sheet))["balance_sheet"])[
        ("Assets", "Current Assets", "Accounts Receivable")] == 99.0


@pytest.mark.parametrize("params, field", [
    ({"filter_by": "TransactionDate.CustomDate", "from_date": "2024-04-01"}, "to_date"),
    ({"filter_by": "TransactionDate.CustomDate", "from_date": "2024-04-31", "to_date": "2024-05-01"},
     "from_date"),
    ({"filter_by": "TransactionDate.CustomDate", "from_date": "2024-05-01", "to_date": "2024-04-01"},
     "to_date"),
    ({"filter_by": "TransactionDate.LastFortnight"}, "filter_by"),
    ({"filter_by": "InvoiceDate.ThisMonth"}, "filter_by"),
    ({"filter_by": "TransactionDate.Yesterday"}, "filter_by"),  # Zoho's name is PreviousDay
])
async def test_a_bad_report_period_is_refused_naming_the_parameter(
        books: httpx2.AsyncClient, params: dict[str, str], field: str) -> None:
    assert error(await books.get("reports/profitandloss", params=params), 400, 2) \
        == f"Invalid value passed for {field}"


async def test_without_filter_by_the_profit_and_loss_is_this_months(books: httpx2.AsyncClient,
                                                                    sandbox: Sandbox) -> None:
    today = sandbox.store(ORG).today
    context = ok(await books.get("reports/profitandloss", params={"from_date": "2024-04-01",
                                                                  "to_date": "2024-06-30"}))["page_context"]
    assert context["filter_by"] == "TransactionDate.ThisMonth"
    assert context["from_date"] == today.replace(day=1).isoformat()
    previous = ok(await books.get("reports/profitandloss",
                                  params={"filter_by": "TransactionDate.PreviousQuarter"}))["page_context"]
    first_month = ((today.month - 1) // 3) * 3 + 1
    quarter_start = date(today.year, first_month, 1)
    assert previous["to_date"] == date.fromordinal(quarter_start.toordinal() - 1).isoformat()
    yesterday = ok(await books.get("reports/profitandloss",
                                   params={"filter_by": "TransactionDate.PreviousDay"}))["page_context"]
    day_before = date.fromordinal(today.toordinal() - 1).isoformat()
    assert yesterday["from_date"] == yesterday["to_date"] == day_before


async def test_a_balance_sheet_reads_to_date_only_with_the_custom_period(books: httpx2.AsyncClient,
                                                                         sandbox: Sandbox) -> None:
    """As Zoho does (issue #22.7): a bare to_date is ignored, so a tool that sends one is caught."""
    today = sandbox.store(ORG).today.isoformat()
    bare = ok(await books.get("reports/balancesheet", params={"to_date": "2024-01-31"}))["page_context"]
    custom = ok(await books.get("reports/balancesheet", params={"filter_by": CUSTOM,
                                                                 "to_date": "2024-01-31"}))["page_context"]
    assert (bare["to_date"], custom["to_date"]) == (today, "2024-01-31")


async def test_a_busy_organization_keeps_balanced_books() -> None:
    """The benchmark's seed: hundreds of invoices in every state, and reports that still add up."""
    sandbox = Sandbox(bulk_invoices=520)
    view = sandbox.store(ORG)
    invoices = view.invoices
    assert len(invoices) >= 520 + 4
    assert {row["status"] for row in invoices.values()} >= {"draft", "sent", "overdue", "partially_paid",
                                                            "paid", "void"}
    assert view.vendorpayments and all(entry.balanced for entry in view.journal())
    async with asgi_client(sandbox, headers=auth(sandbox.mint_access_token([FULL])),
                           params={"organization_id": ORG}) as client:
        client.base_url = httpx2.URL("http://sandbox.test/books/v3/")
        aging = ok(await client.get("reports/aragingsummary"))["invoice"]
        sheet = _flatten(ok(await client.get("reports/balancesheet"))["balance_sheet"])
    owed = sum(row["balance"] for row in invoices.values() if row["status"] not in ("draft", "void"))
    assert aging["total"] == round(owed, 2)
    assert sheet[("Assets",)] == sheet[("Liabilities & Equities",)]


async def test_a_balance_sheet_as_of_the_first_year_there_is_answers(books: httpx2.AsyncClient) -> None:
    """Found by the hostile-arguments test: the year before year 1 does not exist, and
    nothing is dated in it."""
    report = _flatten(ok(await books.get("reports/balancesheet",
                                         params={"filter_by": CUSTOM,
                                                 "to_date": "0001-06-30"}))["balance_sheet"])
    assert report[("Assets",)] == report[("Liabilities & Equities",)] == 0  # the books start long after
