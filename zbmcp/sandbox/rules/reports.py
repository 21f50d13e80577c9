"""Reports: profit and loss, balance sheet, aged receivables and aged payables, all read from the ledger.

UNVERIFIED. Zoho's OpenAPI files have no reports module. Paths, parameters and answer shapes follow what
client code written against real Zoho organizations reads (see docs/sandbox.md, "Reports"):

    GET /reports/profitandloss    filter_by=TransactionDate.<period>, from_date/to_date with .CustomDate
                                  -> profit_and_loss: [Gross Profit, Operating Profit, Net Profit/Loss],
                                     each a {name, total, account_transactions: [section {name, total,
                                     account_transactions: [account {name, account_id, account_code,
                                     total}]}]}
    GET /reports/balancesheet     filter_by=.CustomDate with to_date (as of), or a named period (as of its
                                  end); a bare to_date is ignored (as of today)
                                  -> balance_sheet: [Assets, Liabilities & Equities], nested the same way
    GET /reports/aragingsummary   interval_range (days, 15), number_of_columns (4): as of to_date or today
                                  -> invoice: {total, intervals: [{interval, interval_formatted, amount}],
                                     group_list: [{name: "none", group_list: [customer {name, id, total,
                                     intervals}]}]}
    GET /reports/apagingsummary   the same for vendors' bills, under `bills`

Without filter_by the profit and loss covers this month and ignores from_date/to_date, as integrators report
Zoho doing. Accounts with nothing in the period are left out. cash_based=true reads the cash-basis books
(zbmcp/sandbox/cash_basis.py). Scope: ZohoBooks.reports.READ (also unverified). The trial balance, general
ledger and account transactions are in ledger_reports.py, the cash flow in cash_flow.py.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from zbmcp.sandbox import fields, ledger
from zbmcp.sandbox.cash_basis import basis_context, books, is_cash
from zbmcp.sandbox.errors import invalid_value
from zbmcp.sandbox.rules import accounts
from zbmcp.sandbox.rules.base import Call, Reply
from zbmcp.sandbox.store import OrgStore, Record

ZERO = Decimal(0)
CUSTOM = "CustomDate"
PERIODS = ("Today", "PreviousDay", "ThisWeek", "ThisMonth", "ThisQuarter", "ThisYear", "PreviousWeek",
           "PreviousMonth", "PreviousQuarter", "PreviousYear", CUSTOM)
DEFAULT_PERIOD = "ThisMonth"

# Profit and loss sections by account type (§4.11 lists the types).
OPERATING_INCOME = frozenset({"income"})
NON_OPERATING_INCOME = frozenset({"other_income", "finance_income", "other_comprehensive_income"})
COST_OF_GOODS_SOLD = frozenset({"cost_of_goods_sold"})
NON_OPERATING_EXPENSE = frozenset({"other_expense", "finance_expense", "tax_expense"})
OPERATING_EXPENSE = accounts.EXPENSE - COST_OF_GOODS_SOLD - NON_OPERATING_EXPENSE

CURRENT_ASSETS = frozenset({"cash", "bank", "accounts_receivable", "other_current_asset", "stock",
                            "financial_asset", "contract_asset"})
FIXED_ASSETS = frozenset({"fixed_asset", "right_to_use_asset"})
OTHER_ASSETS = accounts.ASSET - CURRENT_ASSETS - FIXED_ASSETS
CURRENT_LIABILITIES = frozenset({"accounts_payable", "credit_card", "other_current_liability",
                                 "contract_liability", "refund_liability", "employee_benefit_liability"})
LONG_TERM_LIABILITIES = frozenset({"long_term_liability", "loans_and_borrowing", "lease_liability",
                                   "financial_liability"})
OTHER_LIABILITIES = accounts.LIABILITY - CURRENT_LIABILITIES - LONG_TERM_LIABILITIES


# -- periods -------------------------------------------------------------------------------------------------

def period(filter_by: str | None, query: Any, today: date,
           group: str = "TransactionDate") -> tuple[str, date, date]:
    """(period name, first day, last day) for filter_by=<group>.<period>; CustomDate
    takes from_date/to_date."""
    name = DEFAULT_PERIOD
    if filter_by:
        prefix, _, name = filter_by.partition(".")
        if prefix.lower() != group.lower() or name not in PERIODS:
            raise invalid_value("filter_by")
    if name == CUSTOM:
        start = _query_date(query, "from_date")
        end = _query_date(query, "to_date")
        if end < start:
            raise invalid_value("to_date")
        return name, start, end
    return (name, *_named_period(name, today))


def _query_date(query: Any, key: str) -> date:
    value = query.get(key)
    if not value:
        raise invalid_value(key)  # a custom period needs both ends
    return date.fromisoformat(fields.parse_date(value, key))


def _named_period(name: str, today: date) -> tuple[date, date]:
    if name in ("Today", "PreviousDay"):
        day = today if name == "Today" else today - timedelta(days=1)
        return day, day
    if name.endswith("Week"):
        monday = today - timedelta(days=today.weekday()) - timedelta(weeks=name.startswith("Previous"))
        return monday, monday + timedelta(days=6)
    if name.endswith("Month"):
        year, month = (today.year, today.month) if name.startswith("This") \
            else _month_before(today.year, today.month)
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    if name.endswith("Quarter"):
        quarter = (today.month - 1) // 3 - (1 if name.startswith("Previous") else 0)
        year = today.year + quarter // 4  # quarter -1 is the year before's fourth
        first_month = (quarter % 4) * 3 + 1
        last_month = first_month + 2
        return date(year, first_month, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])
    # the sandbox's fiscal year is the calendar's
    year = today.year - (1 if name.startswith("Previous") else 0)
    return date(year, 1, 1), date(year, 12, 31)


def _month_before(year: int, month: int) -> tuple[int, int]:
    return (year, month - 1) if month > 1 else (year - 1, 12)


# -- profit and loss -----------------------------------------------------------------------------------------

def profit_and_loss(call: Call) -> Reply:
    store = call.org
    name, start, end = period(call.query.get("filter_by"), call.query, store.today())
    cash = is_cash(call.query)
    moved = ledger.balances(books(store, cash), start=start.isoformat(), end=end.isoformat())
    income = lambda types: _section(store, moved, types, sign=-1)  # noqa: E731 (income is a credit)
    expense = lambda types: _section(store, moved, types, sign=1)  # noqa: E731
    operating_income = income(OPERATING_INCOME)
    cogs = expense(COST_OF_GOODS_SOLD)
    operating_expense = expense(OPERATING_EXPENSE)
    other_income = income(NON_OPERATING_INCOME)
    other_expense = expense(NON_OPERATING_EXPENSE)
    gross = operating_income[1] - cogs[1]
    operating = gross - operating_expense[1]
    net = operating + other_income[1] - other_expense[1]
    report = [
        _node("Gross Profit", gross, [_group("Operating Income", operating_income),
                                      _group("Cost of Goods Sold", cogs)]),
        _node("Operating Profit", operating, [_group("Operating Expense", operating_expense)]),
        _node("Net Profit/Loss", net, [_group("Non Operating Income", other_income),
                                       _group("Non Operating Expense", other_expense)]),
    ]
    context = {"report_name": "Profit and Loss", **basis_context(cash),
               "filter_by": f"TransactionDate.{name}", "from_date": start.isoformat(),
               "to_date": end.isoformat()}
    return Reply(200, "success", "profit_and_loss", report, context)


# -- balance sheet -------------------------------------------------------------------------------------------

def balance_sheet(call: Call) -> Reply:
    store = call.org
    as_of = _as_of(call, store)
    cash = is_cash(call.query)
    entries = books(store, cash)
    held = ledger.balances(entries, end=as_of.isoformat())
    year_start = date(as_of.year, 1, 1).isoformat()
    earned_before = ZERO if as_of.year == date.min.year else -_net(  # nothing is dated before year 1
        store, ledger.balances(entries, end=(date(as_of.year, 1, 1) - timedelta(days=1)).isoformat()))
    earned_this_year = -_net(store, ledger.balances(entries, start=year_start, end=as_of.isoformat()))

    asset = lambda types: _section(store, held, types, sign=1)  # noqa: E731
    claim = lambda types: _section(store, held, types, sign=-1)  # noqa: E731
    assets = [_group("Current Assets", asset(CURRENT_ASSETS)), _group("Fixed Assets", asset(FIXED_ASSETS)),
              _group("Other Assets", asset(OTHER_ASSETS))]
    liabilities = [_group("Current Liabilities", claim(CURRENT_LIABILITIES)),
                   _group("Long Term Liabilities", claim(LONG_TERM_LIABILITIES)),
                   _group("Other Liabilities", claim(OTHER_LIABILITIES))]
    equity_rows, equity_total = claim(accounts.EQUITY)
    retained = next((row for row in equity_rows if row["name"] == "Retained Earnings"), None)
    if retained is not None:
        retained["total"] = fields.money(fields.dec(retained["total"]) + earned_before)
    elif earned_before:
        equity_rows.append({"name": "Retained Earnings", "total": fields.money(earned_before)})
    if earned_this_year:
        equity_rows.append({"name": "Current Year Earnings", "total": fields.money(earned_this_year)})
    equity_total += earned_before + earned_this_year
    liability_total = sum((_total(group) for group in liabilities), ZERO)
    report = [
        _node("Assets", sum((_total(group) for group in assets), ZERO), assets),
        _node("Liabilities & Equities", liability_total + equity_total, [
            _node("Liabilities", liability_total, liabilities),
            _node("Equities", equity_total, equity_rows),
        ]),
    ]
    context = {"report_name": "Balance Sheet", **basis_context(cash), "to_date": as_of.isoformat()}
    return Reply(200, "success", "balance_sheet", report, context)


def _as_of(call: Call, store: OrgStore) -> date:
    """The end of the filter_by period; to_date counts only with CustomDate, as Zoho reads it."""
    filter_by = call.query.get("filter_by")
    if not filter_by:
        return store.today()  # a bare to_date is ignored
    if filter_by.endswith(f".{CUSTOM}"):
        if not call.query.get("to_date"):
            raise invalid_value("to_date")
        return _query_date(call.query, "to_date")
    return period(filter_by, call.query, store.today())[2]


def _net(store: OrgStore, moved: dict[str, Decimal]) -> Decimal:
    """Debit minus credit over every income and expense account: a profit is negative."""
    income_or_expense = accounts.INCOME | accounts.EXPENSE
    return sum((amount for account_id, amount in moved.items()
                if store.accounts[account_id]["account_type"] in income_or_expense), ZERO)


# -- report rows ---------------------------------------------------------------------------------------------

Section = tuple[list[Record], Decimal]


def _section(store: OrgStore, moved: dict[str, Decimal], types: frozenset[str], *, sign: int) -> Section:
    """The accounts of the given types that moved, signed so the section's natural balance is positive."""
    rows = []
    total = ZERO
    for account in sorted(store.accounts.values(), key=lambda a: a["account_name"].lower()):
        amount = moved.get(account["account_id"], ZERO) * sign
        if account["account_type"] not in types or amount == ZERO:
            continue
        total += amount
        rows.append({"name": account["account_name"], "account_id": account["account_id"],
                     "account_code": account["account_code"], "total": fields.money(amount)})
    return rows, total


def _group(name: str, section: Section) -> Record:
    rows, total = section
    return _node(name, total, rows)


def _node(name: str, total: Decimal, children: list[Record]) -> Record:
    return {"name": name, "total": fields.money(total), "account_transactions": children}


def _total(node: Record) -> Decimal:
    return fields.dec(node["total"])


# -- aging ---------------------------------------------------------------------------------------------------

def ar_aging_summary(call: Call) -> Reply:
    store = call.org
    as_of = _aging_date(call)
    later = _applied_after(store.payments.values(), "invoices", "invoice_id", as_of)
    owed = [(invoice["customer_id"], invoice["customer_name"], invoice["due_date"],
             fields.dec(invoice["balance"]) + later[invoice["invoice_id"]])
            for invoice in store.invoices.values()
            if invoice["_lifecycle"] not in ("draft", "void") and invoice["date"] <= as_of.isoformat()]
    return _aging(call, as_of, "invoice", "AR Aging Summary", "invoiceduedate", owed)


def ap_aging_summary(call: Call) -> Reply:
    store = call.org
    as_of = _aging_date(call)
    later = _applied_after(store.vendorpayments.values(), "bills", "bill_id", as_of)
    owed = [(bill["vendor_id"], bill["vendor_name"], bill["due_date"],
             fields.dec(bill["balance"]) + later[bill["bill_id"]])
            for bill in store.bills.values()
            if bill["status"] != "void" and bill["date"] <= as_of.isoformat()]
    return _aging(call, as_of, "bills", "AP Aging Summary", "billduedate", owed)


def _aging_date(call: Call) -> date:
    """As of to_date (UNVERIFIED: integrators send it bare to the aging reports), else today."""
    return _query_date(call.query, "to_date") if call.query.get("to_date") else call.org.today()


def _applied_after(payments: Iterable[Record], key: str, id_key: str, as_of: date) -> dict[str, Decimal]:
    """What payments dated after as_of applied to each document: its balance then was that much higher."""
    later: dict[str, Decimal] = defaultdict(Decimal)
    for payment in payments:
        if payment["date"] > as_of.isoformat():
            for entry in payment[key]:
                later[entry[id_key]] += fields.dec(entry["amount_applied"])
    return later


def _aging(call: Call, as_of: date, key: str, report_name: str, aging_by: str,
           owed: Iterable[tuple[str, str, str, Decimal]]) -> Reply:
    interval_range = _positive(call.query, "interval_range", 15)
    columns = _positive(call.query, "number_of_columns", 4)
    labels = _interval_labels(interval_range, columns)
    bucket_of = _bucketer(interval_range, columns)
    per_contact: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO] * len(labels))
    for contact_id, name, due, balance in owed:
        if balance <= ZERO:
            continue
        days = (as_of - date.fromisoformat(due)).days
        per_contact[(name, contact_id)][bucket_of(days)] += balance
    contacts = [{"name": name, "id": contact_id, "total": fields.money(sum(amounts, ZERO)),
                 "intervals": _intervals(labels, amounts)}
                for (name, contact_id), amounts in sorted(per_contact.items(),
                                                          key=lambda kv: kv[0][0].lower())]
    totals = [sum((amounts[index] for amounts in per_contact.values()), ZERO) for index in range(len(labels))]
    grand = fields.money(sum(totals, ZERO))
    intervals = _intervals(labels, totals)
    report = {"total": grand, "intervals": intervals,
              "group_list": [{"name": "none", "total": grand, "intervals": intervals,
                              "group_list": contacts}]}
    context = {"report_name": report_name, "as_of_date": as_of.isoformat(), "to_date": as_of.isoformat(),
               "aging_by": aging_by, "interval_type": "days", "interval_range": interval_range,
               "number_of_columns": columns, "page": 1, "per_page": 500, "has_more_page": False}
    return Reply(200, "success", key, report, context)


def _positive(query: Any, key: str, default: int) -> int:
    value = query.get(key)
    if value in (None, ""):
        return default
    if not str(value).isdigit() or not 1 <= int(value) <= 365:
        raise invalid_value(key)
    return int(value)


def _interval_labels(size: int, columns: int) -> list[tuple[str, str]]:
    """(interval, interval_formatted): Current, then `columns` overdue buckets, the last open-ended."""
    labels = [("current", "Current")]
    for index in range(columns - 1):
        low, high = index * size + 1, (index + 1) * size
        labels.append((f"{low}-{high}", f"{low} - {high} Days"))
    last = (columns - 1) * size
    labels.append((f"above_{last}", f"> {last} Days"))
    return labels


def _bucketer(size: int, columns: int) -> Callable[[int], int]:
    def bucket(days_overdue: int) -> int:
        if days_overdue <= 0:
            return 0
        return min((days_overdue - 1) // size + 1, columns)
    return bucket


def _intervals(labels: list[tuple[str, str]], amounts: list[Decimal]) -> list[Record]:
    return [{"interval": interval, "interval_formatted": formatted, "amount": fields.money(amount)}
            for (interval, formatted), amount in zip(labels, amounts, strict=True)]
