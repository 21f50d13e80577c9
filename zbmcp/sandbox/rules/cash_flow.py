"""The cash flow statement, read from the ledger (UNVERIFIED, as every report; docs/sandbox.md).

    GET /reports/cashflow   a period as the profit and loss takes it
        -> cash_flow: [{name: "Beginning Cash Balance", total},
                       {name: "Net Change in cash", total, account_transactions: [
                           {name: "Operating Activities", total_label: "Net cash provided by Operating
                            Activities", total, account_transactions: [{name: "Net Income", total},
                                                                      account {name, account_id, total}]},
                           {name: "Investing Activities", ...}, {name: "Financing Activities", ...}]},
                       {name: "Ending Cash Balance", total}]

Cash is every cash and bank account. Every entry balances, so what the other accounts moved in the period,
negated, is exactly what cash moved: income and expense (as Net Income) and current assets and liabilities
are operating; other assets investing; long-term liabilities and equity financing. The three add up to the
net change, and beginning plus net change is the ending balance.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from zbmcp.sandbox import fields, ledger
from zbmcp.sandbox.rules import accounts
from zbmcp.sandbox.rules.base import Call, Reply
from zbmcp.sandbox.rules.reports import CURRENT_ASSETS, CURRENT_LIABILITIES, period
from zbmcp.sandbox.store import Record

ZERO = Decimal(0)
CASH = frozenset({"cash", "bank"})
OPERATING = (CURRENT_ASSETS | CURRENT_LIABILITIES) - CASH
INVESTING = accounts.ASSET - CURRENT_ASSETS
ACTIVITIES = (("Operating Activities", "provided by"), ("Investing Activities", "used in"),
              ("Financing Activities", "provided by"))


def cash_flow(call: Call) -> Reply:
    store = call.org
    name, start, end = period(call.query.get("filter_by"), call.query, store.today())
    entries = ledger.journal(store)
    before = ledger.balances(entries, end=(start - timedelta(days=1)).isoformat()) \
        if start.toordinal() > 1 else {}
    moved = ledger.balances(entries, start=start.isoformat(), end=end.isoformat())
    types = {account["account_id"]: account["account_type"] for account in store.accounts.values()}
    is_cash = [account_id for account_id, kind in types.items() if kind in CASH]
    beginning = sum((before.get(account_id, ZERO) for account_id in is_cash), ZERO)
    net_income = -sum((amount for account_id, amount in moved.items()
                       if types[account_id] in accounts.INCOME | accounts.EXPENSE), ZERO)
    rows: dict[str, list[Record]] = {"Operating Activities": [], "Investing Activities": [],
                                     "Financing Activities": []}
    if net_income:
        rows["Operating Activities"].append({"name": "Net Income", "total": fields.money(net_income)})
    for account in sorted(store.accounts.values(), key=lambda a: a["account_name"].lower()):
        kind, change = account["account_type"], -moved.get(account["account_id"], ZERO)
        if change == ZERO or kind in CASH or kind in accounts.INCOME | accounts.EXPENSE:
            continue
        activity = ("Operating Activities" if kind in OPERATING
                    else "Investing Activities" if kind in INVESTING else "Financing Activities")
        rows[activity].append({"name": account["account_name"], "account_id": account["account_id"],
                               "total": fields.money(change)})
    sections = []
    net_change = ZERO
    for activity, verb in ACTIVITIES:
        total = sum((fields.dec(row["total"]) for row in rows[activity]), ZERO)
        net_change += total
        sections.append({"name": activity, "total_label": f"Net cash {verb} {activity}",
                         "total": fields.money(total), "account_transactions": rows[activity]})
    report = [{"name": "Beginning Cash Balance", "total": fields.money(beginning)},
              {"name": "Net Change in cash", "total": fields.money(net_change),
               "account_transactions": sections},
              {"name": "Ending Cash Balance", "total": fields.money(beginning + net_change)}]
    context = {"report_name": "Cash Flow Statement", "filter_by": f"TransactionDate.{name}",
               "from_date": start.isoformat(), "to_date": end.isoformat()}
    return Reply(200, "success", "cash_flow", report, context)
