"""Bookkeeping through the tools: what an agent records with the write tools, the report tools then show.

The test keeps its own ledger of what its calls should move, and checks each report against it: the profit
and loss for today (the seed has nothing dated today), and how the balance sheet and the aging reports
change between before and after the calls.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.conftest import ORG, agent, mcp_client, running

TODAY = {"filter_by": "TransactionDate.Today"}


@pytest.fixture
def bookkeeper(make_config):
    return make_config({"bookkeeper": agent(["*:*"])})


def _tree(nodes: list[dict[str, Any]], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], float]:
    found: dict[tuple[str, ...], float] = {}
    for node in nodes:
        here = (*path, node["name"])
        found[here] = node.get("total", 0.0)
        found.update(_tree(node.get("account_transactions", []), here))
    return found


def _aging(result: dict[str, Any], key: str) -> dict[str, float]:
    return {row["name"]: row["total"] for row in result[key].get("rows", [])}


async def test_reports_move_exactly_as_the_tools_calls_say(bookkeeper, sandbox):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return result.structured_content

        async def reports() -> tuple[dict[tuple[str, ...], float], dict[str, float], dict[str, float]]:
            sheet = _tree((await call("get_balance_sheet"))["balance_sheet"])
            owed_to_us = _aging(await call("get_aged_receivables"), "invoice")
            we_owe = _aging(await call("get_aged_payables"), "bills")
            return sheet, owed_to_us, we_owe

        sheet_before, owed_before, owing_before = await reports()
        assert (await call("get_profit_and_loss", **TODAY))["profit_and_loss"][0]["total"] == 0  # nothing yet

        customers = {row["contact_name"]: row["contact_id"]
                     for row in (await call("list_contacts", contact_type="customer"))["contacts"]}
        vendors = {row["contact_name"]: row["contact_id"]
                   for row in (await call("list_contacts", contact_type="vendor"))["contacts"]}
        items = {row["name"]: row["item_id"] for row in (await call("list_items"))["items"]}
        accounts = {row["account_name"]: row["account_id"]
                    for row in (await call("list_chart_of_accounts", per_page=200))["chartofaccounts"]}
        moved: dict[str, float] = defaultdict(float)  # the test's own ledger: debit - credit, by account

        # Invoice Globex for 6 hours of consulting and a website; they pay 1,000 of it into Business Checking.
        invoice = (await call("create_invoice", customer_id=customers["Globex Ltd"], line_items=[
            {"item_id": items["Consulting"], "quantity": 6}, {"item_id": items["Website design"]}]))["invoice"]
        await call("mark_invoice_sent", invoice_id=invoice["invoice_id"])
        moved["Accounts Receivable"] += 3300
        moved["Consulting Income"] -= 900
        moved["Sales"] -= 2400
        today = invoice["date"]
        await call("create_customer_payment", customer_id=customers["Globex Ltd"], payment_mode="banktransfer",
                   amount=1000, date=today, account_id=accounts["Business Checking"],
                   invoices=[{"invoice_id": invoice["invoice_id"], "amount_applied": 1000}])
        moved["Business Checking"] += 1000
        moved["Accounts Receivable"] -= 1000
        # A second invoice, voided: it never reaches the books.
        voided = (await call("create_invoice", customer_id=customers["Initech"],
                             line_items=[{"item_id": items["Consulting"]}]))["invoice"]
        await call("mark_invoice_sent", invoice_id=voided["invoice_id"])
        await call("mark_invoice_void", invoice_id=voided["invoice_id"])

        # A 600 bill from Cloud Hosting, 250 of it paid from Business Checking; 75 of travel on the card.
        bill = (await call("create_bill", vendor_id=vendors["Cloud Hosting Ltd"], bill_number="CH-T1",
                           line_items=[{"account_id": accounts["IT and Internet Expenses"], "rate": 600}]))["bill"]
        moved["IT and Internet Expenses"] += 600
        moved["Accounts Payable"] -= 600
        await call("create_vendor_payment", vendor_id=vendors["Cloud Hosting Ltd"], amount=250,
                   paid_through_account_id=accounts["Business Checking"],
                   bills=[{"bill_id": bill["bill_id"], "amount_applied": 250}])
        moved["Accounts Payable"] += 250
        moved["Business Checking"] -= 250
        await call("create_expense", account_id=accounts["Travel Expense"], amount=75, date=today,
                   paid_through_account_id=accounts["Company Credit Card"])
        moved["Travel Expense"] += 75
        moved["Company Credit Card"] -= 75

        profit = _tree((await call("get_profit_and_loss", **TODAY))["profit_and_loss"])
        sheet_after, owed_after, owing_after = await reports()

    assert sum(moved.values()) == 0  # the test's own entries balance
    income = -(moved["Consulting Income"] + moved["Sales"])
    expenses = moved["IT and Internet Expenses"] + moved["Travel Expense"]
    assert profit[("Gross Profit", "Operating Income", "Consulting Income")] == -moved["Consulting Income"]
    assert profit[("Gross Profit", "Operating Income", "Sales")] == -moved["Sales"]
    assert profit[("Operating Profit", "Operating Expense")] == expenses
    assert profit[("Net Profit/Loss",)] == income - expenses == 2625

    def change(path: tuple[str, ...]) -> float:
        return round(sheet_after.get(path, 0.0) - sheet_before.get(path, 0.0), 2)

    current = ("Assets", "Current Assets")
    liabilities = ("Liabilities & Equities", "Liabilities", "Current Liabilities")
    assert change((*current, "Business Checking")) == moved["Business Checking"]
    assert change((*current, "Accounts Receivable")) == moved["Accounts Receivable"]
    assert change((*liabilities, "Accounts Payable")) == -moved["Accounts Payable"]
    assert change((*liabilities, "Company Credit Card")) == -moved["Company Credit Card"]
    assert change(("Liabilities & Equities", "Equities", "Current Year Earnings")) == income - expenses
    assert change(("Assets",)) == change(("Liabilities & Equities",))

    assert owed_after["Globex Ltd"] - owed_before["Globex Ltd"] == 3300 - 1000
    assert owed_after.get("Initech", 0.0) == owed_before.get("Initech", 0.0)  # the void invoice is owed by nobody
    assert owing_after["Cloud Hosting Ltd"] - owing_before["Cloud Hosting Ltd"] == 600 - 250
