"""Credits through a real MCP client on the sandbox (issue #24.3, #24.7): an overpayment's credit pays
another invoice, the books move once, and an argument rule reads what the call applies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ORG, agent, mcp_client, running
from zbmcp.calls.catalog import load_catalog

SPECS = load_catalog()


@pytest.fixture
def bookkeeper(make_config):
    return make_config({"bookkeeper": agent(["*:*"], catalog="whole", rules=[
        {"deny": "amount > 250.0", "name": "small-credits", "tools": ["apply_credits_to_invoice"]}])})


def _receivable(sheet: list[dict[str, Any]]) -> float:
    def walk(nodes: list[dict[str, Any]]) -> float | None:
        for node in nodes:
            if node["name"] == "Accounts Receivable":
                return float(node["total"])
            found = walk(node.get("account_transactions", []))
            if found is not None:
                return found
        return None

    found = walk(sheet)
    assert found is not None
    return found


async def test_an_overpayments_credit_is_applied_to_another_invoice(bookkeeper, sandbox):
    async with running(bookkeeper, sandbox, specs=SPECS) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return dict(result.structured_content or {})

        async def receivable() -> float:
            return _receivable((await call("get_balance_sheet"))["balance_sheet"])

        view = sandbox.store(ORG)
        globex, consulting = view.contact_id("Globex Ltd"), view.item_id("Consulting")
        before = await receivable()
        first, second = [(await call("create_invoice", customer_id=globex, line_items=[
            {"item_id": consulting, "quantity": hours, "rate": 150}]))["invoice"] for hours in (2, 1)]
        for invoice in (first, second):
            await call("mark_invoice_sent", invoice_id=invoice["invoice_id"])
        paid_in = await call("create_customer_payment", customer_id=globex, payment_mode="banktransfer",
                             amount=500, date=first["date"], account_id=view.account_id("Business Checking"),
                             invoices=[{"invoice_id": first["invoice_id"], "amount_applied": 300}])
        payment = paid_in["payment"]
        assert payment["unused_amount"] == 200.0
        assert await receivable() == before + 450 - 500  # the overpayment sits in receivables as credit

        # more than the rule allows: refused before anything is sent
        sent = len(sandbox.api_requests)
        refused = await client.call_tool("apply_credits_to_invoice", {
            "organization_id": ORG, "invoice_id": second["invoice_id"], "apply_creditnotes": [],
            "invoice_payments": [{"payment_id": payment["payment_id"], "amount_applied": 150},
                                 {"payment_id": payment["payment_id"], "amount_applied": 150}]})
        assert refused.is_error and "small-credits" in refused.content[0].text
        assert len(sandbox.api_requests) == sent

        await call("apply_credits_to_invoice", invoice_id=second["invoice_id"], apply_creditnotes=[],
                   invoice_payments=[{"payment_id": payment["payment_id"], "amount_applied": 150}])
        paid = (await call("get_invoice", invoice_id=second["invoice_id"]))["invoice"]
        assert (paid["status"], paid["balance"]) == ("paid", 0.0)
        left = (await call("get_customer_payment", payment_id=payment["payment_id"]))["payment"]
        assert left["unused_amount"] == 50.0
        assert await receivable() == before + 450 - 500  # applying credit moves no account


async def test_a_write_off_is_as_large_as_the_balance_it_writes_off(make_config, sandbox):
    """write_off_invoice names no amount: the rules read the invoice's balance, read from Zoho first."""
    loaded = make_config({"collector": agent(["invoices:*", "customerpayments:*"], catalog="whole", rules=[
        {"deny": "amount > 100.0", "name": "small-write-offs", "tools": ["write_off_invoice"]}])})
    view = sandbox.store(ORG)
    async with running(loaded, sandbox, specs=SPECS) as runtime, mcp_client(runtime, "collector") as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return dict(result.structured_content or {})

        invoice = (await call("create_invoice", customer_id=view.contact_id("Acme Corporation"), line_items=[
            {"item_id": view.item_id("Consulting"), "quantity": 1, "rate": 150}]))["invoice"]
        await call("mark_invoice_sent", invoice_id=invoice["invoice_id"])
        refused = await client.call_tool("write_off_invoice", {"organization_id": ORG,
                                                               "invoice_id": invoice["invoice_id"]})
        assert refused.is_error and "small-write-offs" in refused.content[0].text
        assert (await call("get_invoice", invoice_id=invoice["invoice_id"]))["invoice"]["balance"] == 150.0
        await call("create_customer_payment", customer_id=view.contact_id("Acme Corporation"),
                   payment_mode="cash", amount=60, date=invoice["date"],
                   invoices=[{"invoice_id": invoice["invoice_id"], "amount_applied": 60}])
        await call("write_off_invoice", invoice_id=invoice["invoice_id"])  # 90 left: within the rule
        written = (await call("get_invoice", invoice_id=invoice["invoice_id"]))["invoice"]
        assert (written["write_off_amount"], written["balance"]) == (90.0, 0.0)


async def test_a_rule_on_the_counterparty_reaches_the_record_the_path_names(make_config, sandbox):
    """A refund or a write-off names its credit note or invoice, not a customer_id: zbmcp reads that record
    for a rule on counterparty_id, so "not Globex's" holds for them too."""
    view = sandbox.store(ORG)
    globex, acme = view.contact_id("Globex Ltd"), view.contact_id("Acme Corporation")
    loaded = make_config({"collector": agent(["invoices:*", "creditnotes:*"], catalog="whole", rules=[
        {"deny": f'counterparty_id == "{globex}"', "name": "not-globex",
         "tools": ["write_off_invoice", "create_credit_note_refund"]}])})
    note = view.find("creditnotes", creditnote_number="CN-00001")
    assert note is not None and note["customer_id"] == globex
    async with running(loaded, sandbox, specs=SPECS) as runtime, mcp_client(runtime, "collector") as client:

        async def call(tool: str, **arguments: Any) -> Any:
            return await client.call_tool(tool, {"organization_id": ORG, **arguments})

        invoices = {}
        for customer in (globex, acme):
            made = await call("create_invoice", customer_id=customer, line_items=[
                {"item_id": view.item_id("Consulting"), "quantity": 1, "rate": 150}])
            invoices[customer] = made.structured_content["invoice"]["invoice_id"]
            assert not (await call("mark_invoice_sent", invoice_id=invoices[customer])).is_error
        sent = len(sandbox.api_requests)
        refused = [await call("write_off_invoice", invoice_id=invoices[globex]),
                   await call("create_credit_note_refund", creditnote_id=note["creditnote_id"], amount=10,
                              date=note["date"], from_account_id=view.account_id("Business Checking"))]
        assert all(result.is_error and "not-globex" in result.content[0].text for result in refused)
        # only zbmcp's own reads of the two records went out
        assert {request.method for request in sandbox.api_requests[sent:]} == {"GET"}
        allowed = await call("write_off_invoice", invoice_id=invoices[acme])
        assert not allowed.is_error, allowed.content[0].text
