"""The books behind the documents: a double-entry journal derived from one organization's records.

Every journal entry balances (debits equal credits). Entries are derived from the records as they stand, so
voiding an invoice, deleting a payment or bringing an invoice back to draft takes its entry out at once:

    invoice (sent, not void)  Dr Accounts Receivable total   Cr each line's income account (item's, or Sales)
                              Cr Tax Payable (the tax), Dr Discount (the document's discount),
                              Cr Shipping Charge, Cr Other Charges (the adjustment)
    customer payment          Dr deposit account, Dr Bank Fees and Charges (bank charges)
                              Cr Accounts Receivable
    bill (not void)           Dr each line's expense account (item's purchase account, or Cost of Goods Sold)
                              Dr Tax Payable (the tax reclaimed), Cr Purchase Discounts,
                              Dr Other Expenses (shipping charge and adjustment); Cr Accounts Payable total
    vendor payment            Dr Accounts Payable   Cr the paid-through account
    expense                   Dr the expense account, Dr Tax Payable (its tax)   Cr the paid-through account
    manual journal (published) each line on its account, debit or credit as it says
    credit note (open, closed) the reverse of an invoice: Cr Accounts Receivable total, Dr what it credits
    credit note refund        Dr Accounts Receivable   Cr the account the money left from
    vendor credit (open, closed) the reverse of a bill: Dr Accounts Payable total, Cr what a bill debits
    vendor credit refund      Dr the account the money came into   Cr Accounts Payable
    customer payment refund   Dr Accounts Receivable   Cr the account the money left from
    vendor payment refund     Dr the account the money came into   Cr Accounts Payable
    invoice written off       Dr Bad Debt   Cr Accounts Receivable, on the day it was written off
    bank transaction          Dr the account money went to, Cr the one it came from: one added by hand, or a
                              statement line categorized as a deposit, transfer... (one categorized as an
                              expense or payment, or matched, posts nothing: its expense or payment does)
    opening balance           Dr the account   Cr Opening Balance Adjustments, on the day the books start

A line's amount posts net of its tax (an inclusive line's total holds its tax). The
unapplied part of a payment stays in Accounts Receivable (or Payable) as the contact's credit. Amounts are
Decimals; debits are positive and credits negative.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from zbmcp.sandbox.fields import dec
from zbmcp.sandbox.store import BOOKS_START, OrgStore, Record

RECEIVABLE = "Accounts Receivable"
PAYABLE = "Accounts Payable"
DEFAULT_INCOME = "Sales"
DEFAULT_EXPENSE = "Cost of Goods Sold"
BANK_FEES = "Bank Fees and Charges"
BAD_DEBT = "Bad Debt"  # where an invoice written off goes
TAX_PAYABLE = "Tax Payable"
# Where a document's own charges post: (discount, shipping charge, adjustment), for sales and purchases.
SALES_CHARGES = ("Discount", "Shipping Charge", "Other Charges")
PURCHASE_CHARGES = ("Purchase Discounts", "Other Expenses", "Other Expenses")
OPENING_BALANCES = "Opening Balance Adjustments"
ZERO = Decimal(0)


@dataclass(frozen=True)
class Posting:
    account_id: str
    amount: Decimal  # debit > 0, credit < 0


@dataclass(frozen=True)
class Entry:
    date: str
    source: str  # "invoice", "customer_payment", "bill", "vendor_payment", "expense", "opening_balance",
    #               "journal"
    source_id: str
    postings: tuple[Posting, ...]
    cash_only: bool = False  # a journal of type "cash": in cash-basis reports only

    @property
    def balanced(self) -> bool:
        return sum((posting.amount for posting in self.postings), ZERO) == ZERO


def journal(store: OrgStore, *, cash_only: bool = False) -> list[Entry]:
    """Every entry of the organization's accrual books, oldest first; `cash_only` adds the entries that
    only cash-basis reports show."""
    entries = [*_opening_balances(store), *_invoices(store), *_customer_payments(store), *_bills(store),
               *_vendor_payments(store), *_expenses(store), *_manual_journals(store),
               *_bank_transactions(store), *_credits(store), *_excess(store)]
    return sorted((entry for entry in entries if cash_only or not entry.cash_only),
                  key=lambda entry: entry.date)


def balances(entries: Iterable[Entry], *, start: str | None = None,
             end: str | None = None) -> dict[str, Decimal]:
    """Debit minus credit per account over the entries dated within [start, end] (either end open)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        if (start is not None and entry.date < start) or (end is not None and entry.date > end):
            continue
        for posting in entry.postings:
            totals[posting.account_id] += posting.amount
    return dict(totals)


def account_named(store: OrgStore, name: str) -> str:
    for account in store.accounts.values():
        if account["account_name"] == name:
            return str(account["account_id"])
    raise LookupError(f"the chart of accounts of {store.organization_id} has no {name!r} account")


def _entry(date: str, source: str, source_id: str, postings: Iterable[tuple[str, Decimal]], *,
           cash_only: bool = False) -> Entry:
    merged: dict[str, Decimal] = defaultdict(Decimal)
    for account_id, amount in postings:
        merged[account_id] += amount
    return Entry(date, source, source_id,
                 tuple(Posting(account_id, amount) for account_id, amount in merged.items()
                       if amount != ZERO), cash_only)


def _opening_balances(store: OrgStore) -> Iterator[Entry]:
    for account in store.accounts.values():
        opening = dec(account.get("_opening_balance", 0.0))
        if opening != ZERO:
            yield _entry(BOOKS_START, "opening_balance", account["account_id"],
                         [(account["account_id"], opening),
                          (account_named(store, OPENING_BALANCES), -opening)])


def _document_lines(store: OrgStore, document: Record, default_account: str,
                    charges: tuple[str, str, str]) -> list[tuple[str, Decimal]]:
    """What a document's total is made of, each on its account, as debits (a sale's are negated by the
    caller): each line net of its tax, the tax, less the document's discount, its shipping and adjustment."""
    fallback = account_named(store, default_account)
    taxes = document.get("_line_taxes", {})
    inclusive = bool(document.get("is_inclusive_tax"))
    lines = []
    tax_total = ZERO
    for line in document["line_items"]:
        tax = dec(taxes.get(line["line_item_id"], 0.0))
        tax_total += tax
        lines.append((str(line.get("account_id") or fallback), dec(line["item_total"]) - (tax if inclusive
                                                                                         else ZERO)))
    discount, shipping, adjustment = (account_named(store, name) for name in charges)
    return [*lines, (account_named(store, TAX_PAYABLE), tax_total),
            (discount, -dec(document["discount_amount"])), (shipping, dec(document["shipping_charge"])),
            (adjustment, dec(document["adjustment"]))]


def _invoices(store: OrgStore) -> Iterator[Entry]:
    receivable = account_named(store, RECEIVABLE)
    for invoice in store.invoices.values():
        if invoice["_lifecycle"] in ("draft", "void"):
            continue
        credits = [(account_id, -amount) for account_id, amount in _document_lines(store, invoice,
                                                                                   DEFAULT_INCOME,
                                                                                   SALES_CHARGES)]
        yield _entry(invoice["date"], "invoice", invoice["invoice_id"],
                     [(receivable, dec(invoice["total"])), *credits])


def _customer_payments(store: OrgStore) -> Iterator[Entry]:
    receivable = account_named(store, RECEIVABLE)
    for payment in store.payments.values():
        amount, charges = dec(payment["amount"]), dec(payment["bank_charges"])
        postings = [(str(payment["account_id"]), amount - charges), (receivable, -amount)]
        if charges:
            postings.append((account_named(store, BANK_FEES), charges))
        yield _entry(payment["date"], "customer_payment", payment["payment_id"], postings)


def _bills(store: OrgStore) -> Iterator[Entry]:
    payable = account_named(store, PAYABLE)
    for bill in store.bills.values():
        if bill["status"] == "void":
            continue
        yield _entry(bill["date"], "bill", bill["bill_id"],
                     [*_document_lines(store, bill, DEFAULT_EXPENSE, PURCHASE_CHARGES),
                      (payable, -dec(bill["total"]))])


def _vendor_payments(store: OrgStore) -> Iterator[Entry]:
    payable = account_named(store, PAYABLE)
    for payment in store.vendorpayments.values():
        amount = dec(payment["amount"])
        yield _entry(payment["date"], "vendor_payment", payment["payment_id"],
                     [(payable, amount), (str(payment["paid_through_account_id"]), -amount)])


def _expenses(store: OrgStore) -> Iterator[Entry]:
    for expense in store.expenses.values():
        total, tax = dec(expense["total"]), dec(expense.get("tax_amount", 0.0))
        yield _entry(expense["date"], "expense", expense["expense_id"],
                     [(str(expense["account_id"]), total - tax), (account_named(store, TAX_PAYABLE), tax),
                      (str(expense["paid_through_account_id"]), -total)])


def _credits(store: OrgStore) -> Iterator[Entry]:
    """Credit notes, vendor credits and their refunds; applying a credit moves nothing between accounts."""
    receivable, payable = account_named(store, RECEIVABLE), account_named(store, PAYABLE)
    for note in store.creditnotes.values():
        if note["status"] in ("open", "closed"):
            yield _entry(note["date"], "creditnote", note["creditnote_id"],
                         [*_document_lines(store, note, DEFAULT_INCOME, SALES_CHARGES),
                          (receivable, -dec(note["total"]))])
    for credit in store.vendorcredits.values():
        if credit["status"] in ("open", "closed"):
            debits = _document_lines(store, credit, DEFAULT_EXPENSE, PURCHASE_CHARGES)
            yield _entry(credit["date"], "vendorcredit", credit["vendor_credit_id"],
                         [*((account_id, -amount) for account_id, amount in debits),
                          (payable, dec(credit["total"]))])
    for refund in store.creditnote_refunds.values():
        amount = dec(refund["amount"])
        yield _entry(refund["date"], "creditnote_refund", refund["creditnote_refund_id"],
                     [(receivable, amount), (str(refund["account_id"]), -amount)])
    for refund in store.vendorcredit_refunds.values():
        amount = dec(refund["amount"])
        yield _entry(refund["date"], "vendorcredit_refund", refund["vendor_credit_refund_id"],
                     [(str(refund["account_id"]), amount), (payable, -amount)])


def _excess(store: OrgStore) -> Iterator[Entry]:
    """Refunds of payments' unused amounts, and invoices written off."""
    receivable, payable = account_named(store, RECEIVABLE), account_named(store, PAYABLE)
    for refund in store.payment_refunds.values():
        amount = dec(refund["amount"])
        yield _entry(refund["date"], "payment_refund", refund["payment_refund_id"],
                     [(receivable, amount), (str(refund["from_account_id"]), -amount)])
    for refund in store.vendorpayment_refunds.values():
        amount = dec(refund["amount"])
        yield _entry(refund["date"], "vendorpayment_refund", refund["vendorpayment_refund_id"],
                     [(str(refund["to_account_id"]), amount), (payable, -amount)])
    for invoice in store.invoices.values():
        written = dec(invoice["write_off_amount"])
        if written and invoice["_lifecycle"] not in ("draft", "void"):
            day = str(invoice.get("_write_off_date") or invoice["date"])
            yield _entry(day, "write_off", invoice["invoice_id"],
                         [(account_named(store, BAD_DEBT), written), (receivable, -written)])


def _bank_transactions(store: OrgStore) -> Iterator[Entry]:
    for line in store.banktransactions.values():
        if line["_posts"]:
            amount = dec(line["amount"])
            yield _entry(line["date"], "bank_transaction", line["transaction_id"],
                         [(str(line["to_account_id"]), amount), (str(line["from_account_id"]), -amount)])


def _manual_journals(store: OrgStore) -> Iterator[Entry]:
    for journal in store.journals.values():
        if journal["status"] != "published":
            continue
        yield _entry(journal["journal_date"], "journal", journal["journal_id"],
                     [(str(line["account_id"]),
                       dec(line["amount"]) if line["debit_or_credit"] == "debit" else -dec(line["amount"]))
                      for line in journal["line_items"]],
                     cash_only=journal["journal_type"] == "cash")
