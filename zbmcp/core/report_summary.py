"""The line a report's answer starts with: the figures asked for, with currency and period (pure).

"What was our profit last month" is answered by the first line an agent reads, not by a walk through Zoho's
tree: net profit, income and expense for a profit and loss; total assets, liabilities and equity for a balance
sheet; each bucket and the total for an aging report; the debit and credit totals for a trial balance and a
general ledger; an account's opening and closing balance; cash at the start and end, and the flows. The
period and basis come from Zoho's own page_context, never from what was asked, so a period Zoho did not apply
cannot be reported as applied; a date asked for and not echoed back is said to be so.

Zoho's report answers carry no currency; the caller passes the organization's (None: said to be unknown).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from zbmcp.core.found import money_text

# Zoho's node names in a profit and loss (docs/sandbox.md, "Books and reports")
INCOME = ("Operating Income", "Non Operating Income")
EXPENSE = ("Cost of Goods Sold", "Operating Expense", "Non Operating Expense")
NET = "Net Profit/Loss"
AGING = {"invoice": ("Receivables", "owed to us"), "bills": ("Payables", "we owe")}


def report_summary(key: str, arguments: Mapping[str, Any], payload: Mapping[str, Any],
                   currency: str | None) -> str | None:
    """The summary line for the report under Zoho's `key`, or None for a report this module does not know."""
    report = payload.get(key)
    context = payload.get("page_context")
    context = context if isinstance(context, Mapping) else {}

    def money(value: Any) -> str:
        return money_text(_number(value), currency)

    line: str | None = None
    if key == "profit_and_loss" and isinstance(report, list):
        nodes = _sections(report)
        income = sum((_number(nodes.get(name, {}).get("total")) for name in INCOME), Decimal(0))
        expense = sum((_number(nodes.get(name, {}).get("total")) for name in EXPENSE), Decimal(0))
        net = nodes.get(NET, {}).get("total")
        line = (f"Net profit {money(net)} for {_period(context)}: income {money(income)}, "
                f"expense {money(expense)}.")
    elif key == "balance_sheet" and isinstance(report, list):
        nodes = _sections(report)
        assets, liabilities, equity = (nodes.get(name, {}).get("total")
                                       for name in ("Assets", "Liabilities", "Equities"))
        line = (f"As of {_as_of(context)}{_basis(context)}: total assets {money(assets)}, "
                f"liabilities {money(liabilities)}, equity {money(equity)}.")
    elif key == "trialbalance" and isinstance(report, list) and report and isinstance(report[0], Mapping):
        debits, credits = (_number(report[0].get(side)) for side in ("net_debit_total", "net_credit_total"))
        when = f"for {_period(context)}" if context.get("from_date") else \
            f"as of {_as_of(context)}{_basis(context)}"
        line = (f"Trial balance {when}: debits {money(debits)}, credits {money(credits)}"
                + (", balanced." if debits == credits else f"; they differ by {money(debits - credits)}."))
    elif key == "generalledger" and isinstance(report, list):
        rows = [row for row in report if isinstance(row, Mapping)]
        debits, credits = (sum((_number(row.get(side)) for row in rows), Decimal(0))
                           for side in ("debit_total", "credit_total"))
        line = (f"General ledger for {_period(context)}: {len(rows)} accounts, debits {money(debits)}, "
                f"credits {money(credits)}.")
    elif key == "account_transactions" and isinstance(report, list) and report \
            and isinstance(report[0], Mapping):
        account = report[0]
        postings = account.get("account_transactions")
        count = len(postings) if isinstance(postings, list) else 0
        more = " (more on the next page)" if context.get("has_more_page") else ""
        said = [money(account.get(name)) for name in ("opening_balance", "debit_total", "credit_total",
                                                      "closing_balance")]
        line = (f"{account.get('name')} for {_period(context)}: opening balance {said[0]}, debits {said[1]}, "
                f"credits {said[2]}, closing balance {said[3]}; {count} postings on page "
                f"{context.get('page', 1)}{more}.")
    elif key == "cash_flow" and isinstance(report, list):
        nodes = _sections(report)
        flows = ", ".join(f"{name.split()[0].lower()} {money(nodes[name].get('total'))}"
                          for name in ("Operating Activities", "Investing Activities", "Financing Activities")
                          if name in nodes)
        line = (f"Cash flow for {_period(context)}: beginning cash "
                f"{money(nodes.get('Beginning Cash Balance', {}).get('total'))}, net change "
                f"{money(nodes.get('Net Change in cash', {}).get('total'))} ({flows}), ending cash "
                f"{money(nodes.get('Ending Cash Balance', {}).get('total'))}.")
    elif key in AGING and isinstance(report, Mapping):
        what, who = AGING[key]
        buckets = ", ".join(f"{_bucket(interval)} {money(interval.get('amount'))}"
                            for interval in report.get("intervals") or [] if isinstance(interval, Mapping))
        line = f"{what} as of {_as_of(context)}: {money(report.get('total'))} {who} ({buckets})."
    if line is None:
        return None
    return line + _not_applied(arguments, context)


def _sections(nodes: list[Any]) -> dict[str, Mapping[str, Any]]:
    """The tree's nodes by name, the shallowest first: a section named as an account (Cost of Goods Sold is
    both) is the section."""
    found: dict[str, Mapping[str, Any]] = {}
    for name, node in _named(nodes):
        found.setdefault(name, node)
    return found


def _named(nodes: list[Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every node of Zoho's tree with a name, at any depth, each before its children."""
    for node in nodes:
        if isinstance(node, Mapping):
            if isinstance(node.get("name"), str):
                yield node["name"], node
            children = node.get("account_transactions")
            if isinstance(children, list):
                yield from _named(children)


def _number(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value)) if isinstance(value, int | float | str) and not isinstance(value, bool) \
            else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _period(context: Mapping[str, Any]) -> str:
    start, end = context.get("from_date"), context.get("to_date")
    named = str(context.get("filter_by") or "").removeprefix("TransactionDate.")
    dates = f"{start} to {end}" if start and end else "the period Zoho chose (it did not say which)"
    extra = [word for word in (_words(named) if named and named != "CustomDate" else "",
                               str(context.get("report_basis") or "").lower()) if word]
    return dates + (f" ({', '.join(extra)})" if extra else "")


def _as_of(context: Mapping[str, Any]) -> str:
    return str(context.get("as_of_date") or context.get("to_date") or "a date Zoho did not say")


def _basis(context: Mapping[str, Any]) -> str:
    basis = str(context.get("report_basis") or "").lower()
    return f" ({basis})" if basis else ""


def _words(name: str) -> str:
    """PreviousMonth -> previous month."""
    out = ""
    for char in name:
        out += f" {char.lower()}" if char.isupper() and out else char.lower()
    return out


def _bucket(interval: Mapping[str, Any]) -> str:
    label = str(interval.get("interval") or "")
    if label == "current":
        return "current"
    if label.startswith("above_"):
        return f"over {label.removeprefix('above_')} days"
    return f"{label} days"


def _not_applied(arguments: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """A date the call sent that Zoho's answer does not echo: Zoho chose another period."""
    echoed = {context.get("from_date"), context.get("to_date"), context.get("as_of_date")}
    missed = [f"{name}={arguments[name]}" for name in ("from_date", "to_date")
              if isinstance(arguments.get(name), str) and arguments[name] not in echoed]
    if not missed:
        return ""
    return f" Zoho did not apply {', '.join(missed)}: the figures are for the dates above."
