"""Expenses (§4.7): money spent from a cash, bank or card account against an expense account.

With a `tax_id` the tax is computed as on a document's line (rules/taxes.py): added to `amount`, or, with
`is_inclusive_tax`, taken out of it; `total` is what left the paid-through account.
"""

from __future__ import annotations

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import invalid_value, required
from zbmcp.sandbox.filters import Filterable, ListSpec
from zbmcp.sandbox.rules import taxes
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, contact_ref, existing
from zbmcp.sandbox.rules.documents import EXPENSE_ACCOUNT_TYPES
from zbmcp.sandbox.store import Record, public

# Accounts money can be paid through: Zoho lists cash, bank and card accounts, plus liabilities and equity.
PAID_THROUGH_TYPES = frozenset({"cash", "bank", "credit_card", "other_current_asset",
                                "other_current_liability", "equity", "long_term_liability"})

LIST = ListSpec(
    key="expenses",
    report_name="Expenses",
    fields={
        "description": Filterable("text"),
        "reference_number": Filterable("exact"),
        "account_name": Filterable("text"),
        "customer_name": Filterable("text"),
        "vendor_name": Filterable("text"),
        "customer_id": Filterable("id"),
        "vendor_id": Filterable("id"),
        "recurring_expense_id": Filterable("id"),
        "paid_through_account_id": Filterable("id"),
        "account_id": Filterable("id"),
        "amount": Filterable("number"),
        "total": Filterable("number"),
        "date": Filterable("date"),
    },
    statuses={
        "unbilled": lambda r: r["status"] == "unbilled",
        "invoiced": lambda r: r["status"] == "invoiced",
        "reimbursed": lambda r: r["status"] == "reimbursed",
        "non-billable": lambda r: r["status"] == "nonbillable",
        "billable": lambda r: bool(r["is_billable"]),
    },
    filter_by={
        "Status.All": lambda r: True,
        "Status.Billable": lambda r: bool(r["is_billable"]),
        "Status.Nonbillable": lambda r: not r["is_billable"],
        "Status.Reimbursed": lambda r: r["status"] == "reimbursed",
        "Status.Invoiced": lambda r: r["status"] == "invoiced",
        "Status.Unbilled": lambda r: r["status"] == "unbilled",
    },
    search=("description", "reference_number", "account_name", "customer_name", "vendor_name"),
    sort_columns=frozenset({"date", "account_name", "total", "bcy_total", "reference_number", "customer_name",
                            "created_time"}),
    default_sort="created_time",
)


def list_expenses(call: Call) -> Reply:
    page = filters.run(LIST, list(call.org.expenses.values()), call.query)
    return Reply(200, "success", "expenses", page.rows, page.page_context)


def get_expense(call: Call) -> Reply:
    expense = existing(call.org.expenses, call.params["expense_id"], "Expense")
    return Reply(200, "success", "expense", public(expense))


def create_expense(call: Call) -> Reply:
    store = call.org
    body = call.data
    account_id = fields.ident(body, "account_id", need=True)
    expense_date = fields.day(body, "date", need=True)
    amount = fields.number(body, "amount", need=True, positive=True)
    paid_through_id = fields.ident(body, "paid_through_account_id", need=True)
    assert account_id and expense_date and amount is not None and paid_through_id
    account = account_ref(store, account_id, "account_id", EXPENSE_ACCOUNT_TYPES)
    paid_through = account_ref(store, paid_through_id, "paid_through_account_id", PAID_THROUGH_TYPES)
    billable = bool(fields.boolean(body, "is_billable"))
    customer_id = fields.ident(body, "customer_id")
    customer = contact_ref(store, customer_id, "customer_id", "customer") if customer_id else None
    if billable and customer is None:
        raise required("customer_id")  # a billable expense is billed to someone
    vendor_id = fields.ident(body, "vendor_id")
    vendor = contact_ref(store, vendor_id, "vendor_id", "vendor") if vendor_id else None
    tax_id = fields.ident(body, "tax_id")
    tax = taxes.find(store, tax_id, "tax_id") if tax_id else None
    inclusive = bool(fields.boolean(body, "is_inclusive_tax"))
    currency_id = fields.ident(body, "currency_id")
    if currency_id is not None and currency_id != store.organization.currency_id:
        raise invalid_value("currency_id")
    amount = fields.money(amount)
    rate = fields.dec(tax["tax_percentage"]) if tax else None
    [tax_amount] = taxes.line_taxes([fields.dec(amount)], [rate], discount=fields.dec(0), before_tax=True,
                                    inclusive=inclusive)
    total = fields.money(fields.dec(amount) + (0 if inclusive else tax_amount))
    now = store.timestamp()
    org = store.organization
    record: Record = {
        "expense_id": store.new_id(),
        "transaction_type": "expense",
        "date": expense_date,
        "account_id": account_id,
        "account_name": account["account_name"],
        "paid_through_account_id": paid_through_id,
        "paid_through_account_name": paid_through["account_name"],
        "amount": amount,
        "sub_total": fields.money(fields.dec(total) - tax_amount),
        "total": total,
        "bcy_total": total,
        "tax_id": tax["tax_id"] if tax else "",
        "tax_name": tax["tax_name"] if tax else "",
        "tax_percentage": tax["tax_percentage"] if tax else 0,
        "tax_amount": fields.money(tax_amount),
        "is_inclusive_tax": inclusive,
        "currency_id": org.currency_id,
        "currency_code": org.currency_code,
        "exchange_rate": fields.number(body, "exchange_rate", positive=True) or 1.0,
        "description": fields.text(body, "description", max_len=500) or "",
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "is_billable": billable,
        "is_personal": False,
        "customer_id": customer_id or "",
        "customer_name": customer["contact_name"] if customer else "",
        "vendor_id": vendor_id or "",
        "vendor_name": vendor["contact_name"] if vendor else "",
        "status": "unbilled" if billable else "nonbillable",
        "invoice_id": "",
        "invoice_number": "",
        "mileage_type": "non_mileage",
        "expense_type": "non-mileage",
        "created_time": now,
        "last_modified_time": now,
    }
    store.add("expenses", record["expense_id"], record)
    # §2: the OAS says 200 for this create; 201 like every other create is the norm (§10.5).
    return Reply(201, "The expense has been recorded.", "expense", public(record))
