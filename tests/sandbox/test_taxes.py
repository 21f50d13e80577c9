"""Taxes: a line's tax_id computes its tax as Zoho does (per line, exclusive or inclusive, after a discount
given before tax, rounded half up to cents), the tax sits on Tax Payable, and a document's discount,
shipping charge and adjustment post to their own accounts. Each test keeps the ledger it expects from its own
calls (test_books.Books) and compares the reports with it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx2

from tests.sandbox.conftest import ORG, OTHER_ORG, error, ok
from tests.sandbox.test_books import QUARTER, Books, _flatten
from zbmcp.sandbox import Sandbox

SHEET = {"filter_by": "TransactionDate.CustomDate", "to_date": "2024-06-30"}
INCOME = ("Gross Profit", "Operating Income")
EXPENSES = ("Operating Profit", "Operating Expense")
LIABILITIES = ("Liabilities & Equities", "Liabilities", "Current Liabilities")


async def _tax(books: httpx2.AsyncClient, name: str) -> str:
    [tax] = [row for row in ok(await books.get("settings/taxes"))["taxes"] if row["tax_name"] == name]
    return str(tax["tax_id"])


async def _sent_invoice(books: httpx2.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    made = ok(await books.post("invoices", json=body), 201)["invoice"]
    ok(await books.post(f"invoices/{made['invoice_id']}/status/sent"))
    return dict(made)


Report = dict[tuple[str, ...], float]


async def _reports(books: httpx2.AsyncClient) -> tuple[Report, Report]:
    pnl = _flatten(ok(await books.get("reports/profitandloss", params=QUARTER))["profit_and_loss"])
    sheet = _flatten(ok(await books.get("reports/balancesheet", params=SHEET))["balance_sheet"])
    return pnl, sheet


async def test_a_twenty_percent_line_totals_as_zoho_totals_it(books: httpx2.AsyncClient,
                                                             sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    standard = await _tax(books, "Standard Rate")
    invoice = await _sent_invoice(books, {
        "customer_id": view.contact_id("Acme Corporation"), "date": "2024-04-10",
        "line_items": [{"item_id": view.item_id("Consulting"), "quantity": 3, "tax_id": standard}]})
    assert (invoice["sub_total"], invoice["tax_total"], invoice["total"]) == (450.0, 90.0, 540.0)
    assert invoice["taxes"] == [{"tax_id": standard, "tax_name": "Standard Rate", "tax_amount": 90.0}]
    line = invoice["line_items"][0]
    assert (line["tax_id"], line["tax_name"], line["tax_percentage"]) == (standard, "Standard Rate", 20.0)
    ledger.post(("Accounts Receivable", 540), ("Consulting Income", -450), ("Tax Payable", -90))
    pnl, sheet = await _reports(books)
    assert pnl[(*INCOME, "Consulting Income")] == ledger.income("Consulting Income") == 450.0
    assert sheet[(*LIABILITIES, "Tax Payable")] == -float(ledger.moved["Tax Payable"]) == 90.0
    assert sheet[("Assets",)] == sheet[("Liabilities & Equities",)]
    got = ok(await books.get(f"invoices/{invoice['invoice_id']}"))["invoice"]
    assert got["total"] == 540.0 and got["balance"] == 540.0


async def test_tax_is_rounded_per_line_half_up(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    """20% of 10.03 is 2.006: each line rounds to 2.01, so two lines carry 4.02 (a total taxed once would
    be 4.01)."""
    view = sandbox.store(ORG)
    standard = await _tax(books, "Standard Rate")
    line = {"item_id": view.item_id("Support plan"), "rate": 10.03, "tax_id": standard}
    invoice = await _sent_invoice(books, {"customer_id": view.contact_id("Globex Ltd"), "date": "2024-04-11",
                                          "line_items": [line, line]})
    assert (invoice["sub_total"], invoice["tax_total"], invoice["total"]) == (20.06, 4.02, 24.08)


async def test_an_inclusive_line_holds_its_tax(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    standard = await _tax(books, "Standard Rate")
    invoice = await _sent_invoice(books, {
        "customer_id": view.contact_id("Globex Ltd"), "date": "2024-04-12", "is_inclusive_tax": True,
        "line_items": [{"item_id": view.item_id("Support plan"), "rate": 120, "tax_id": standard}]})
    assert (invoice["is_inclusive_tax"], invoice["tax_total"], invoice["total"]) == (True, 20.0, 120.0)
    ledger.post(("Accounts Receivable", 120), ("Sales", -100), ("Tax Payable", -20))
    pnl, sheet = await _reports(books)
    assert pnl[(*INCOME, "Sales")] == ledger.income("Sales") == 100.0
    assert sheet[(*LIABILITIES, "Tax Payable")] == 20.0


async def test_discount_shipping_and_adjustment_post_to_their_own_accounts(books: httpx2.AsyncClient,
                                                                          sandbox: Sandbox) -> None:
    """A 10% discount before tax lowers each line's taxable amount; the discount, the shipping charge and
    the adjustment each reach their own account, and the lines their items' income accounts."""
    view, ledger = sandbox.store(ORG), Books(sandbox)
    standard = await _tax(books, "Standard Rate")
    invoice = await _sent_invoice(books, {
        "customer_id": view.contact_id("Acme Corporation"), "date": "2024-05-02", "discount": "10%",
        "shipping_charge": 25, "adjustment": -5,
        "line_items": [{"item_id": view.item_id("Consulting"), "rate": 100, "tax_id": standard},
                       {"item_id": view.item_id("Support plan"), "rate": 300, "tax_id": standard}]})
    # taxable 90 and 270: tax 18 and 54; 400 - 40 + 72 + 25 - 5
    assert (invoice["discount_amount"], invoice["tax_total"], invoice["total"]) == (40.0, 72.0, 452.0)
    ledger.post(("Accounts Receivable", 452), ("Consulting Income", -100), ("Sales", -300),
                ("Discount", 40), ("Tax Payable", -72), ("Shipping Charge", -25), ("Other Charges", 5))
    pnl, sheet = await _reports(books)
    for account in ("Consulting Income", "Sales", "Discount", "Shipping Charge", "Other Charges"):
        assert pnl[(*INCOME, account)] == ledger.income(account), account
    assert pnl[INCOME] == 452.0 - 72.0
    assert sheet[("Assets", "Current Assets", "Accounts Receivable")] \
        == float(ledger.moved["Accounts Receivable"]) + 0.0
    assert sheet[(*LIABILITIES, "Tax Payable")] == 72.0


async def test_a_discount_after_tax_leaves_the_tax_whole(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    standard = await _tax(books, "Standard Rate")
    invoice = await _sent_invoice(books, {
        "customer_id": view.contact_id("Acme Corporation"), "date": "2024-05-03", "discount": 50,
        "is_discount_before_tax": False,
        "line_items": [{"item_id": view.item_id("Consulting"), "rate": 500, "tax_id": standard}]})
    assert (invoice["tax_total"], invoice["total"]) == (100.0, 550.0)


async def test_taxes_on_purchases_are_reclaimed(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    standard, reduced = await _tax(books, "Standard Rate"), await _tax(books, "Reduced Rate")
    checking, card = view.account_id("Business Checking"), view.account_id("Company Credit Card")
    bill = ok(await books.post("bills", json={
        "vendor_id": view.contact_id("Office Supplies Co"), "bill_number": "T-1", "date": "2024-04-20",
        "adjustment": 3, "line_items": [{"account_id": view.account_id("Office Supplies"), "rate": 200,
                                         "tax_id": standard}]}), 201)["bill"]
    assert (bill["tax_total"], bill["total"]) == (40.0, 243.0)
    ledger.post(("Office Supplies", 200), ("Tax Payable", 40), ("Other Expenses", 3),
                ("Accounts Payable", -243))
    exclusive = ok(await books.post("expenses", json={
        "account_id": view.account_id("Travel Expense"), "amount": 100, "date": "2024-04-21",
        "paid_through_account_id": card, "tax_id": reduced}), 201)["expense"]
    assert (exclusive["tax_amount"], exclusive["total"], exclusive["sub_total"]) == (5.0, 105.0, 100.0)
    ledger.post(("Travel Expense", 100), ("Tax Payable", 5), ("Company Credit Card", -105))
    inclusive = ok(await books.post("expenses", json={
        "account_id": view.account_id("Rent Expense"), "amount": 1200, "date": "2024-04-22",
        "paid_through_account_id": checking, "tax_id": standard, "is_inclusive_tax": True}), 201)["expense"]
    assert (inclusive["tax_amount"], inclusive["total"], inclusive["sub_total"]) == (200.0, 1200.0, 1000.0)
    ledger.post(("Rent Expense", 1000), ("Tax Payable", 200), ("Business Checking", -1200))
    pnl, sheet = await _reports(books)
    for account in ("Office Supplies", "Travel Expense", "Rent Expense"):
        assert pnl[(*EXPENSES, account)] == ledger.expense(account), account
    assert pnl[("Net Profit/Loss", "Non Operating Expense", "Other Expenses")] == 3.0
    # reclaimed tax is owed back to the business: a debit on Tax Payable
    assert sheet[(*LIABILITIES, "Tax Payable")] == -float(ledger.moved["Tax Payable"]) == -245.0
    assert sheet[("Assets",)] == sheet[("Liabilities & Equities",)]


async def test_an_unknown_tax_is_refused_and_nothing_is_stored(books: httpx2.AsyncClient,
                                                               sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    other_orgs = ok(await books.get("settings/taxes", params={"organization_id": OTHER_ORG}))["taxes"]
    foreign = other_orgs[0]["tax_id"]  # a tax of another organization is not this one's
    invoices, expenses, entries = view.invoices, view.expenses, view.journal()
    for tax_id in ("460000999999999", foreign):
        refused = await books.post("invoices", json={
            "customer_id": view.contact_id("Acme Corporation"),
            "line_items": [{"item_id": view.item_id("Consulting"), "tax_id": tax_id}]})
        assert error(refused, 400, 2) == "Invalid value passed for line_items[0].tax_id"
        refused = await books.post("expenses", json={
            "account_id": view.account_id("Travel Expense"), "amount": 10, "date": "2024-04-21",
            "paid_through_account_id": view.account_id("Petty Cash"), "tax_id": tax_id})
        assert error(refused, 400, 2) == "Invalid value passed for tax_id"
    assert (view.invoices, view.expenses, view.journal()) == (invoices, expenses, entries)


async def test_taxes_are_listed_created_and_kept_while_in_use(books: httpx2.AsyncClient,
                                                              sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    rows = ok(await books.get("settings/taxes"))["taxes"]
    names = [(row["tax_name"], row["tax_percentage"]) for row in rows]
    assert names == [("Reduced Rate", 5.0), ("Standard Rate", 20.0), ("Zero Rate", 0.0)]
    made = ok(await books.post("settings/taxes", json={"tax_name": "Levy", "tax_percentage": 2.5}), 201)
    assert made["message"] == "The tax has been added." and made["tax"]["tax_type"] == "tax"
    levy = made["tax"]["tax_id"]
    assert error(await books.post("settings/taxes", json={"tax_name": "levy", "tax_percentage": 1}), 400,
                 1001) == "Tax name already exist"
    assert error(await books.post("settings/taxes", json={"tax_name": "Huge", "tax_percentage": 101}), 400,
                 2) == "Invalid value passed for tax_percentage"
    assert error(await books.post("settings/taxes", json={"tax_percentage": 1}), 400, 4) \
        == "tax_name is required."
    await _sent_invoice(books, {"customer_id": view.contact_id("Globex Ltd"), "line_items": [
        {"item_id": view.item_id("Consulting"), "rate": 200, "tax_id": levy}]})
    assert error(await books.delete(f"settings/taxes/{levy}"), 400, 9999) \
        == "The tax Levy is used in transactions and cannot be deleted."
    renamed = ok(await books.put(f"settings/taxes/{levy}", json={"tax_percentage": 3}))["tax"]
    assert (renamed["tax_name"], renamed["tax_percentage"]) == ("Levy", 3.0)
    zero = await _tax(books, "Zero Rate")
    assert ok(await books.delete(f"settings/taxes/{zero}"))["message"] == "The record has been deleted."
    assert error(await books.get(f"settings/taxes/{zero}"), 404, 1002) == "Tax does not exist."


async def test_every_entry_still_balances_with_taxes_everywhere(books: httpx2.AsyncClient,
                                                                sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    standard = await _tax(books, "Standard Rate")
    await _sent_invoice(books, {
        "customer_id": view.contact_id("Acme Corporation"), "date": "2024-06-01", "discount": "7.5%",
        "is_inclusive_tax": True, "shipping_charge": 9.99, "adjustment": 0.01,
        "line_items": [{"item_id": view.item_id("Consulting"), "rate": 33.33, "quantity": 3,
                        "tax_id": standard},
                       {"item_id": view.item_id("Support plan"), "rate": 0.07, "tax_id": standard}]})
    entries = view.journal()
    assert all(entry.balanced for entry in entries)
    assert sum((p.amount for e in entries for p in e.postings), Decimal(0)) == 0
