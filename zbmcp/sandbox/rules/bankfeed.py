"""Bank transactions (bank-transactions.yml, banking scope): each bank and card account's feed, and the
transactions recorded in it by hand.

A statement line (seeded, or imported with POST /bankstatements) is `uncategorized` and in no books until it
is categorized (rules/bankcategorize.py) or matched (rules/bankmatch.py); it can be `excluded` and restored.
`debit_or_credit` reads from the account's side: `debit` is money in (a deposit, a payment to a card),
`credit` money out (a withdrawal, a card charge).

A transaction that posts by itself (POST /banktransactions, `manually_added`, or a statement line categorized
as a deposit, transfer, owner's contribution...) moves `amount` from `from_account_id` to `to_account_id`:
the books debit the one and credit the other (ledger.py). A line categorized as an expense or a payment, or
matched, posts nothing of its own: the expense or payment it made or found does.

Types and what the other account must be (money in: into the bank or card account; out: from it):

    deposit                   in    an asset account (cash, bank, other current asset...)
    transfer_fund             either  another bank, card or cash account
    card_payment              in to a card from a bank or cash account; out of a bank to a card
    owner_contribution        in    an equity account          owner_drawings   out   an equity account
    interest_income, other_income, sales_without_invoices    in    an income account
    expense_refund, refund (cards only)                       in    an expense account
    sales_return              out   an income account
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import invalid_value, not_found, rule
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.rules import accounts
from zbmcp.sandbox.rules.base import Call, Reply, account_ref
from zbmcp.sandbox.store import OrgStore, Record, public

FEED_TYPES = accounts.BANK_TYPES
MONEY = frozenset({"bank", "credit_card", "cash"})
STATUSES = ("uncategorized", "categorized", "matched", "excluded", "manually_added")
IN, OUT = "debit", "credit"
STATEMENTS = "/bankaccounts/{}/statement"  # the generic resource of imported statements


@dataclass(frozen=True)
class Kind:
    sides: tuple[str, ...]  # IN, OUT or both: which way money moves for the feed's account
    other: frozenset[str]  # the other account's types
    feed: frozenset[str] = FEED_TYPES  # the feed account's types


KINDS: dict[str, Kind] = {
    "deposit": Kind((IN,), accounts.ASSET - {"accounts_receivable"}),
    "transfer_fund": Kind((IN, OUT), MONEY),
    "card_payment": Kind((IN, OUT), MONEY),
    "owner_contribution": Kind((IN,), accounts.EQUITY),
    "owner_drawings": Kind((OUT,), accounts.EQUITY),
    "interest_income": Kind((IN,), accounts.INCOME),
    "other_income": Kind((IN,), accounts.INCOME),
    "sales_without_invoices": Kind((IN,), accounts.INCOME),
    "expense_refund": Kind((IN,), accounts.EXPENSE),
    "refund": Kind((IN,), accounts.EXPENSE, frozenset({"credit_card"})),
    "sales_return": Kind((OUT,), accounts.INCOME),
}


def _status_is(status: str) -> Predicate:
    return lambda record: record["status"] == status


LIST = ListSpec(
    key="banktransactions",
    report_name="Bank Transactions",
    fields={
        "account_id": Filterable("id", lambda r: [r["account_id"], r["from_account_id"], r["to_account_id"]]),
        "transaction_type": Filterable("exact"),
        "reference_number": Filterable("text"),
        "amount": Filterable("number"),
        "date": Filterable("date"),
        "customer_id": Filterable("id"),
    },
    statuses={status: _status_is(status) for status in STATUSES} | {"All": lambda r: True,
                                                                   "all": lambda r: True},
    filter_by={"Status.All": lambda r: True, "Status.Uncategorized": _status_is("uncategorized"),
               "Status.Categorized": lambda r: r["status"] in ("categorized", "manually_added", "matched"),
               "Status.ManuallyAdded": _status_is("manually_added"),
               "Status.Excluded": _status_is("excluded"), "Status.Matched": _status_is("matched")},
    search=("payee", "description", "reference_number"),
    sort_columns=frozenset({"date", "amount", "created_time"}),
    default_sort="date",
)


def refresh(store: OrgStore) -> None:
    """A line whose payment or expense was deleted elsewhere is uncategorized again, as in Zoho."""
    for line in store.banktransactions.values():
        if line["_links"] and not all(found(store, link) for link in line["_links"]):
            for link in line["_created"]:
                if found(store, link):
                    store.collection(link[0]).pop(link[1])
            reset(line)


def found(store: OrgStore, link: tuple[str, str]) -> Record | None:
    return store.collection(link[0]).get(link[1])


def reset(line: Record) -> None:
    """Back to an uncategorized statement line."""
    line.update(status="uncategorized", transaction_type="deposit" if line["debit_or_credit"] == IN
                else "withdrawal", offset_account_name="", from_account_id="", from_account_name="",
                to_account_id="", to_account_name="", _posts=False, _links=[], _created=[])


def list_transactions(call: Call) -> Reply:
    refresh(call.org)
    query = dict(call.query)
    if query.get("transaction_status") and not query.get("status"):
        query["status"] = query["transaction_status"]
    page = filters.run(LIST, list(call.org.banktransactions.values()), query)
    return Reply(200, "success", "banktransactions", page.rows, page.page_context)


def line_of(call: Call, param: str = "transaction_id") -> Record:
    refresh(call.org)
    line = call.org.banktransactions.get(call.params.get(param) or call.params["bank_transaction_id"])
    if line is None:
        raise not_found("Transaction")
    return line


def get_transaction(call: Call) -> Reply:
    return Reply(200, "success", "banktransaction", public(line_of(call, "bank_transaction_id")))


def create_transaction(call: Call) -> Reply:
    store = call.org
    record = manual(store, call.data, None)
    store.add("banktransactions", record["transaction_id"], record)
    return Reply(201, "The bank transaction has been recorded.", "banktransaction", public(record))


def update_transaction(call: Call) -> Reply:
    line = line_of(call, "bank_transaction_id")
    if line["source"] != "manually_added":
        raise rule("Only a transaction added by hand can be edited: uncategorize or unmatch a statement line "
                   "and categorize it again.")
    record = manual(call.org, call.data, line)
    call.org.banktransactions[line["transaction_id"]] = record
    return Reply(200, "The bank transaction has been updated.", "banktransaction", public(record))


def delete_transaction(call: Call) -> Reply:
    line = line_of(call, "bank_transaction_id")
    if line["status"] in ("categorized", "matched"):
        raise rule(f"A {line['status']} statement line cannot be deleted: "
                   f"{'uncategorize' if line['status'] == 'categorized' else 'unmatch'} it first.")
    del call.org.banktransactions[line["transaction_id"]]
    return Reply(200, "The transaction has been deleted.")


def exclude(call: Call) -> Reply:
    line = line_of(call)
    if line["status"] != "uncategorized":
        raise rule(f"Only an uncategorized statement line can be excluded; this one is {line['status']}.")
    line["status"] = "excluded"
    line["last_modified_time"] = call.org.timestamp()
    return Reply(201, "The transaction has been excluded.")


def restore(call: Call) -> Reply:
    line = line_of(call)
    if line["status"] != "excluded":
        raise rule(f"Only an excluded statement line can be restored; this one is {line['status']}.")
    line["status"] = "uncategorized"
    line["last_modified_time"] = call.org.timestamp()
    return Reply(201, "The excluded transaction(s) have been restored.")


def manual(store: OrgStore, body: dict[str, Any], current: Record | None) -> Record:
    """A transaction recorded by hand: `from_account_id` and `to_account_id`, one of them a bank or card
    account, both checked against the type's rules."""
    kind_name = fields.text(body, "transaction_type", need=True)
    amount = fields.number(body, "amount", need=True, positive=True)
    assert kind_name and amount is not None
    from_id = fields.ident(body, "from_account_id", need=True)
    to_id = fields.ident(body, "to_account_id", need=True)
    assert from_id and to_id
    source = account_ref(store, from_id, "from_account_id")
    target = account_ref(store, to_id, "to_account_id")
    feed, side = (target, IN) if target["account_type"] in FEED_TYPES else (source, OUT)
    other = source if side == IN else target
    check_kind(kind_name, feed, side, other, "from_account_id" if side == IN else "to_account_id")
    record = line_record(store, feed, fields.day(body, "date") or store.today().isoformat(),
                         fields.money(amount), side, body)
    record.update(status="manually_added", source="manually_added", transaction_type=kind_name)
    posting(record, kind_name, source, target)
    if current is not None:
        record.update(transaction_id=current["transaction_id"], created_time=current["created_time"])
    return record


def check_kind(kind_name: str, feed: Record, side: str, other: Record, other_field: str) -> Kind:
    """The type exists, money moves its way for the feed's account, and the other account is of its kind."""
    kind = KINDS.get(kind_name)
    if kind is None or side not in kind.sides or feed["account_type"] not in kind.feed:
        raise invalid_value("transaction_type")
    if other["account_id"] == feed["account_id"] or other["account_type"] not in kind.other:
        raise invalid_value(other_field)
    if kind_name == "card_payment" and "credit_card" not in (feed["account_type"], other["account_type"]):
        raise invalid_value(other_field)  # a card payment pays a card
    return kind


def posting(line: Record, kind_name: str, source: Record, target: Record) -> None:
    """The line posts by itself: `amount` from `source` to `target`."""
    line.update(transaction_type=kind_name, from_account_id=source["account_id"],
                from_account_name=source["account_name"], to_account_id=target["account_id"],
                to_account_name=target["account_name"], _posts=True,
                offset_account_name=(source if line["debit_or_credit"] == IN else target)["account_name"])


def line_record(store: OrgStore, account: Record, day: str, amount: float, side: str,
                body: dict[str, Any]) -> Record:
    customer_id = fields.ident(body, "customer_id")
    contact = None
    if customer_id is not None:
        contact = store.contacts.get(customer_id)
        if contact is None:
            raise invalid_value("customer_id")
    org = store.organization
    now = store.timestamp()
    line: Record = {
        "transaction_id": store.new_id(),
        "account_id": account["account_id"],
        "account_name": account["account_name"],
        "account_type": account["account_type"],
        "date": day,
        "amount": amount,
        "debit_or_credit": side,
        "status": "uncategorized",
        "source": "statement",
        "payee": fields.text(body, "payee", max_len=100) or (contact["contact_name"] if contact else ""),
        "description": fields.text(body, "description", max_len=500) or "",
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "imported_transaction_id": "",
        "customer_id": customer_id or "",
        "currency_id": org.currency_id,
        "currency_code": org.currency_code,
        "currency_symbol": org.currency_symbol,
        "price_precision": 2,
        "created_time": now,
        "last_modified_time": now,
    }
    reset(line)
    return line


def import_statement(call: Call) -> Reply:
    """POST /bankstatements: each line of the statement joins the account's feed, uncategorized."""
    store = call.org
    body = call.data
    account_id = fields.ident(body, "account_id", need=True)
    assert account_id
    account = account_ref(store, account_id, "account_id", FEED_TYPES)
    entries = fields.objects(body, "transactions", need=True, non_empty=True)
    assert entries is not None
    lines = []
    for index, entry in enumerate(entries):
        path = f"transactions[{index}]"
        day = fields.day(entry, "date", path=f"{path}.date", need=True)
        side = fields.text(entry, "debit_or_credit", path=f"{path}.debit_or_credit", need=True)
        amount = fields.number(entry, "amount", path=f"{path}.amount", need=True, positive=True)
        assert day and side and amount is not None
        if side not in (IN, OUT):
            raise invalid_value(f"{path}.debit_or_credit")
        described: dict[str, Any] = {key: entry[key] for key in ("payee", "description", "reference_number")
                                     if key in entry}
        line = line_record(store, account, day, fields.money(amount), side, described)
        line["imported_transaction_id"] = fields.text(entry, "transaction_id", path=f"{path}.transaction_id",
                                                      max_len=100) or ""
        lines.append(line)
    for line in lines:
        store.add("banktransactions", line["transaction_id"], line)
    # kept where the generic GET .../statement/lastimported finds it
    days = sorted(line["date"] for line in lines)
    now = store.timestamp()
    statement_id = store.new_id()
    store.add_generic(STATEMENTS, statement_id, {
        "statement_id": statement_id, "account_id": account_id,
        "from_date": fields.day(body, "start_date") or days[0],
        "to_date": fields.day(body, "end_date") or days[-1],
        "transactions": [line["transaction_id"] for line in lines], "created_time": now,
        "last_modified_time": now, "_parents": [account_id]})
    return Reply(201, "Your bank statement has been imported.")


def feed_account(store: OrgStore, line: Record) -> Record:
    return store.accounts[line["account_id"]]


def need_amount(body: dict[str, Any], line: Record, name: str = "amount") -> float:
    """A categorization's amount: the line's, and if sent it must be the line's."""
    amount = fields.number(body, name, positive=True)
    if amount is not None and fields.money(amount) != line["amount"]:
        raise rule(f"The amount {fields.money(amount):.2f} is not the statement line's {line['amount']:.2f}: "
                   "a statement line is categorized whole.")
    return float(line["amount"])


def uncategorized(line: Record) -> None:
    if line["status"] != "uncategorized":
        raise rule(f"This statement line is {line['status']}; only an uncategorized one can be categorized "
                   "or matched.")

