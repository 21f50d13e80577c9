"""The accountant's reports against generated books: a trial balance always balances, on either basis and for
any day or period; the cash flow ties to the cash accounts; cash basis counts income when it is paid.

Books are generated through the sandbox's own API (invoices sent or left draft, part payments, bills, vendor
payments, expenses), dated in 2025, well after the books start and before the seed's own documents.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.conftest import BASE, FULL, ORG, auth
from zbmcp.sandbox import Sandbox, SandboxSettings

CUSTOM = "TransactionDate.CustomDate"
DAYS = [f"2025-{month:02d}-{day:02d}" for month in range(1, 13) for day in (1, 9, 17, 28)]


class Api:
    """The sandbox's Books API for ORG, called as Zoho would be, one request at a time."""

    def __init__(self) -> None:
        self.sandbox = Sandbox(SandboxSettings())
        self.view = self.sandbox.store(ORG)
        token = self.sandbox.mint_access_token([FULL], lifetime_seconds=86400)
        self.headers = auth(token)

    def send(self, method: str, path: str, body: dict[str, Any] | None = None,
             **params: str) -> dict[str, Any]:
        async def call() -> httpx2.Response:
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.sandbox.app),
                                          base_url=BASE + "/books/v3") as http:
                return await http.request(method, path, json=body, headers=self.headers,
                                          params={"organization_id": ORG, **params})

        answer: dict[str, Any] = anyio.run(call).json()
        return answer


amounts = st.integers(1, 500_000).map(lambda cents: Decimal(cents) / 100)
steps = st.lists(st.tuples(st.sampled_from(["invoice", "draft", "bill", "expense"]), st.sampled_from(DAYS),
                           amounts, st.sampled_from([0, Decimal("0.5"), Decimal("0.37"), 1]),
                           st.sampled_from(DAYS)),
                 min_size=1, max_size=6)


def _record(api: Api, plan: list[tuple[str, str, Decimal, Decimal, str]]) -> None:
    view = api.view
    customer, vendor = view.contact_id("Acme Corporation"), view.contact_id("Office Supplies Co")
    checking = view.account_id("Business Checking")
    for index, (kind, day, amount, paid, paid_on) in enumerate(plan):
        paid_on = max(day, paid_on)
        if kind in ("invoice", "draft"):
            made = api.send("POST", "/invoices", {"customer_id": customer, "date": day, "line_items": [
                {"item_id": view.item_id("Consulting"), "rate": float(amount)}]})["invoice"]
            if kind == "draft":
                continue
            api.send("POST", f"/invoices/{made['invoice_id']}/status/sent")
            share = (amount * paid).quantize(Decimal("0.01"))
            if share:
                api.send("POST", "/customerpayments", {
                    "customer_id": customer, "payment_mode": "banktransfer", "amount": float(share),
                    "date": paid_on, "account_id": checking,
                    "invoices": [{"invoice_id": made["invoice_id"], "amount_applied": float(share)}]})
        elif kind == "bill":
            line = {"account_id": view.account_id("Office Supplies"), "rate": float(amount)}
            made = api.send("POST", "/bills", {"vendor_id": vendor, "bill_number": f"G-{index}", "date": day,
                                               "line_items": [line]})["bill"]
            share = (amount * paid).quantize(Decimal("0.01"))
            if share:
                api.send("POST", "/vendorpayments", {
                    "vendor_id": vendor, "amount": float(share), "date": paid_on,
                    "paid_through_account_id": checking,
                    "bills": [{"bill_id": made["bill_id"], "amount_applied": float(share)}]})
        else:
            api.send("POST", "/expenses", {"account_id": view.account_id("Rent Expense"),
                                           "amount": float(amount), "date": day,
                                           "paid_through_account_id": checking})


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def _balanced(node: dict[str, Any]) -> None:
    """Every level of the trial balance adds up, and the whole balances."""
    children = node.get("account_transactions") or []
    if children:
        for key in ("net_debit_total", "net_credit_total"):
            assert _d(node[key]) == sum((_d(child[key]) for child in children), Decimal(0)), node["name"]
        for child in children:
            _balanced(child)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps, as_of=st.sampled_from(DAYS + ["2026-01-15"]), since=st.sampled_from(DAYS),
       cash=st.booleans())
def test_the_trial_balance_always_balances_and_the_cash_flow_ties_to_cash(plan, as_of, since, cash):
    api = Api()
    _record(api, plan)
    basis = {"cash_based": "true" if cash else "false"}
    at = api.send("GET", "/reports/trialbalance", filter_by=CUSTOM, to_date=as_of, **basis)
    start, end = min(since, as_of), max(since, as_of)
    over = api.send("GET", "/reports/trialbalance", filter_by=CUSTOM, from_date=start, to_date=end, **basis)
    for answer in (at, over):
        assert answer["code"] == 0, answer
        [root] = answer["trialbalance"]
        assert root["net_debit_total"] == root["net_credit_total"]
        _balanced(root)
    assert at["page_context"]["report_basis"] == ("Cash" if cash else "Accrual")

    sheet = api.send("GET", "/reports/balancesheet", filter_by=CUSTOM, to_date=as_of, **basis)
    assets, claims = sheet["balance_sheet"]
    assert assets["total"] == claims["total"]

    flow = api.send("GET", "/reports/cashflow", filter_by=CUSTOM, from_date=start, to_date=end)
    beginning, change, ending = flow["cash_flow"]
    assert _d(beginning["total"]) + _d(change["total"]) == _d(ending["total"])
    assert _d(change["total"]) == sum((_d(section["total"]) for section in change["account_transactions"]),
                                      Decimal(0))
    ledger = api.send("GET", "/reports/generalledger", filter_by=CUSTOM, from_date="2024-01-01",
                      to_date=end)["generalledger"]
    cash_accounts = {account["account_id"] for account in api.view.records("accounts").values()
                     if account["account_type"] in ("cash", "bank")}
    held = [_d(row["balance"]) for row in ledger if row["account_id"] in cash_accounts]
    assert _d(ending["total"]) == sum(held, Decimal(0))


def test_cash_basis_counts_an_invoice_as_income_only_as_it_is_paid():
    api = Api()
    view = api.view
    line = {"item_id": view.item_id("Consulting"), "rate": 1000}
    made = api.send("POST", "/invoices", {"customer_id": view.contact_id("Initech"), "date": "2025-03-03",
                                          "line_items": [line]})
    api.send("POST", f"/invoices/{made['invoice']['invoice_id']}/status/sent")
    api.send("POST", "/customerpayments", {
        "customer_id": view.contact_id("Initech"), "payment_mode": "cash", "amount": 250,
        "date": "2025-04-04",
        "invoices": [{"invoice_id": made["invoice"]["invoice_id"], "amount_applied": 250}]})

    def income(month: str, cash: bool) -> Decimal:
        answer = api.send("GET", "/reports/profitandloss", filter_by=CUSTOM, from_date=f"2025-{month}-01",
                          to_date=f"2025-{month}-28", cash_based="true" if cash else "false")
        return _d(answer["profit_and_loss"][0]["account_transactions"][0]["total"])

    assert (income("03", cash=False), income("04", cash=False)) == (1000, 0)
    assert (income("03", cash=True), income("04", cash=True)) == (0, 250)
    assert api.send("GET", "/reports/profitandloss", cash_based="maybe")["code"] == 2


def test_account_transactions_list_one_account_s_postings_with_their_documents():
    api = Api()
    view = api.view
    checking = view.account_id("Business Checking")
    api.send("POST", "/expenses", {"account_id": view.account_id("Rent Expense"), "amount": 800,
                                   "date": "2025-05-05", "paid_through_account_id": checking,
                                   "reference_number": "RENT-MAY"})
    rule = json.dumps({"columns": [{"index": 1, "field": "account_id", "group": "report", "comparator": "in",
                                    "value": [checking]}], "criteria_string": "1"})
    answer = api.send("GET", "/reports/accounttransaction", filter_by=CUSTOM, from_date="2025-05-01",
                      to_date="2025-05-31", rule=rule)
    [account] = answer["account_transactions"]
    assert account["name"] == "Business Checking"
    assert [(row["transaction_type"], row["entity_number"], row["credit"]) for row in
            account["account_transactions"]] == [("Expense", "RENT-MAY", 800)]
    assert _d(account["closing_balance"]) == _d(account["opening_balance"]) - 800
    bad = api.send("GET", "/reports/accounttransaction", rule='{"columns": [{"field": "colour"}]}')
    assert bad["code"] == 2 and "rule" in bad["message"]
