"""The books a report reads: accrual, or cash basis with `cash_based=true` (UNVERIFIED, as every report).

On a cash basis income counts when it is paid and expense when it is paid: an invoice or a bill posts nothing
on its own date, and each payment applied to one posts that document's lines instead of settling Accounts
Receivable (or Payable), in the share it paid (amount applied / the document's total), dated the payment's
day. A payment's unapplied part stays on the control account, as the contact's credit; everything else
(expenses, manual journals, opening balances) posts as on accrual, and journals of type cash appear here only.
Shares are rounded to the cent, the last cent going to the document's largest line, so every entry still
balances.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from zbmcp.sandbox import ledger
from zbmcp.sandbox.errors import invalid_value
from zbmcp.sandbox.ledger import Entry, Posting
from zbmcp.sandbox.store import OrgStore

ZERO = Decimal(0)
CENT = Decimal("0.01")
# payment source -> (its record collection, the applications key, the applied document's source and id key,
# the control account it settles)
SETTLES = {
    "customer_payment": ("payments", "invoices", "invoice", "invoice_id", ledger.RECEIVABLE),
    "vendor_payment": ("vendorpayments", "bills", "bill", "bill_id", ledger.PAYABLE),
}


def is_cash(query: Mapping[str, str]) -> bool:
    """cash_based=true|false (default false)."""
    value = query.get("cash_based")
    if value in (None, ""):
        return False
    if str(value).lower() not in ("true", "false"):
        raise invalid_value("cash_based")
    return str(value).lower() == "true"


def basis_context(cash: bool) -> dict[str, str]:
    return {"report_basis": "Cash" if cash else "Accrual", "cash_based": "true" if cash else "false"}


def books(store: OrgStore, cash: bool) -> list[Entry]:
    """The organization's journal on the basis asked for, oldest first."""
    if not cash:
        return ledger.journal(store)
    entries = ledger.journal(store, cash_only=True)
    documents = {(entry.source, entry.source_id): entry for entry in entries
                 if entry.source in ("invoice", "bill")}
    kept: list[Entry] = []
    for entry in entries:
        if entry.source in ("invoice", "bill"):
            continue
        if entry.source in SETTLES:
            entry = _recognised(store, entry, documents)
        kept.append(entry)
    return kept


def _recognised(store: OrgStore, payment_entry: Entry, documents: Mapping[tuple[str, str], Entry]) -> Entry:
    collection, key, source, id_key, control_name = SETTLES[payment_entry.source]
    control = ledger.account_named(store, control_name)
    payment = store.collection(collection)[payment_entry.source_id]
    moved: dict[str, Decimal] = {}
    for posting in payment_entry.postings:
        moved[posting.account_id] = moved.get(posting.account_id, ZERO) + posting.amount
    for application in payment.get(key) or []:
        document = documents.get((source, str(application[id_key])))
        if document is None:
            continue  # not in the books (void): the payment stays on the control account
        for account_id, amount in _share(document, control, Decimal(str(application["amount_applied"]))):
            moved[account_id] = moved.get(account_id, ZERO) + amount
    return Entry(payment_entry.date, payment_entry.source, payment_entry.source_id,
                 tuple(Posting(account_id, amount) for account_id, amount in moved.items() if amount != ZERO))


def _share(document: Entry, control: str, applied: Decimal) -> Iterable[tuple[str, Decimal]]:
    """The document's postings in the share `applied` pays of it, moved off the control account: they sum to
    zero, so the payment's entry still balances."""
    total = sum((p.amount for p in document.postings if p.account_id == control), ZERO)
    if total == ZERO or applied == ZERO:
        return []
    share = applied / abs(total)
    settled = (total * share).quantize(CENT, rounding=ROUND_HALF_UP)  # signed as the control posting
    lines = [(p.account_id, (p.amount * share).quantize(CENT, rounding=ROUND_HALF_UP))
             for p in document.postings if p.account_id != control]
    if not lines:
        return []
    residual = -settled - sum((amount for _, amount in lines), ZERO)
    largest = max(range(len(lines)), key=lambda index: abs(lines[index][1]))
    lines[largest] = (lines[largest][0], lines[largest][1] + residual)
    return [(control, settled), *lines]

