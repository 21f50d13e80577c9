"""Bookkeeping through the tools: what an agent records with the write tools, the report tools then show.

The test keeps its own ledger of what its calls should move, and checks each report against it: the profit
and loss for today (the seed has nothing dated today), and how the balance sheet and the aging reports
change between before and after the calls.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from mcp import types

from tests.conftest import ORG, AuditCapture, agent, mcp_client, running

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


def _aging(result: dict[str, Any], key: str, rows: str) -> dict[str, float]:
    return {row["name"]: row["total"] for row in result[key].get(rows, [])}


async def test_reports_move_exactly_as_the_tools_calls_say(bookkeeper, sandbox):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return result.structured_content

        async def reports() -> tuple[dict[tuple[str, ...], float], dict[str, float], dict[str, float]]:
            sheet = _tree((await call("get_balance_sheet"))["balance_sheet"])
            owed_to_us = _aging(await call("get_aged_receivables"), "aged_receivables", "customers")
            we_owe = _aging(await call("get_aged_payables"), "aged_payables", "vendors")
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
            {"item_id": items["Consulting"], "quantity": 6},
            {"item_id": items["Website design"]}]))["invoice"]
        await call("mark_invoice_sent", invoice_id=invoice["invoice_id"])
        moved["Accounts Receivable"] += 3300
        moved["Consulting Income"] -= 900
        moved["Sales"] -= 2400
        today = invoice["date"]
        await call("create_customer_payment", customer_id=customers["Globex Ltd"],
                   payment_mode="banktransfer", amount=1000, date=today,
                   account_id=accounts["Business Checking"],
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
                           line_items=[{"account_id": accounts["IT and Internet Expenses"],
                                        "rate": 600}]))["bill"]
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
    # the void invoice is owed by nobody
    assert owed_after.get("Initech", 0.0) == owed_before.get("Initech", 0.0)
    assert owing_after["Cloud Hosting Ltd"] - owing_before["Cloud Hosting Ltd"] == 600 - 250


def answering(approve: bool, asked: list[str]):
    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True}) if approve else \
            types.ElicitResult(action="decline")

    return callback


async def test_an_amount_rule_asks_before_a_big_payment_to_a_vendor_and_a_no_pays_nothing(
        make_config, sandbox):
    """"A payment over 5,000 needs a person" holds for money paid out as for money received: a vendor
    payment's facts are its amount, its vendor and its date."""
    view = sandbox.store(ORG)
    vendor, other_vendor = view.contact_id("Cloud Hosting Ltd"), view.contact_id("Office Supplies Co")
    payables = agent(["bills:*", "vendorpayments:*"], rules=[
        {"approve": "amount > 5000.0", "name": "big-payments", "tools": ["create_vendor_payment"]},
        {"deny": f'counterparty_id == "{other_vendor}"', "name": "not-this-vendor",
         "reason": "payments to this vendor go through purchasing"},
    ])
    loaded = make_config({"payables": payables})
    audit = AuditCapture()
    asked: list[str] = []
    checking = view.account_id("Business Checking")
    async with running(loaded, sandbox, audit=audit) as runtime:
        async with mcp_client(runtime, "payables", elicitation_callback=answering(False, asked)) as client:
            bill = (await client.call_tool("create_bill", {
                "vendor_id": vendor, "bill_number": "CH-BIG", "line_items": [
                    {"account_id": view.account_id("IT and Internet Expenses"),
                     "rate": 10000}]})).structured_content
            bill_id = bill["bill"]["bill_id"]

            def pay(amount: float, to: str = vendor) -> dict[str, Any]:
                return {"vendor_id": to, "amount": amount, "paid_through_account_id": checking,
                        "bills": [{"bill_id": bill_id, "amount_applied": amount}] if to == vendor else []}

            small = await client.call_tool("create_vendor_payment", pay(4000))
            before = len(sandbox.api_requests)
            declined = await client.call_tool("create_vendor_payment", pay(6000))
            elsewhere = await client.call_tool("create_vendor_payment", pay(100, other_vendor))
            sent_after_refusals = len([r for r in sandbox.api_requests[before:] if r.method != "GET"])
        async with mcp_client(runtime, "payables", elicitation_callback=answering(True, asked)) as client:
            approved = await client.call_tool("create_vendor_payment", pay(6000))
    assert not small.is_error and not approved.is_error, approved.content[0].text
    assert declined.is_error and "did not approve" in declined.content[0].text
    assert elsewhere.is_error and "payments to this vendor go through purchasing" in elsewhere.content[0].text
    assert sent_after_refusals == 0  # neither the declined nor the denied payment reached Zoho
    # the 4,000 payment was not asked about; the 6,000 one twice (declined, then approved)
    first, second = asked
    assert first == second
    today = approved.structured_content["vendorpayment"]["date"]
    for line in ("Amount: 6,000.00 GBP.", f"Counterparty: Cloud Hosting Ltd ({vendor}).", f"Date: {today}.",
                 "rule big-payments"):
        assert line in first
    assert sandbox.store(ORG).bills[bill_id]["balance"] == 0.0  # 4,000 and the approved 6,000; nothing else
    rules = [(r["tool"], r["decision"], r["rule"]) for r in audit.records
             if r["tool"] == "create_vendor_payment"]
    assert rules == [
        ("create_vendor_payment", "allowed", "tools: vendorpayments:*"),
        ("create_vendor_payment", "denied", "rule big-payments (approve: amount > 5000.0) (decline)"),
        ("create_vendor_payment", "denied", 'rule not-this-vendor (deny: counterparty_id == '
                                            f'"{other_vendor}")'),
        ("create_vendor_payment", "allowed",
         "rule big-payments (approve: amount > 5000.0) (approved by a person)"),
    ]
    assert all(r["effects"] == ["moves_money"] for r in audit.records if r["tool"] == "create_vendor_payment"
               and r["decision"] == "allowed")


async def test_the_tools_declare_what_zoho_needs_for_bought_items_and_purchase_order_lines(
        bookkeeper, sandbox):
    """Zoho wants purchase_account_id on an item that is bought, inventory_account_id on an inventory item,
    and an account on a purchase-order line unless its item is inventory: the tools forward each of them."""
    view = sandbox.store(ORG)
    vendor = view.contact_id("Office Supplies Co")
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:

        async def call(tool: str, **arguments: Any) -> Any:
            return await client.call_tool(tool, {"organization_id": ORG, **arguments})

        unaccounted = await call("create_item", name="Toner", rate=40, item_type="purchases")
        toner = await call("create_item", name="Toner", rate=40, item_type="purchases",
                           purchase_account_id=view.account_id("Office Supplies"))
        stock = await call("create_chart_of_account", account_name="Inventory Asset", account_type="stock")
        no_stock_account = await call("create_item", name="Paper", rate=5, item_type="inventory",
                                      purchase_account_id=view.account_id("Cost of Goods Sold"))
        paper = await call("create_item", name="Paper", rate=5, item_type="inventory",
                           purchase_account_id=view.account_id("Cost of Goods Sold"),
                           inventory_account_id=stock.structured_content["chart_of_account"]["account_id"])
        toner_id, paper_id = (item.structured_content["item"]["item_id"] for item in (toner, paper))
        line_without_account = await call("create_purchase_order", vendor_id=vendor,
                                          line_items=[{"item_id": toner_id, "quantity": 2}])
        order = await call("create_purchase_order", vendor_id=vendor, line_items=[
            {"item_id": toner_id, "quantity": 2, "account_id": view.account_id("Office Supplies")},
            {"item_id": paper_id, "quantity": 10}])
    assert unaccounted.is_error and "purchase_account_id is required" in unaccounted.content[0].text
    assert no_stock_account.is_error \
        and "inventory_account_id is required" in no_stock_account.content[0].text
    assert line_without_account.is_error \
        and "line_items[0].account_id" in line_without_account.content[0].text
    for result in (toner, stock, paper, order):
        assert not result.is_error, result.content[0].text
    assert order.structured_content["purchaseorder"]["total"] == 2 * 40 + 10 * 5
