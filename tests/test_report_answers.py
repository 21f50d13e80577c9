"""Report answers that lead with the figure asked for (issue #22.6), and report periods as Zoho reads them
(issue #22.7), through an MCP client on the sandbox."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from tests.conftest import ORG, agent, mcp_client, running


CUSTOM = "TransactionDate.CustomDate"
FULL = "ZohoBooks.fullaccess.all"


@pytest.fixture
def bookkeeper(make_config):
    return make_config({"bookkeeper": agent(["*:*"])})


def _last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


async def _zoho(sandbox, path: str, **params: str) -> dict[str, Any]:
    """The sandbox's own answer, as Zoho's would be read without zbmcp."""
    token = sandbox.mint_access_token([FULL], lifetime_seconds=600)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app),
                                  base_url="http://sandbox.test/books/v3") as http:
        answer = await http.get(path, params={"organization_id": ORG, **params},
                                headers={"Authorization": f"Zoho-oauthtoken {token}"})
    return answer.json()


def _total(nodes: list[dict[str, Any]], name: str) -> Decimal:
    for node in nodes:
        if node["name"] == name:
            return Decimal(str(node["total"]))
        found = _total(node.get("account_transactions", []), name)
        if found is not None:
            return found
    return None  # type: ignore[return-value]


def _money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


async def test_an_agent_asking_what_our_profit_was_last_month_reads_it_and_its_currency_first(bookkeeper,
                                                                                                sandbox):
    store = sandbox.store(ORG)
    first, last = _last_month(store.today)
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        # last month, the books move: 1,200.00 invoiced and 300.00 spent
        made = await client.call_tool("create_invoice", {
            "customer_id": store.contact_id("Acme Corporation"), "date": last.isoformat(),
            "line_items": [{"item_id": store.item_id("Consulting"), "rate": 1200}]})
        assert not made.is_error, made.content[0].text
        sent = await client.call_tool("mark_invoice_sent",
                                      {"invoice_id": made.structured_content["invoice"]["invoice_id"]})
        assert not sent.is_error, sent.content[0].text
        spent = await client.call_tool("create_expense", {
            "account_id": store.account_id("Rent Expense"), "amount": 300, "date": first.isoformat(),
            "paid_through_account_id": store.account_id("Business Checking")})
        assert not spent.is_error, spent.content[0].text

        result = await client.call_tool("get_profit_and_loss", {"filter_by": "TransactionDate.PreviousMonth"})
    assert not result.is_error, result.content[0].text
    answer = result.structured_content
    zoho = (await _zoho(sandbox, "reports/profitandloss",
                        filter_by="TransactionDate.PreviousMonth"))["profit_and_loss"]
    net = _total(zoho, "Net Profit/Loss")

    said = re.fullmatch(r"Net profit (?P<net>-?[\d,.]+) (?P<currency>[A-Z]{3}) for (?P<start>[\d-]+) to "
                        r"(?P<end>[\d-]+) \(previous month, accrual\): income (?P<income>[\d,.]+) GBP, "
                        r"expense (?P<expense>[\d,.]+) GBP\.", answer["summary"])
    assert said, answer["summary"]
    assert (_money(said["net"]), said["currency"]) == (net, "GBP")
    assert (said["start"], said["end"]) == (first.isoformat(), last.isoformat())
    assert _money(said["income"]) - _money(said["expense"]) == net
    assert _money(said["income"]) >= 1200 and _money(said["expense"]) >= 300  # ours, and the seed's if any
    assert answer["currency_code"] == "GBP" and answer["profit_and_loss"][-1]["name"] == "Net Profit/Loss"


async def test_aging_sits_under_its_own_name_and_states_every_bucket(bookkeeper, sandbox):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        owed = (await client.call_tool("get_aged_receivables", {})).structured_content
        we_owe = (await client.call_tool("get_aged_payables", {})).structured_content
    assert "invoice" not in owed and "bills" not in we_owe
    receivables, payables = owed["aged_receivables"], we_owe["aged_payables"]
    today = sandbox.store(ORG).today.isoformat()
    current = receivables["buckets"]["current"]
    assert owed["summary"].startswith(f"Receivables as of {today}: {receivables['total']:,.2f} GBP owed to "
                                      f"us (current {current:,.2f} GBP, 1-15 days ")
    assert "over 45 days" in owed["summary"] and payables["vendors"] and receivables["customers"]
    assert we_owe["summary"].startswith(f"Payables as of {today}: {payables['total']:,.2f} GBP we owe")


async def test_an_aging_report_as_of_a_past_date_counts_what_was_owed_then(bookkeeper, sandbox):
    store = sandbox.store(ORG)
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        made = (await client.call_tool("create_invoice", {
            "customer_id": store.contact_id("Initech"), "date": "2031-01-10", "due_date": "2031-01-20",
            "line_items": [{"item_id": store.item_id("Consulting"), "rate": 500}]})).structured_content
        invoice_id = made["invoice"]["invoice_id"]
        await client.call_tool("mark_invoice_sent", {"invoice_id": invoice_id})
        paid = await client.call_tool("create_customer_payment", {
            "customer_id": store.contact_id("Initech"), "payment_mode": "cash", "amount": 500,
            "date": "2031-03-01", "invoices": [{"invoice_id": invoice_id, "amount_applied": 500}]})
        assert not paid.is_error, paid.content[0].text
        aged = [(await client.call_tool("get_aged_receivables", {"to_date": day})).structured_content
                for day in ("2031-02-10", "2031-03-10")]
    before, after = aged
    initech = lambda answer: next((row for row in answer["aged_receivables"]["customers"]  # noqa: E731
                                   if row["name"] == "Initech"), {})
    assert initech(before).get("16-30") == 500  # 21 days overdue on 2031-02-10, and unpaid then
    assert "16-30" not in initech(after)
    assert before["summary"].startswith("Receivables as of 2031-02-10:")


async def test_report_dates_go_to_zoho_with_the_custom_period_and_a_named_period_takes_none(bookkeeper,
                                                                                             sandbox):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        sheet = await client.call_tool("get_balance_sheet", {"to_date": "2030-12-31"})
        [sent] = [request.query for request in sandbox.api_requests
                  if request.path == "/reports/balancesheet"]
        before = len(sandbox.api_requests)
        mixed = await client.call_tool("get_profit_and_loss", {"filter_by": "TransactionDate.ThisYear",
                                                               "from_date": "2030-01-01"})
        invented = await client.call_tool("get_profit_and_loss", {"filter_by": "TransactionDate.Yesterday"})
        nothing_sent = len(sandbox.api_requests) == before
    assert not sheet.is_error, sheet.content[0].text
    assert (sent["filter_by"], sent["to_date"]) == (CUSTOM, "2030-12-31")
    assert sheet.structured_content["summary"].startswith("As of 2030-12-31 (accrual): total assets ")
    assert mixed.is_error and mixed.structured_content["error"]["fields"] == ["from_date"]
    assert "only with filter_by=TransactionDate.CustomDate" in mixed.content[0].text
    assert invented.is_error and invented.structured_content["error"]["fields"] == ["filter_by"]
    assert nothing_sent


async def test_the_accountants_reports_answer_with_their_totals_first(bookkeeper, sandbox):
    store = sandbox.store(ORG)
    checking = store.account_id("Business Checking")
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        spent = await client.call_tool("create_expense", {
            "account_id": store.account_id("Rent Expense"), "amount": 640, "date": "2030-06-03",
            "paid_through_account_id": checking, "reference_number": "RENT-JUNE"})
        assert not spent.is_error, spent.content[0].text
        june = {"from_date": "2030-06-01", "to_date": "2030-06-30"}
        trial = (await client.call_tool("get_trial_balance", {"to_date": "2030-06-30"})).structured_content
        ledger = (await client.call_tool("get_general_ledger", june)).structured_content
        postings = (await client.call_tool("get_account_transactions",
                                           {"account_id": checking, **june})).structured_content
        flow = (await client.call_tool("get_cash_flow", june)).structured_content
        cash = (await client.call_tool("get_trial_balance", {"to_date": "2030-06-30", "cash_based": True}))
    sent = [request.query for request in sandbox.api_requests
            if request.path == "/reports/accounttransaction"]

    debits = trial["trial_balance"][0]["net_debit_total"]
    assert trial["summary"] == (f"Trial balance as of 2030-06-30 (accrual): debits {debits:,.2f} GBP, "
                                f"credits {debits:,.2f} GBP, balanced.")
    assert cash.structured_content["summary"].startswith("Trial balance as of 2030-06-30 (cash): debits ")
    moved = [row for row in ledger["general_ledger"] if row.get("debit_total") or row.get("credit_total")]
    assert ledger["summary"] == (f"General ledger for 2030-06-01 to 2030-06-30 (accrual): "
                                 f"{len(ledger['general_ledger'])} accounts, debits 640.00 GBP, "
                                 "credits 640.00 GBP.")
    assert sorted(row["name"] for row in moved) == ["Business Checking", "Rent Expense"]
    assert [row["transaction_type"] for row in postings["account_transactions"][0]["account_transactions"]] \
        == ["Expense"]
    assert postings["summary"].startswith("Business Checking for 2030-06-01 to 2030-06-30 (accrual): opening "
                                          "balance ")
    assert "debits 0.00 GBP, credits 640.00 GBP" in postings["summary"]
    assert '"value":["' + checking + '"]' in sent[0]["rule"] and sent[0]["filter_by"] == CUSTOM
    assert re.match(r"Cash flow for 2030-06-01 to 2030-06-30: beginning cash [\d,.]+ GBP, net change "
                    r"-640\.00 GBP \(operating -640\.00 GBP, investing 0\.00 GBP, financing 0\.00 GBP\), "
                    r"ending cash ", flow["summary"]), flow["summary"]
