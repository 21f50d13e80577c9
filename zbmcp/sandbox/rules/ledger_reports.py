"""The accountant's reports, read from the ledger: trial balance, general ledger, account transactions.

UNVERIFIED, as every report: Zoho documents them only on its help pages; paths, parameters and answer keys
follow client code written against real organizations (docs/sandbox.md, "Books and reports"):

    GET /reports/trialbalance        as of to_date with filter_by=TransactionDate.CustomDate (a named period:
                                     as of its end; no filter_by: today); with from_date too, the movement
                                     between the two days
                                     -> trialbalance: [{name: "Trial Balance", net_debit_total,
                                        net_credit_total, account_transactions: [section {name,
                                        account_type, net_debit_total, net_credit_total,
                                        account_transactions: [account {name, account_id, account_code,
                                        net_debit_total, net_credit_total}]}]}]
    GET /reports/generalledger       a period as the profit and loss takes it
                                     -> generalledger: [account {name, account_id, account_code, account_type,
                                        opening_balance, debit_total, credit_total, balance}]
    GET /reports/accounttransaction  a period, and rule={"columns": [{"field": "account_id", "comparator":
                                     "in", "value": [ids]}]} for some accounts; page, per_page (500)
                                     -> account_transactions: [{name, opening_balance, debit_total,
                                        credit_total, closing_balance, account_transactions: [row {date,
                                        account_id, account_name, transaction_type, transaction_id,
                                        entity_number, debit, credit}]}]

Balances are debit minus credit (a credit balance is negative). The trial balance as of a day carries income
and expense from the start of its year, earlier years' result in Retained Earnings, so it always balances.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from zbmcp.sandbox import fields, ledger
from zbmcp.sandbox.cash_basis import basis_context, books, is_cash
from zbmcp.sandbox.errors import invalid_value
from zbmcp.sandbox.rules import accounts
from zbmcp.sandbox.rules.base import Call, Reply
from zbmcp.sandbox.rules.reports import CUSTOM, period
from zbmcp.sandbox.store import OrgStore, Record

ZERO = Decimal(0)
SECTIONS = (("Assets", "asset", accounts.ASSET), ("Liabilities", "liability", accounts.LIABILITY),
            ("Equities", "equity", accounts.EQUITY), ("Income", "income", accounts.INCOME),
            ("Expense", "expense", accounts.EXPENSE))
RETAINED = "Retained Earnings"
MAX_PER_PAGE = 500
# entry source -> (what Zoho calls the transaction, its collection, the record's number field)
SOURCES: dict[str, tuple[str, str, str]] = {
    "invoice": ("Invoice", "invoices", "invoice_number"),
    "customer_payment": ("Customer Payment", "payments", "payment_number"),
    "bill": ("Bill", "bills", "bill_number"),
    "vendor_payment": ("Vendor Payment", "vendorpayments", "payment_number"),
    "expense": ("Expense", "expenses", "reference_number"),
    "journal": ("Journal", "journals", "entry_number"),
    "opening_balance": ("Opening Balance", "accounts", "account_code"),
    "payment_refund": ("Payment Refund", "", ""),
    "vendorpayment_refund": ("Vendor Payment Refund", "", ""),
    "write_off": ("Write Off", "invoices", "invoice_number"),
}


# -- trial balance -------------------------------------------------------------------------------------------

def trial_balance(call: Call) -> Reply:
    store = call.org
    cash = is_cash(call.query)
    entries = books(store, cash)
    start, end = _trial_period(call)
    if start is not None:
        held = ledger.balances(entries, start=start.isoformat(), end=end.isoformat())
    else:
        held = _as_of(store, entries, end)
    sections = []
    for name, kind, types in SECTIONS:
        rows = [_debit_credit({"name": account["account_name"], "account_id": account["account_id"],
                               "account_code": account["account_code"]}, held[account["account_id"]])
                for account in _accounts(store) if account["account_type"] in types
                and held.get(account["account_id"], ZERO) != ZERO]
        if rows:
            sections.append({"name": name, "account_type": kind, **_sum(rows), "account_transactions": rows})
    report = [{"name": "Trial Balance", **_sum(sections), "account_transactions": sections}]
    context = {"report_name": "Trial Balance", **basis_context(cash), "to_date": end.isoformat(),
               **({"from_date": start.isoformat()} if start is not None else {})}
    return Reply(200, "success", "trialbalance", report, context)


def _trial_period(call: Call) -> tuple[date | None, date]:
    """(first day of a movement, or None for balances as of; the last day)."""
    filter_by = call.query.get("filter_by")
    today = call.org.today()
    if not filter_by:
        return None, today
    if filter_by.endswith(f".{CUSTOM}"):
        if not call.query.get("to_date"):
            raise invalid_value("to_date")
        end = _day(call.query, "to_date")
        start = _day(call.query, "from_date") if call.query.get("from_date") else None
        if start is not None and end < start:
            raise invalid_value("to_date")
        return start, end
    return None, period(filter_by, call.query, today)[2]


def _as_of(store: OrgStore, entries: list[ledger.Entry], end: date) -> dict[str, Decimal]:
    """Every balance as of `end`, income and expense from the start of its year; earlier years' result
    in Retained Earnings."""
    held = ledger.balances(entries, end=end.isoformat())
    this_year = ledger.balances(entries, start=date(end.year, 1, 1).isoformat(), end=end.isoformat())
    earlier = ZERO
    for account in store.accounts.values():
        if account["account_type"] in accounts.INCOME | accounts.EXPENSE:
            account_id = account["account_id"]
            earlier += held.get(account_id, ZERO) - this_year.get(account_id, ZERO)
            held[account_id] = this_year.get(account_id, ZERO)
    if earlier != ZERO:
        retained = ledger.account_named(store, RETAINED)
        held[retained] = held.get(retained, ZERO) + earlier
    return held


def _debit_credit(row: Record, balance: Decimal) -> Record:
    return {**row, "net_debit_total": fields.money(max(balance, ZERO)),
            "net_credit_total": fields.money(max(-balance, ZERO))}


def _sum(rows: Iterable[Record]) -> Record:
    rows = list(rows)
    return {key: fields.money(sum((fields.dec(row[key]) for row in rows), ZERO))
            for key in ("net_debit_total", "net_credit_total")}


# -- general ledger ------------------------------------------------------------------------------------------

def general_ledger(call: Call) -> Reply:
    store = call.org
    cash = is_cash(call.query)
    entries = books(store, cash)
    name, start, end = period(call.query.get("filter_by"), call.query, store.today())
    rows = []
    for account in _accounts(store):
        account_id = account["account_id"]
        opening, debits, credits = _movement(entries, account_id, start, end)
        if opening == debits == credits == ZERO:
            continue
        rows.append({"name": account["account_name"], "account_id": account_id,
                     "account_code": account["account_code"], "account_type": account["account_type"],
                     "opening_balance": fields.money(opening), "debit_total": fields.money(debits),
                     "credit_total": fields.money(credits),
                     "balance": fields.money(opening + debits - credits)})
    context = {"report_name": "General Ledger", **basis_context(cash), "filter_by": f"TransactionDate.{name}",
               "from_date": start.isoformat(), "to_date": end.isoformat()}
    return Reply(200, "success", "generalledger", rows, context)


def _movement(entries: Iterable[ledger.Entry], account_id: str, start: date,
              end: date) -> tuple[Decimal, Decimal, Decimal]:
    """(balance before start, debits within, credits within) of one account."""
    opening = debits = credits = ZERO
    for entry in entries:
        for posting in entry.postings:
            if posting.account_id != account_id:
                continue
            if entry.date < start.isoformat():
                opening += posting.amount
            elif entry.date <= end.isoformat():
                if posting.amount > 0:
                    debits += posting.amount
                else:
                    credits -= posting.amount
    return opening, debits, credits


# -- account transactions ------------------------------------------------------------------------------------

def account_transactions(call: Call) -> Reply:
    store = call.org
    cash = is_cash(call.query)
    entries = books(store, cash)
    name, start, end = period(call.query.get("filter_by"), call.query, store.today())
    wanted = _rule_accounts(call.query, store)
    names = {account["account_id"]: account["account_name"] for account in store.accounts.values()}
    rows = [{"date": entry.date, "account_id": posting.account_id, "account_name": names[posting.account_id],
             "transaction_type": SOURCES.get(entry.source, (entry.source,))[0],
             "transaction_id": entry.source_id, "entity_number": _number(store, entry),
             "debit": fields.money(max(posting.amount, ZERO)),
             "credit": fields.money(max(-posting.amount, ZERO))}
            for entry in entries if start.isoformat() <= entry.date <= end.isoformat()
            for posting in entry.postings if wanted is None or posting.account_id in wanted]
    opening = sum((_movement(entries, account_id, start, end)[0] for account_id in wanted or names), ZERO)
    debits = sum((fields.dec(row["debit"]) for row in rows), ZERO)
    credits = sum((fields.dec(row["credit"]) for row in rows), ZERO)
    page, per_page = _paging(call.query)
    shown = rows[(page - 1) * per_page: page * per_page]
    title = names[next(iter(wanted))] if wanted and len(wanted) == 1 else "All accounts"
    report = [{"name": title, "opening_balance": fields.money(opening), "debit_total": fields.money(debits),
               "credit_total": fields.money(credits),
               "closing_balance": fields.money(opening + debits - credits), "account_transactions": shown}]
    context = {"report_name": "Account Transactions", **basis_context(cash),
               "filter_by": f"TransactionDate.{name}", "from_date": start.isoformat(),
               "to_date": end.isoformat(),
               "page": page, "per_page": per_page, "has_more_page": page * per_page < len(rows)}
    return Reply(200, "success", "account_transactions", report, context)


def _rule_accounts(query: Mapping[str, str], store: OrgStore) -> set[str] | None:
    """The accounts a `rule` asks for (account_id in [...]); None: every account."""
    raw = query.get("rule")
    if not raw:
        return None
    try:
        rule: Any = json.loads(raw)
        columns = rule["columns"]
        wanted = {str(value) for column in columns
                  if column["field"] == "account_id" and column["comparator"] == "in"
                  for value in column["value"]}
    except (ValueError, KeyError, TypeError):
        raise invalid_value("rule") from None
    if not wanted or len(wanted) != sum(len(column.get("value") or []) for column in columns) \
            or not wanted <= set(store.accounts):
        raise invalid_value("rule")
    return wanted


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    page, per_page = query.get("page") or "1", query.get("per_page") or str(MAX_PER_PAGE)
    if not page.isdigit() or int(page) < 1:
        raise invalid_value("page")
    if not per_page.isdigit() or int(per_page) < 1:
        raise invalid_value("per_page")
    return int(page), min(int(per_page), MAX_PER_PAGE)


def _number(store: OrgStore, entry: ledger.Entry) -> str:
    _, collection, key = SOURCES.get(entry.source, ("", "", ""))
    record = store.collection(collection).get(entry.source_id) if collection else None
    return str(record.get(key) or "") if record else ""


def _accounts(store: OrgStore) -> list[Record]:
    return sorted(store.accounts.values(), key=lambda account: account["account_name"].lower())


def _day(query: Mapping[str, str], key: str) -> date:
    return date.fromisoformat(fields.parse_date(query[key], key))
