"""The month-end close through a real MCP client on the sandbox (#24), with the whole catalog of tools: a
deposit in the feed matched to its invoice, a card charge categorized as an expense and its receipt attached,
an accrual journal, an overpayment's credit applied to another invoice, an invoice with a 20% tax line; the
trial balance balances before and after, and the balance sheet moves exactly as the test's own ledger
says."""

from __future__ import annotations

import base64
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import ORG, agent, mcp_client, running
from zbmcp.calls.catalog import load_catalog

CATALOG = load_catalog()
RECEIPT = b"%PDF-1.4\nRail tickets, 86.40\n%%EOF\n"


def _tree(nodes: list[dict[str, Any]], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], float]:
    found: dict[tuple[str, ...], float] = {}
    for node in nodes:
        here = (*path, node["name"])
        found[here] = node.get("total", 0.0)
        found.update(_tree(node.get("account_transactions", []), here))
    return found


@pytest.fixture
def closer(make_config):
    return make_config({"closer": agent(["*:*"], catalog="whole")})


async def test_a_month_closes_through_the_tools_and_the_numbers_tie_out(closer, sandbox):
    expected: dict[str, Decimal] = defaultdict(Decimal)  # what the calls should move, by account name

    def post(*lines: tuple[str, float]) -> None:
        assert sum(Decimal(str(amount)) for _, amount in lines) == 0
        for name, amount in lines:
            expected[name] += Decimal(str(amount))

    async with running(closer, sandbox, specs=CATALOG) as runtime, mcp_client(runtime, "closer") as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, (tool, result.content[0].text)
            return result.structured_content

        async def balances() -> dict[str, float]:
            sheet = _tree((await call("get_balance_sheet"))["balance_sheet"])
            return {path[-1]: total for path, total in sheet.items() if len(path) > 2}

        async def trial_balance_ties() -> bool:
            result = await call("get_trial_balance")
            [total] = result["trial_balance"]
            return bool(total["net_debit_total"] == total["net_credit_total"] > 0)

        assert await trial_balance_ties()
        before = await balances()
        accounts = {row["account_name"]: row["account_id"]
                    for row in (await call("list_chart_of_accounts", per_page=200))["chartofaccounts"]}
        banks = {row["account_name"]: row["account_id"]
                 for row in (await call("list_bank_accounts"))["bankaccounts"]}
        feed = (await call("list_bank_transactions", fields="description"))["banktransactions"]
        by_description = {row["description"]: row for row in feed}

        # a deposit matched to its invoice: the invoice is paid, the line matched, the books move once
        deposit = by_description["FASTER PAYMENT"]
        suggested = (await call("get_matching_bank_transactions",
                                transaction_id=deposit["transaction_id"]))["matching_transactions"]
        best = suggested[0]
        assert best["is_best_match"] and best["transaction_number"] == "INV-000002"
        await call("match_bank_transaction", transaction_id=deposit["transaction_id"],
                   transactions_to_be_matched=[{"transaction_id": best["transaction_id"],
                                                "transaction_type": "invoice"}])
        post(("Business Checking", 1200), ("Accounts Receivable", -1200))
        assert (await call("get_invoice", invoice_id=best["transaction_id"]))["invoice"]["status"] == "paid"
        line = (await call("get_bank_transaction", bank_transaction_id=deposit["transaction_id"]))
        assert line["banktransaction"]["status"] == "matched"

        # a card charge categorized as an expense
        charge = by_description["RAIL TICKETS"]
        await call("categorize_bank_transaction_as_expense", transaction_id=charge["transaction_id"],
                   account_id=accounts["Travel Expense"], description="Client visit")
        post(("Travel Expense", 86.4), ("Company Credit Card", -86.4))
        # its receipt attached, from the bytes the agent holds
        [expense] = (await call("list_expenses", search_text="Client visit"))["expenses"]
        await call("create_expense_receipt", expense_id=expense["expense_id"], file_name="rail-tickets.pdf",
                   file_content_base64=base64.b64encode(RECEIPT).decode())
        shown = (await call("get_expense", expense_id=expense["expense_id"]))["expense"]
        assert [doc["file_name"] for doc in shown["documents"]] == ["rail-tickets.pdf"]

        # an accrual journal
        today = sandbox.store(ORG).today.isoformat()
        await call("create_journal", journal_date=today, notes="Accrued audit fee",
                   line_items=[{"account_id": accounts["Office Supplies"], "debit_or_credit": "debit",
                                "amount": 250},
                               {"account_id": accounts["Accrued Liabilities"], "debit_or_credit": "credit",
                                "amount": 250}])
        post(("Office Supplies", 250), ("Accrued Liabilities", -250))

        # an overpayment, and its credit applied to the next invoice
        acme = sandbox.store(ORG).contact_id("Acme Corporation")
        consulting = sandbox.store(ORG).item_id("Consulting")
        partly = sandbox.store(ORG).invoice_id("INV-000003")
        payment = (await call("create_customer_payment", customer_id=acme, payment_mode="banktransfer",
                              amount=1000, date=sandbox.store(ORG).today.isoformat(),
                              account_id=banks["Business Checking"],
                              invoices=[{"invoice_id": partly, "amount_applied": 688}]))["payment"]
        post(("Business Checking", 1000), ("Accounts Receivable", -1000))

        # an invoice with a 20% tax line, totalled as Zoho totals it, paid from the overpayment's credit
        taxes = (await call("list_taxes", fields="*"))["taxes"]
        [standard] = [tax for tax in taxes if tax["tax_name"] == "Standard Rate"]
        invoice = (await call("create_invoice", customer_id=acme, line_items=[
            {"item_id": consulting, "quantity": 1, "rate": 200, "tax_id": standard["tax_id"]}]))["invoice"]
        assert (invoice["sub_total"], invoice["tax_total"], invoice["total"]) == (200.0, 40.0, 240.0)
        await call("mark_invoice_sent", invoice_id=invoice["invoice_id"])
        post(("Accounts Receivable", 240), ("Consulting Income", -200), ("Tax Payable", -40))
        # Zoho's file requires apply_creditnotes, which the catalog offers without its creditnote_id: empty
        await call("apply_credits_to_invoice", invoice_id=invoice["invoice_id"], apply_creditnotes=[],
                   invoice_payments=[
            {"payment_id": payment["payment_id"], "amount_applied": 240}])
        assert (await call("get_invoice", invoice_id=invoice["invoice_id"]))["invoice"]["status"] == "paid"

        assert await trial_balance_ties()
        after = await balances()
        sides = {"Accounts Receivable": 1, "Business Checking": 1, "Company Credit Card": -1,
                 "Accrued Liabilities": -1, "Tax Payable": -1}
        for name, sign in sides.items():
            moved = Decimal(str(after.get(name, 0.0))) - Decimal(str(before.get(name, 0.0)))
            assert moved == expected[name] * sign, name
