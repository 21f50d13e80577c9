"""Chart of accounts (§4.11, accountants scope) and bank accounts (§4.10, banking scope).

As in Zoho, a bank or credit-card account is a row of the chart of accounts: one store, two views. Balances
come from the ledger (zbmcp/sandbox/ledger.py): opening balance, payments in, payments and expenses out.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from zbmcp.sandbox import fields, filters, ledger
from zbmcp.sandbox.errors import already_exists, invalid_value, not_found
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, existing
from zbmcp.sandbox.store import OrgStore, Record, public

ASSET = frozenset({"other_asset", "other_current_asset", "cash", "bank", "fixed_asset", "accounts_receivable",
                   "stock", "intangible_asset", "right_to_use_asset", "financial_asset", "contingent_asset",
                   "contract_asset"})
LIABILITY = frozenset({"other_current_liability", "credit_card", "long_term_liability", "other_liability",
                       "accounts_payable", "contract_liability", "refund_liability", "loans_and_borrowing",
                       "lease_liability", "employee_benefit_liability", "contingent_liability",
                       "financial_liability"})
EQUITY = frozenset({"equity"})
INCOME = frozenset({"income", "other_income", "finance_income", "other_comprehensive_income"})
EXPENSE = frozenset({"expense", "cost_of_goods_sold", "other_expense", "manufacturing_expense",
                     "impairment_expense", "depreciation_expense", "employee_benefit_expense",
                     "lease_expense", "finance_expense", "tax_expense"})
ACCOUNT_TYPES = ASSET | LIABILITY | EQUITY | INCOME | EXPENSE
BANK_TYPES = frozenset({"bank", "credit_card"})


def _of(types: frozenset[str]) -> Predicate:
    return lambda record: record["account_type"] in types


def _active(record: Record) -> bool:
    return bool(record["is_active"])


def _inactive(record: Record) -> bool:
    return not record["is_active"]


CHART_LIST = ListSpec(
    key="chartofaccounts",
    report_name="Chart of Accounts",
    fields={"account_name": Filterable("text"), "account_code": Filterable("exact"),
            "account_type": Filterable("exact"), "last_modified_time": Filterable("date")},
    filter_by={"AccountType.All": lambda r: True, "AccountType.Active": _active,
               "AccountType.Inactive": _inactive, "AccountType.Asset": _of(ASSET),
               "AccountType.Liability": _of(LIABILITY), "AccountType.Equity": _of(EQUITY),
               "AccountType.Income": _of(INCOME), "AccountType.Expense": _of(EXPENSE)},
    default_filter="AccountType.All",
    search=("account_name", "account_code", "description"),
    sort_columns=frozenset({"account_name", "account_type"}),
    default_sort="account_name",
    default_order="A",
    row_exclude=frozenset({"account_number", "bank_name", "routing_number", "is_primary_account",
                           "is_paypal_account", "uncategorized_transactions", "total_unprinted_checks",
                           "balance", "bank_balance", "bcy_balance"}),
)

BANK_LIST = ListSpec(
    key="bankaccounts",
    report_name="Bank Accounts",
    fields={"account_name": Filterable("text"), "account_type": Filterable("exact")},
    filter_by={"Status.All": lambda r: True, "Status.Active": _active, "Status.Inactive": _inactive},
    search=("account_name", "bank_name", "account_number"),
    sort_columns=frozenset({"account_name", "account_type", "account_code"}),
    default_sort="account_name",
    default_order="A",
    row_exclude=frozenset({"current_balance", "depth", "is_user_created", "parent_account_id"}),
)


def present(store: OrgStore, account: Record, balances: dict[str, Decimal] | None = None) -> Record:
    """The account with its balance from the ledger (pass `balances` to present many accounts at once)."""
    shown = copy.deepcopy(account)
    if balances is None:
        balances = ledger.balances(ledger.journal(store))
    balance = balances.get(account["account_id"], Decimal(0))
    # The chart shows every account's natural balance, so that all liabilities are signed alike (a card's
    # debt as Accounts Payable's: positive): debits for assets and expenses, credits for liabilities, equity
    # and income. The banking fields read like a statement from the holder's side (a card spent: negative).
    natural = account["account_type"] in ASSET | EXPENSE
    shown["current_balance"] = fields.money(balance if natural else -balance)
    if account["account_type"] in BANK_TYPES:
        shown["balance"] = shown["bank_balance"] = shown["bcy_balance"] = fields.money(balance)
        shown["uncategorized_transactions"] = sum(
            1 for line in store.banktransactions.values()
            if line["account_id"] == account["account_id"] and line["status"] == "uncategorized")
    return shown


def present_all(store: OrgStore, accounts: list[Record]) -> list[Record]:
    balances = ledger.balances(ledger.journal(store))
    return [present(store, account, balances) for account in accounts]


def list_chart(call: Call) -> Reply:
    records = present_all(call.org, list(call.org.accounts.values()))
    page = filters.run(CHART_LIST, records, call.query)
    return Reply(200, "success", "chartofaccounts", page.rows, page.page_context)


def get_chart_account(call: Call) -> Reply:
    account = existing(call.org.accounts, call.params["account_id"], "Account")
    return Reply(200, "success", "chart_of_account", public(present(call.org, account)))


def create_chart_account(call: Call) -> Reply:
    record = build(call.org, call.data, ACCOUNT_TYPES)
    call.org.add("accounts", record["account_id"], record)
    return Reply(201, "The account has been created.", "chart_of_account", public(present(call.org, record)))


def list_bank(call: Call) -> Reply:
    records = present_all(call.org, [account for account in call.org.accounts.values()
                                      if account["account_type"] in BANK_TYPES])
    page = filters.run(BANK_LIST, records, call.query)
    return Reply(200, "success", "bankaccounts", page.rows, page.page_context)


def get_bank(call: Call) -> Reply:
    account = call.org.accounts.get(call.params["account_id"])
    if account is None or account["account_type"] not in BANK_TYPES:
        raise not_found("Account")
    return Reply(200, "success", "bankaccount", public(present(call.org, account)))


def create_bank(call: Call) -> Reply:
    record = build(call.org, call.data, BANK_TYPES)
    call.org.add("accounts", record["account_id"], record)
    return Reply(201, "The account has been created.", "bankaccount", public(present(call.org, record)))


def build(store: OrgStore, body: dict[str, Any], types: frozenset[str]) -> Record:
    name = fields.text(body, "account_name", need=True, max_len=100)
    account_type = fields.text(body, "account_type", need=True)
    assert name is not None and account_type is not None
    if account_type not in types:
        raise invalid_value("account_type")
    if any(account["account_name"].lower() == name.lower() for account in store.accounts.values()):
        raise already_exists("Account name")
    parent_id = fields.ident(body, "parent_account_id")
    if parent_id is not None:
        account_ref(store, parent_id, "parent_account_id")
    currency_id = fields.ident(body, "currency_id")
    if currency_id is not None and currency_id != store.organization.currency_id:
        raise invalid_value("currency_id")
    now = store.timestamp()
    record: Record = {
        "account_id": store.new_id(),
        "account_name": name,
        "account_code": fields.text(body, "account_code", max_len=50) or "",
        "account_type": account_type,
        "is_active": True,
        "is_user_created": True,
        "is_system_account": False,
        "description": fields.text(body, "description") or "",
        "currency_id": store.organization.currency_id,
        "currency_code": store.organization.currency_code,
        "parent_account_id": parent_id or "",
        "depth": 1 if parent_id else 0,
        "created_time": now,
        "last_modified_time": now,
        "_opening_balance": 0.0,
    }
    if account_type in BANK_TYPES:
        record.update(
            account_number=fields.text(body, "account_number", max_len=50) or "",
            bank_name=fields.text(body, "bank_name") or "",
            routing_number=fields.text(body, "routing_number") or "",
            is_primary_account=bool(fields.boolean(body, "is_primary_account")),
            is_paypal_account=bool(fields.boolean(body, "is_paypal_account")),
            uncategorized_transactions=0,
            total_unprinted_checks=0,
        )
    return record
