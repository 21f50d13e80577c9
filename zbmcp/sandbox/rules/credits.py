"""What credit notes (credit-notes.yml) and vendor credits (vendor-credits.yml) share: a document that lowers
what a customer owes (or what is owed to a vendor), applied to invoices (bills) or refunded.

A credit is created `open` (`draft` with is_draft; `/status/open`, `/status/void`, `/status/draft` move it)
and is `closed` once nothing is left. Its balance is its total less what it was applied and refunded.
Applying it lowers the invoice's (bill's) balance, as a payment does, and moves no money; refunding it pays
the difference out of (into) an account. Refused, with nothing changed: applying or refunding more than the
credit's balance, more than an invoice's balance (24016), to another contact's invoice (3004), to a draft or
void one, or from a credit that is not open.

The books (ledger.py): an open or closed credit note credits Accounts Receivable with its total and debits
what an invoice would credit (its lines' accounts net of tax, Tax Payable, ...); a vendor credit the reverse
of a bill. A refund debits Accounts Receivable (credits Accounts Payable) against the account the money moves
through.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import ZohoError, invalid_value, not_found, rule
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.rules import documents
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, existing
from zbmcp.sandbox.rules.documents import DocSpec
from zbmcp.sandbox.rules.expenses import PAID_THROUGH_TYPES
from zbmcp.sandbox.store import OrgStore, Record, public

ZERO = Decimal(0)
LIVE = ("open", "closed")


@dataclass(frozen=True)
class CreditSpec:
    doc: DocSpec  # the credit document itself
    key: str  # "creditnote": the answer's key
    target: str  # "invoices"
    target_id: str  # "invoice_id"
    target_number: str  # "invoice_number"
    target_thing: str  # "Invoice"
    settle: Callable[[Record], None]  # recomputes the target's balance
    refunds: str  # the refunds' collection
    refund_id: str  # "creditnote_refund_id"
    refund_key: str  # "creditnote_refund"
    refund_account: str  # the body field naming where a refund's money moves through
    application_id: str  # "creditnote_invoice_id": an application's id
    messages: dict[str, str]


def _is(status: str) -> Predicate:
    return lambda record: record["status"] == status


def list_spec(spec: CreditSpec) -> ListSpec:
    doc = spec.doc
    return ListSpec(
        key=f"{spec.doc.collection}",
        report_name=spec.doc.thing + "s",
        fields={doc.number_field: Filterable("text"), "reference_number": Filterable("text"),
                f"{doc.party}_name": Filterable("text"), doc.party_field: Filterable("id"),
                "total": Filterable("number"), "date": Filterable("date")},
        statuses={status: _is(status) for status in ("draft", "open", "closed", "void")},
        filter_by={"Status.All": lambda r: True} | {f"Status.{s.title()}": _is(s)
                                                    for s in ("draft", "open", "closed", "void")},
        search=(doc.number_field, "reference_number", f"{doc.party}_name"),
        sort_columns=frozenset({doc.number_field, "date", "total", "balance", f"{doc.party}_name",
                                "created_time"}),
        default_sort="created_time",
        row_exclude=frozenset({"line_items", "taxes", "notes", "terms", "billing_address", "shipping_address",
                               "invoices_credited", "bills_credited", "refunds"}),
    )


def settle(store: OrgStore, spec: CreditSpec, credit: Record) -> None:
    _settle(store, spec.refunds, credit, credit[spec.doc.id_field])


def release(store: OrgStore, collection: str, refunds: str, id_field: str, target_id: str) -> None:
    """A voided invoice (bill) gives back what credits were applied to it."""
    for credit in store.collection(collection).values():
        gone = [app_id for app_id, entry in credit["_applied"].items() if entry["target"] == target_id]
        for app_id in gone:
            del credit["_applied"][app_id]
        if gone:
            _settle(store, refunds, credit, credit[id_field])


def _settle(store: OrgStore, refunds: str, credit: Record, credit_id: str) -> None:
    """Its balance from what was applied and refunded; `closed` once nothing is left."""
    applied = sum((fields.dec(entry["amount_applied"]) for entry in credit["_applied"].values()), ZERO)
    refunded = sum((fields.dec(refund["amount"]) for refund in store.collection(refunds).values()
                    if refund["_credit"] == credit_id), ZERO)
    credit["total_credits_used"] = fields.money(applied)
    credit["total_refunded_amount"] = fields.money(refunded)
    credit["balance"] = fields.money(fields.dec(credit["total"]) - applied - refunded)
    if credit["status"] in LIVE:
        credit["status"] = "closed" if credit["balance"] <= 0 else "open"


def present(store: OrgStore, spec: CreditSpec, credit: Record) -> Record:
    shown = copy.deepcopy(credit)
    shown[f"{spec.target}_credited"] = [_application(spec, app_id, entry)
                                        for app_id, entry in credit["_applied"].items()]
    return shown


def _application(spec: CreditSpec, app_id: str, entry: Record) -> Record:
    return {spec.application_id: app_id,
            spec.target_id: entry["target"], spec.target_number: entry["number"], "date": entry["date"],
            "amount_applied": entry["amount_applied"]}


def list_credits(spec: CreditSpec, call: Call) -> Reply:
    kept = call.org.collection(spec.doc.collection).values()
    records = [present(call.org, spec, credit) for credit in kept]
    page = filters.run(list_spec(spec), records, call.query)
    return Reply(200, "success", spec.doc.collection, page.rows, page.page_context)


def get_credit(spec: CreditSpec, call: Call) -> Reply:
    credit = _credit(spec, call)
    return Reply(200, "success", spec.key, public(present(call.org, spec, credit)))


def create_credit(spec: CreditSpec, call: Call) -> Reply:
    store = call.org
    record, _ = documents.build(spec.doc, call, None)
    draft = bool(fields.boolean(call.data, "is_draft"))
    record.update(status="draft" if draft else "open", _applied={})
    settle(store, spec, record)
    store.add(spec.doc.collection, record[spec.doc.id_field], record)
    return Reply(201, spec.messages["created"], spec.key, public(present(store, spec, record)))


def update_credit(spec: CreditSpec, call: Call) -> Reply:
    store = call.org
    current = _credit(spec, call)
    record, _ = documents.build(spec.doc, call, current)
    record.update(status=current["status"], _applied=current["_applied"], _seq=current["_seq"])
    settle(store, spec, record)
    if record["balance"] < 0:
        raise rule(f"The {spec.doc.thing.lower()}'s total cannot be less than what was applied and refunded.")
    store.collection(spec.doc.collection)[record[spec.doc.id_field]] = record
    return Reply(200, spec.messages["updated"], spec.key, public(present(store, spec, record)))


def delete_credit(spec: CreditSpec, call: Call) -> Reply:
    store = call.org
    credit = _credit(spec, call)
    _unused(store, spec, credit, "deleted")
    del store.collection(spec.doc.collection)[credit[spec.doc.id_field]]
    return Reply(200, spec.messages["deleted"])


def mark(spec: CreditSpec, call: Call, status: str) -> Reply:
    store = call.org
    credit = _credit(spec, call)
    allowed = {"open": ("draft",), "void": ("draft", "open", "closed"), "draft": ("void",)}[status]
    if credit["status"] not in allowed:
        article = "An" if credit["status"][0] in "aeiou" else "A"
        raise rule(f"{article} {credit['status']} {spec.doc.thing.lower()} cannot be marked {status}.")
    if status == "void":
        _unused(store, spec, credit, "voided")
    credit["status"] = "open" if status == "open" else status
    credit["last_modified_time"] = store.timestamp()
    settle(store, spec, credit)
    return Reply(int(spec.messages.get(f"{status}_code", "200")), spec.messages[status])


def _unused(store: OrgStore, spec: CreditSpec, credit: Record, what: str) -> None:
    if credit["_applied"] or fields.dec(credit["total_refunded_amount"]):
        raise rule(f"A {spec.doc.thing.lower()} that has been applied or refunded cannot be {what}: remove "
                   "its applications and refunds first.")


def _credit(spec: CreditSpec, call: Call) -> Record:
    return existing(call.org.collection(spec.doc.collection), call.params[spec.doc.id_field], spec.doc.thing)


# -- applying ------------------------------------------------------------------------------------------------

def apply(spec: CreditSpec, store: OrgStore, credit: Record, entries: list[dict[str, Any]], path: str,
          day: str | None = None) -> None:
    """Apply the credit to the targets named, all or none."""
    if credit["status"] != "open":
        raise rule(f"Only an open {spec.doc.thing.lower()} can be applied; this one is {credit['status']}.")
    shares: dict[str, Decimal] = {}
    for index, entry in enumerate(entries):
        where = f"{path}[{index}]"
        target_id = fields.ident(entry, spec.target_id, path=f"{where}.{spec.target_id}", need=True)
        amount = fields.number(entry, "amount_applied", path=f"{where}.amount_applied", need=True,
                               positive=True)
        assert target_id and amount is not None
        target = check_target(spec, store, credit[spec.doc.party_field], target_id,
                              f"{where}.{spec.target_id}")
        shares[target_id] = shares.get(target_id, ZERO) + fields.dec(fields.money(amount))
        if shares[target_id] > fields.dec(target["balance"]):
            raise ZohoError(400, 24016, f"The amount entered is more than the balance due for this "
                                        f"{spec.target_thing.lower()}.")
    total = sum(shares.values(), ZERO)
    if total > fields.dec(credit["balance"]):
        raise rule(f"The amount applied ({total:.2f}) is more than the {spec.doc.thing.lower()}'s balance "
                   f"({credit['balance']:.2f}).")
    for target_id, share in shares.items():
        target = store.collection(spec.target)[target_id]
        app_id = store.new_id()
        credit["_applied"][app_id] = {"target": target_id, "number": target[spec.target_number],
                                      "date": day or store.today().isoformat(),
                                      "amount_applied": fields.money(share)}
        target.setdefault("_credits", {})[app_id] = fields.money(share)
        target["last_modified_time"] = store.timestamp()
        spec.settle(target)
    settle(store, spec, credit)


def check_target(spec: CreditSpec, store: OrgStore, party_id: str, target_id: str, field: str) -> Record:
    target = store.collection(spec.target).get(target_id)
    if target is None:
        raise invalid_value(field)
    if target[spec.doc.party_field] != party_id:
        raise ZohoError(400, 3004, f"{spec.target_thing} {target[spec.target_number]} does not belong to "
                                   f"the {spec.doc.party} {store.contacts[party_id]['contact_name']}.")
    if target["status"] in ("draft", "void"):
        raise rule(f"Credits cannot be applied to the {target['status']} {spec.target_thing.lower()} "
                   f"{target[spec.target_number]}.")
    return target


def apply_to_targets(spec: CreditSpec, call: Call) -> Reply:
    """POST /creditnotes/{id}/invoices: `invoices: [{invoice_id, amount_applied}]` (or one at the top)."""
    store = call.org
    credit = _credit(spec, call)
    body = call.data
    key = spec.target
    entries = fields.objects(body, key)
    if entries is None:
        entries = [{spec.target_id: body.get(spec.target_id), "amount_applied": body.get("amount_applied")}]
        key = spec.target
    if not entries:
        raise invalid_value(key)
    apply(spec, store, credit, entries, key)
    rows = [_application(spec, app_id, entry) for app_id, entry in credit["_applied"].items()]
    answer_key = spec.messages.get("applied_key")
    return Reply(int(spec.messages.get("applied_code", "200")), spec.messages["applied"], answer_key,
                 rows if answer_key else None)


def list_applied(spec: CreditSpec, call: Call) -> Reply:
    credit = _credit(spec, call)
    rows = [_application(spec, app_id, entry) for app_id, entry in credit["_applied"].items()]
    return Reply(200, "success", f"{spec.target}_credited", rows)


def remove_application(spec: CreditSpec, store: OrgStore, credit: Record, app_id: str) -> None:
    entry = credit["_applied"].pop(app_id, None)
    if entry is None:
        raise not_found("Credit applied")
    target = store.collection(spec.target).get(entry["target"])
    if target is not None:
        target.get("_credits", {}).pop(app_id, None)
        spec.settle(target)
    settle(store, spec, credit)


def unapply(spec: CreditSpec, call: Call, param: str) -> Reply:
    credit = _credit(spec, call)
    remove_application(spec, call.org, credit, call.params[param])
    return Reply(200, spec.messages["unapplied"])


# -- refunds -------------------------------------------------------------------------------------------------

def create_refund(spec: CreditSpec, call: Call) -> Reply:
    store = call.org
    credit = _credit(spec, call)
    body = call.data
    if credit["status"] != "open":
        raise rule(f"Only an open {spec.doc.thing.lower()} can be refunded; this one is {credit['status']}.")
    amount = fields.number(body, "amount", need=True, positive=True)
    day = fields.day(body, "date", need=True)
    account_id = fields.ident(body, spec.refund_account, need=True)
    assert amount is not None and day and account_id
    account = account_ref(store, account_id, spec.refund_account, PAID_THROUGH_TYPES)
    amount = fields.money(amount)
    if fields.dec(amount) > fields.dec(credit["balance"]):
        raise rule(f"The refund ({amount:.2f}) is more than the {spec.doc.thing.lower()}'s balance "
                   f"({credit['balance']:.2f}).")
    refund_id = store.new_id()
    now = store.timestamp()
    refund: Record = {
        spec.refund_id: refund_id, spec.doc.id_field: credit[spec.doc.id_field],
        spec.doc.number_field: credit[spec.doc.number_field], "date": day, "amount": amount,
        "refund_mode": fields.text(body, "refund_mode", max_len=100) or "cash",
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "description": fields.text(body, "description", max_len=500) or "",
        "account_id": account_id, "account_name": account["account_name"],
        f"{spec.doc.party}_name": credit[f"{spec.doc.party}_name"], "created_time": now,
        "last_modified_time": now, "_credit": credit[spec.doc.id_field],
    }
    store.add(spec.refunds, refund_id, refund)
    settle(store, spec, credit)
    return Reply(int(spec.messages.get("refunded_code", "200")), spec.messages["refunded"], spec.refund_key,
                 public(refund))


def list_refunds(spec: CreditSpec, call: Call, *, all_credits: bool = False) -> Reply:
    credit_id = None if all_credits else _credit(spec, call)[spec.doc.id_field]
    rows = [public(refund) for refund in call.org.collection(spec.refunds).values()
            if credit_id is None or refund["_credit"] == credit_id]
    context = {"page": 1, "per_page": 200, "has_more_page": False}
    return Reply(200, spec.messages["refunds"] if not all_credits else spec.messages["all_refunds"],
                 f"{spec.refund_key}s", rows, context)


def _refund(spec: CreditSpec, call: Call) -> tuple[Record, Record]:
    credit = _credit(spec, call)
    refund = call.org.collection(spec.refunds).get(call.params[spec.refund_id])
    if refund is None or refund["_credit"] != credit[spec.doc.id_field]:
        raise not_found("Refund")
    return credit, refund


def get_refund(spec: CreditSpec, call: Call) -> Reply:
    _, refund = _refund(spec, call)
    return Reply(200, spec.messages["refund"], spec.refund_key, public(refund))


def delete_refund(spec: CreditSpec, call: Call) -> Reply:
    credit, refund = _refund(spec, call)
    del call.org.collection(spec.refunds)[refund[spec.refund_id]]
    settle(call.org, spec, credit)
    return Reply(200, "The refund has been successfully deleted.")
