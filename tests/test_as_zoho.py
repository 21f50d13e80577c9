"""Issue #22.7: the tools and the sandbox behave as Zoho Books does, seen through an agent's MCP client.

Each test is a mismatch found against Zoho's OpenAPI files (../shared/zoho-oas/) and public clients tested on
live organizations; docs/sandbox.md says where Zoho's behaviour is unverified and what the sandbox chose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ORG, OTHER_ORG, agent, config_text, environ, mcp_client, running
from zbmcp.core.config_parse import parse_config
from zbmcp.sandbox import Sandbox, SandboxSettings
from tests.test_bookkeeping import answering


@pytest.fixture
def bookkeeper(make_config):
    return make_config({"bookkeeper": agent(["*:*"])})


async def test_an_item_is_created_with_the_income_account_its_sales_post_to(bookkeeper, sandbox):
    view = sandbox.store(ORG)
    general = view.account_id("General Income")
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:

        async def call(tool: str, **arguments: Any) -> Any:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return result.structured_content

        item = (await call("create_item", name="Workshop", rate=500, account_id=general))["item"]
        invoice = (await call("create_invoice", customer_id=view.contact_id("Acme Corporation"),
                              line_items=[{"item_id": item["item_id"], "quantity": 1}]))["invoice"]
    assert item["account_id"] == general and item["account_name"] == "General Income"
    assert [line["account_id"] for line in invoice["line_items"]] == [general]


async def test_voiding_a_paid_invoice_says_and_does_what_zoho_does(make_config, sandbox):
    """Zoho's file: on voiding, the payments applied to an invoice become the customer's credit. The agent's
    tool description and the person's approval question say so, and the sandbox does it."""
    view = sandbox.store(ORG)
    acme = view.contact_id("Acme Corporation")
    loaded = make_config({"clerk": agent(["invoices:*", "customerpayments:*", "contacts:read"],
                                         require_approval=["mark_invoice_void"])})
    asked: list[str] = []
    async with running(loaded, sandbox) as runtime, mcp_client(
            runtime, "clerk", elicitation_callback=answering(True, asked)) as client:

        async def call(tool: str, **arguments: Any) -> Any:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return result.structured_content

        described = {tool.name: tool for tool in (await client.list_tools()).tools}["mark_invoice_void"]
        invoice = (await call("create_invoice", customer_id=acme, line_items=[
            {"item_id": view.item_id("Consulting"), "quantity": 2}]))["invoice"]
        await call("mark_invoice_sent", invoice_id=invoice["invoice_id"])
        await call("create_customer_payment", customer_id=acme, payment_mode="cash", amount=invoice["total"],
                   date=invoice["date"], invoices=[{"invoice_id": invoice["invoice_id"],
                                                   "amount_applied": invoice["total"]}])
        credit = "unused_credits_receivable_amount"
        credit_before = (await call("get_contact", contact_id=acme))["contact"][credit]
        await call("mark_invoice_void", invoice_id=invoice["invoice_id"])
        voided = (await call("get_invoice", invoice_id=invoice["invoice_id"]))["invoice"]
        credit_after = (await call("get_contact", contact_id=acme))["contact"][credit]
    assert "unused credit" in described.description and "refuses" not in described.description
    assert "void invoice; payments become credit" in asked[0]
    assert (voided["status"], voided["balance"]) == ("void", 0.0)
    assert credit_after == credit_before + invoice["total"]


# 2026-01-15 21:00 in New York (EST, UTC-5) is already 2026-01-16 in UTC.
NEW_YORK_EVENING = datetime(2026, 1, 15, 21, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()


async def test_today_is_the_organizations_own_in_its_time_zone(tmp_path, home):
    """At 21:00 in New York an invoice due today is not yet overdue, and a payment with no date is dated
    today there, not tomorrow (UTC's date)."""
    sandbox = Sandbox(SandboxSettings(), clock=lambda: NEW_YORK_EVENING)
    today = "2026-01-15"
    view = sandbox.store(OTHER_ORG)
    assert view.organization["time_zone"] == "America/New_York"
    text = config_text(sandbox, {"clerk": agent(["*:*"], organizations=[OTHER_ORG])})
    loaded = parse_config(text, str(tmp_path / "zbmcp.yaml"), environ(sandbox, home))
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "clerk") as client:

        async def call(tool: str, **arguments: Any) -> Any:
            result = await client.call_tool(tool, {"organization_id": OTHER_ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return result.structured_content

        customer = (await call("list_contacts", contact_type="customer"))["contacts"][0]["contact_id"]
        vendor = (await call("list_contacts", contact_type="vendor"))["contacts"][0]["contact_id"]
        item = (await call("list_items"))["items"][0]["item_id"]
        invoice = (await call("create_invoice", customer_id=customer, due_date=today,
                              line_items=[{"item_id": item, "quantity": 1}]))["invoice"]
        await call("mark_invoice_sent", invoice_id=invoice["invoice_id"])
        shown = (await call("get_invoice", invoice_id=invoice["invoice_id"]))["invoice"]
        overdue = (await call("list_invoices", status="overdue"))["invoices"]
        cash = view.account_id("Petty Cash")
        payment = (await call("create_vendor_payment", vendor_id=vendor, amount=10,
                              paid_through_account_id=cash))["vendorpayment"]
    assert invoice["date"] == today
    assert (shown["status"], shown["due_days"]) == ("sent", "Due Today")
    assert invoice["invoice_id"] not in {row["invoice_id"] for row in overdue}
    assert payment["date"] == today
    assert shown["created_time"].startswith(f"{today}T21:00:00-0500")


async def test_zbmcp_dates_an_undated_create_in_the_organizations_time_zone(tmp_path, home):
    """The `date` a rule reads and a person is shown for a payment with no date is the organization's today
    (read from Zoho), the date Zoho gives it: at 21:00 in New York, not UTC's tomorrow."""
    sandbox = Sandbox(SandboxSettings(), clock=lambda: NEW_YORK_EVENING)
    view = sandbox.store(OTHER_ORG)
    payer = agent(["vendorpayments:*"], organizations=[OTHER_ORG], require_approval=["create_vendor_payment"],
                  rules=[{"deny": 'date > "2026-01-15"', "name": "nothing-dated-ahead"}])
    text = config_text(sandbox, {"payer": payer})
    loaded = parse_config(text, str(tmp_path / "zbmcp.yaml"), environ(sandbox, home))
    asked: list[str] = []
    async with running(loaded, sandbox, clock=lambda: NEW_YORK_EVENING) as runtime, mcp_client(
            runtime, "payer", elicitation_callback=answering(True, asked)) as client:
        paid = await client.call_tool("create_vendor_payment", {
            "organization_id": OTHER_ORG, "vendor_id": view.contact_id("Office Supplies Co"), "amount": 10,
            "paid_through_account_id": view.account_id("Petty Cash")})
    assert not paid.is_error, paid.content[0].text
    assert paid.structured_content["vendorpayment"]["date"] == "2026-01-15"
    assert "Date: 2026-01-15." in asked[0]


async def test_the_chart_of_accounts_signs_every_liability_alike(bookkeeper, sandbox):
    """What a card owes and what Accounts Payable owes read the same way: both grow positive."""
    view = sandbox.store(ORG)
    card, payable = view.account_id("Company Credit Card"), view.account_id("Accounts Payable")
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:

        async def call(tool: str, **arguments: Any) -> Any:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return result.structured_content

        async def owed() -> tuple[float, float]:
            return tuple([(await call("get_chart_of_account", account_id=account))["chart_of_account"][
                "current_balance"] for account in (card, payable)])

        before = await owed()
        await call("create_expense", account_id=view.account_id("Travel Expense"),
                   paid_through_account_id=card, amount=40, date=view.today.isoformat())
        await call("create_bill", vendor_id=view.contact_id("Cloud Hosting Ltd"), bill_number="CH-77",
                   line_items=[{"account_id": view.account_id("IT and Internet Expenses"), "rate": 100}])
        after = await owed()
    assert (after[0] - before[0], after[1] - before[1]) == (40.0, 100.0)
    assert after[0] > 0 and after[1] > 0
