"""Manual journals (journals.yml, accountants scope): an accountant's own debits and credits.

A journal is refused unless its debits equal its credits once each line is rounded to the currency's
precision (2 places), and nothing is stored. A published journal is in the books (ledger.py), each line on its
account; a draft is not, until POST /journals/{id}/status/publish. `journal_type` "cash" keeps a journal out
of accrual reports, as Zoho's does ("both", the default, is in every report). Created published unless the
body says `status: "draft"`.

Zoho documents no code or wording for an unbalanced journal: the refusal is the sandbox's own (code 9999),
naming both totals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import invalid_value, required, rule
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.rules import reports
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, existing
from zbmcp.sandbox.store import OrgStore, Record, public

ZERO = Decimal(0)
SIDES = ("debit", "credit")
TYPES = ("both", "cash")
STATUSES = ("draft", "published")
_PERIODS = ("Today", "ThisWeek", "ThisMonth", "ThisQuarter", "ThisYear")


def _contacts(record: Record) -> list[str]:
    return [line["customer_id"] for line in record["line_items"] if line["customer_id"]]


def _status_is(status: str) -> Predicate:
    return lambda record: record["status"] == status


def _within(store: OrgStore, period: str) -> Predicate:
    _, start, end = reports.period(f"TransactionDate.{period}", {}, store.today())
    return lambda record: start.isoformat() <= record["journal_date"] <= end.isoformat()


def _list_spec(store: OrgStore) -> ListSpec:
    return ListSpec(
        key="journals",
        report_name="Manual Journals",
        fields={
            "entry_number": Filterable("text"),
            "reference_number": Filterable("text"),
            "notes": Filterable("text"),
            "customer_id": Filterable("id", _contacts),
            "vendor_id": Filterable("id", _contacts),
            "total": Filterable("number"),
            "date": Filterable("date", lambda r: r["journal_date"]),
            "last_modified_time": Filterable("date"),
        },
        statuses={status: _status_is(status) for status in STATUSES},
        filter_by={"JournalDate.All": lambda r: True}
        | {f"JournalDate.{period}": _within(store, period) for period in _PERIODS},
        default_filter="JournalDate.All",
        search=("entry_number", "reference_number", "notes"),
        sort_columns=frozenset({"journal_date", "entry_number", "reference_number", "total", "created_time"}),
        default_sort="journal_date",
        row_exclude=frozenset({"line_items", "taxes", "custom_fields", "price_precision", "line_item_total",
                               "currency_symbol", "exchange_rate"}),
    )


def list_journals(call: Call) -> Reply:
    page = filters.run(_list_spec(call.org), list(call.org.journals.values()), call.query)
    return Reply(200, "success", "journals", page.rows, page.page_context)


def get_journal(call: Call) -> Reply:
    journal = existing(call.org.journals, call.params["journal_id"], "Journal")
    return Reply(200, "success", "journal", public(journal))


def create_journal(call: Call) -> Reply:
    store = call.org
    record = build(store, call.data, None)
    store.add("journals", record["journal_id"], record)
    return Reply(201, "The journal entry has been created.", "journal", public(record))


def update_journal(call: Call) -> Reply:
    store = call.org
    current = existing(store.journals, call.params["journal_id"], "Journal")
    record = build(store, call.data, current)
    store.journals[record["journal_id"]] = record
    return Reply(200, "The journal entry has been updated.", "journal", public(record))


def delete_journal(call: Call) -> Reply:
    journal = existing(call.org.journals, call.params["journal_id"], "Journal")
    del call.org.journals[journal["journal_id"]]
    return Reply(200, "The selected journal entry has been deleted.")


def publish_journal(call: Call) -> Reply:
    journal = existing(call.org.journals, call.params["journal_id"], "Journal")
    journal["status"] = "published"
    journal["last_modified_time"] = call.org.timestamp()
    # journals.yml answers this action 201
    return Reply(201, "Journal has been published.")


def build(store: OrgStore, body: dict[str, Any], current: Record | None) -> Record:
    """The journal the body describes, validated whole; nothing is stored."""
    journal_date = fields.day(body, "journal_date", need=True)
    raw_lines = fields.objects(body, "line_items", need=True, non_empty=True)
    assert journal_date and raw_lines is not None
    lines = [_line(store, raw, index) for index, raw in enumerate(raw_lines)]
    debits = sum((fields.dec(line["amount"]) for line in lines if line["debit_or_credit"] == "debit"), ZERO)
    credits = sum((fields.dec(line["amount"]) for line in lines if line["debit_or_credit"] == "credit"), ZERO)
    if debits != credits:
        raise rule(f"The journal does not balance: debits total {debits:.2f} and credits total "
                   f"{credits:.2f}. Make them equal.")
    journal_type = fields.choice(body, "journal_type", TYPES, default=current["journal_type"] if current
                                 else "both")
    status = fields.choice(body, "status", STATUSES, default=current["status"] if current else "published")
    currency_id = fields.ident(body, "currency_id")
    if currency_id is not None and currency_id != store.organization.currency_id:
        raise invalid_value("currency_id")  # one currency per organization
    org = store.organization
    now = store.timestamp()
    journal_id = current["journal_id"] if current else store.new_id()
    taken = (journal["entry_number"] for journal in store.journals.values())
    return {
        "journal_id": journal_id,
        "entry_number": current["entry_number"] if current else store.next_number("journal", taken),
        "journal_date": journal_date,
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "notes": fields.text(body, "notes", max_len=500) or "",
        "journal_type": journal_type,
        "entity_type": "journal",
        "status": status,
        "currency_id": org.currency_id,
        "currency_code": org.currency_code,
        "currency_symbol": org.currency_symbol,
        "exchange_rate": 1.0,
        "line_items": lines,
        "line_item_total": fields.money(debits),
        "total": fields.money(debits),
        "bcy_total": fields.money(debits),
        "price_precision": 2,
        "taxes": [],
        "custom_fields": fields.objects(body, "custom_fields") or [],
        "created_time": current["created_time"] if current else now,
        "last_modified_time": now,
    }


def _line(store: OrgStore, raw: dict[str, Any], index: int) -> Record:
    path = f"line_items[{index}]"
    account_id = fields.ident(raw, "account_id", path=f"{path}.account_id", need=True)
    side = fields.text(raw, "debit_or_credit", path=f"{path}.debit_or_credit", need=True)
    amount = fields.number(raw, "amount", path=f"{path}.amount", need=True, positive=True)
    assert account_id and side and amount is not None
    if side not in SIDES:
        raise invalid_value(f"{path}.debit_or_credit")
    account = account_ref(store, account_id, f"{path}.account_id")
    contact_id = fields.ident(raw, "customer_id", path=f"{path}.customer_id")
    contact = store.contacts.get(contact_id) if contact_id else None
    if contact_id and contact is None:
        raise invalid_value(f"{path}.customer_id")
    if fields.text(raw, "tax_id", path=f"{path}.tax_id"):
        raise invalid_value(f"{path}.tax_id")  # the sandbox's journals carry no tax
    rounded = fields.money(amount)
    if rounded == 0:
        raise invalid_value(f"{path}.amount")  # nothing left at the currency's precision
    if account["account_type"] in ("accounts_receivable", "accounts_payable") and contact is None:
        raise required(f"{path}.customer_id")  # a receivable or payable is someone's
    return {
        "line_id": store.new_id(),
        "account_id": account_id,
        "account_name": account["account_name"],
        "customer_id": contact_id or "",
        "customer_name": contact["contact_name"] if contact else "",
        "description": fields.text(raw, "description", path=f"{path}.description", max_len=500) or "",
        "debit_or_credit": side,
        "amount": rounded,
        "bcy_amount": rounded,
        "tax_id": "",
        "tax_name": "",
    }
