"""The bank feed: a seeded month of statement lines in each bank and card account, matched to what the books
hold or categorized into new records, each reaching the books exactly once; bad input is refused with the
line and the books as they were. Each test keeps the ledger it expects (test_books.Books) and compares."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from tests.sandbox.conftest import ORG, error, ok
from tests.sandbox.test_books import Books, _flatten
from zbmcp.sandbox import Sandbox

CHECKING, CARD = "Business Checking", "Company Credit Card"


def moved(sandbox: Sandbox) -> dict[str, Decimal]:
    view = sandbox.store(ORG)
    names = {account_id: row["account_name"] for account_id, row in view.accounts.items()}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in view.journal():
        for posting in entry.postings:
            totals[names[posting.account_id]] += posting.amount
    return totals


def changed(before: dict[str, Decimal], after: dict[str, Decimal]) -> dict[str, Decimal]:
    return {name: after[name] - before[name] for name in set(before) | set(after)
            if after[name] - before[name] != 0}


def expected(ledger: Books) -> dict[str, Decimal]:
    return {name: amount for name, amount in ledger.moved.items() if amount != 0}


def line(sandbox: Sandbox, description: str) -> dict[str, Any]:
    found = sandbox.store(ORG).find("banktransactions", description=description)
    assert found is not None, description
    return found


async def test_each_account_has_a_month_of_statement_lines(books: httpx2.AsyncClient,
                                                           sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    checking = view.account_id(CHECKING)
    rows = ok(await books.get("banktransactions", params={
        "account_id": checking, "filter_by": "Status.Uncategorized"}))["banktransactions"]
    assert len(rows) == 7 and {row["status"] for row in rows} == {"uncategorized"}
    deposits = sorted(row["amount"] for row in rows if row["debit_or_credit"] == "debit")
    assert deposits == [2.13, 688.0, 1200.0, 2400.0]
    card = ok(await books.get("banktransactions", params={"account_id": view.account_id(CARD),
                                                          "status": "uncategorized"}))["banktransactions"]
    assert sorted(row["amount"] for row in card) == [23.99, 86.4, 180.0, 500.0]
    account = ok(await books.get(f"bankaccounts/{checking}"))["bankaccount"]
    assert account["uncategorized_transactions"] == 7
    # an uncategorized line is in no books
    assert not any(entry.source == "bank_transaction" for entry in view.journal())
    got = ok(await books.get(f"banktransactions/{rows[0]['transaction_id']}"))["banktransaction"]
    assert got["transaction_id"] == rows[0]["transaction_id"] and got["account_name"] == CHECKING


async def test_a_deposit_matched_to_its_invoice_pays_it_once(books: httpx2.AsyncClient,
                                                             sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    deposit = line(sandbox, "FASTER PAYMENT")
    invoice_id = view.invoice_id("INV-000002")
    path = f"banktransactions/uncategorized/{deposit['transaction_id']}/match"
    suggested = ok(await books.get(path))["matching_transactions"]
    assert suggested[0]["transaction_id"] == invoice_id and suggested[0]["is_best_match"] is True
    assert (suggested[0]["transaction_type"], suggested[0]["transaction_number"]) == ("invoice", "INV-000002")
    assert all(row["amount"] == 1200.0 for row in suggested)  # by default, what has the line's amount
    wider = ok(await books.get(path, params={"show_all_transactions": "true"}))["matching_transactions"]
    assert len(wider) > len(suggested) and {row["transaction_number"] for row in wider} >= {"INV-000003"}

    before = moved(sandbox)
    answer = ok(await books.post(path, json={"transactions_to_be_matched": [
        {"transaction_id": invoice_id, "transaction_type": "invoice"}]}), 201)
    assert answer["message"] == "The transaction has been matched."
    ledger.post((CHECKING, 1200), ("Accounts Receivable", -1200))
    assert changed(before, moved(sandbox)) == expected(ledger)
    invoice = ok(await books.get(f"invoices/{invoice_id}"))["invoice"]
    assert invoice["status"] == "paid" and invoice["balance"] == 0
    [payment] = invoice["payments"]
    recorded = ok(await books.get(f"customerpayments/{payment['payment_id']}"))["payment"]
    assert (recorded["account_name"], recorded["date"], recorded["amount"]) \
        == (CHECKING, deposit["date"], 1200)
    matched = ok(await books.get(f"banktransactions/{deposit['transaction_id']}"))["banktransaction"]
    assert matched["status"] == "matched"
    assert invoice_id not in {row["transaction_id"] for row in ok(await books.get(
        path.replace(deposit["transaction_id"], line(sandbox, "BACS REMITTANCE")["transaction_id"]),
        params={"show_all_transactions": "true"}))["matching_transactions"]}
    sheet = _flatten(ok(await books.get("reports/balancesheet"))["balance_sheet"])
    assert sheet[("Assets",)] == sheet[("Liabilities & Equities",)]

    ok(await books.post(f"banktransactions/{deposit['transaction_id']}/unmatch"), 201)
    assert changed(before, moved(sandbox)) == {}
    assert ok(await books.get(f"invoices/{invoice_id}"))["invoice"]["status"] == "overdue"
    assert line(sandbox, "FASTER PAYMENT")["status"] == "uncategorized"


async def test_a_line_matched_to_what_is_already_recorded_posts_nothing_more(books: httpx2.AsyncClient,
                                                                           sandbox: Sandbox) -> None:
    before = moved(sandbox)
    for description, kind in (("BACS INV-000001", "customer_payment"),
                              ("STANDING ORDER OFFICE RENT", "expense")):
        statement = line(sandbox, description)
        path = f"banktransactions/uncategorized/{statement['transaction_id']}/match"
        [best] = ok(await books.get(path))["matching_transactions"]
        assert best["transaction_type"] == kind and best["amount"] == statement["amount"]
        ok(await books.post(path, json={"transactions_to_be_matched": [
            {"transaction_id": best["transaction_id"], "transaction_type": kind}]}), 201)
        assert line(sandbox, description)["status"] == "matched"
    assert changed(before, moved(sandbox)) == {}


async def test_a_card_charge_categorized_as_an_expense_posts_once(books: httpx2.AsyncClient,
                                                                  sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    charge = line(sandbox, "RAIL TICKETS")
    path = f"banktransactions/uncategorized/{charge['transaction_id']}/categorize/expenses"
    before = moved(sandbox)
    answer = ok(await books.post(path, json={"account_id": view.account_id("Travel Expense"),
                                             "description": "Client visit"}), 201)
    assert answer["message"] == "The transaction(s) have been categorized."
    ledger.post(("Travel Expense", 86.4), (CARD, -86.4))
    assert changed(before, moved(sandbox)) == expected(ledger)
    [expense] = [row for row in view.expenses.values() if row["description"] == "Client visit"]
    assert (expense["total"], expense["paid_through_account_name"], expense["date"]) \
        == (86.4, CARD, charge["date"])
    categorized = line(sandbox, "RAIL TICKETS")
    assert (categorized["status"], categorized["transaction_type"]) == ("categorized", "expense")
    again = await books.post(path, json={"account_id": view.account_id("Travel Expense")})
    assert error(again, 400, 9999).startswith("This statement line is categorized")
    assert changed(before, moved(sandbox)) == expected(ledger)
    ok(await books.post(f"banktransactions/{charge['transaction_id']}/uncategorize"), 201)
    assert changed(before, moved(sandbox)) == {} and expense["expense_id"] not in view.expenses


async def test_payments_interest_and_a_card_payment_seen_from_both_accounts(books: httpx2.AsyncClient,
                                                                            sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    before = moved(sandbox)
    acme = line(sandbox, "BACS REMITTANCE")
    ok(await books.post(f"banktransactions/uncategorized/{acme['transaction_id']}/categorize/"
                        "customerpayments", json={"customer_id": view.contact_id("Acme Corporation"),
                                                  "invoices": [{"invoice_id": view.invoice_id("INV-000003"),
                                                                "amount_applied": 688}]}), 201)
    ledger.post((CHECKING, 688), ("Accounts Receivable", -688))
    hosting = line(sandbox, "CLOUDHOSTING.EXAMPLE")
    bill = view.find("bills", bill_number="CH-1001")
    assert bill is not None
    ok(await books.post(f"banktransactions/uncategorized/{hosting['transaction_id']}/categorize/"
                        "vendorpayments", json={"vendor_id": view.contact_id("Cloud Hosting Ltd"),
                              "bills": [{"bill_id": bill["bill_id"], "amount_applied": 180}]}), 201)
    ledger.post(("Accounts Payable", 180), (CARD, -180))
    interest = line(sandbox, "INTEREST PAID")
    ok(await books.post(f"banktransactions/uncategorized/{interest['transaction_id']}/categorize", json={
        "transaction_type": "interest_income", "from_account_id": view.account_id("Interest Income")}), 201)
    ledger.post((CHECKING, 2.13), ("Interest Income", -2.13))
    transfer = line(sandbox, "TRANSFER TO CREDIT CARD")
    ok(await books.post(f"banktransactions/uncategorized/{transfer['transaction_id']}/categorize", json={
        "transaction_type": "card_payment", "to_account_id": view.account_id(CARD)}), 201)
    ledger.post((CARD, 500), (CHECKING, -500))
    assert changed(before, moved(sandbox)) == expected(ledger)
    # the card's side of the same payment is matched to it, not posted again
    received = line(sandbox, "PAYMENT RECEIVED - THANK YOU")
    path = f"banktransactions/uncategorized/{received['transaction_id']}/match"
    [best] = ok(await books.get(path))["matching_transactions"]
    assert (best["transaction_id"], best["transaction_type"]) == (transfer["transaction_id"], "card_payment")
    ok(await books.post(path, json={"transactions_to_be_matched": [
        {"transaction_id": best["transaction_id"]}]}), 201)
    assert changed(before, moved(sandbox)) == expected(ledger)
    assert ok(await books.get(f"invoices/{view.invoice_id('INV-000003')}"))["invoice"]["status"] == "paid"
    assert view.find("bills", bill_number="CH-1001")["status"] == "paid"  # type: ignore[index]
    day = {"filter_by": "TransactionDate.CustomDate", "from_date": interest["date"],
           "to_date": interest["date"]}
    pnl = _flatten(ok(await books.get("reports/profitandloss", params=day))["profit_and_loss"])
    assert pnl[("Net Profit/Loss", "Non Operating Income", "Interest Income")] == 2.13


async def _refused(books: httpx2.AsyncClient, sandbox: Sandbox, path: str, body: dict[str, Any], code: int,
                   message: str) -> None:
    view = sandbox.store(ORG)
    lines, entries = view.banktransactions, view.journal()
    payments, expenses = view.payments, view.expenses
    assert error(await books.post(path, json=body), 400, code) == message
    assert (view.banktransactions, view.journal(), view.payments, view.expenses) \
        == (lines, entries, payments, expenses)


async def test_a_match_of_the_wrong_amount_matches_nothing(books: httpx2.AsyncClient,
                                                           sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    deposit = line(sandbox, "FASTER PAYMENT")
    path = f"banktransactions/uncategorized/{deposit['transaction_id']}/match"
    await _refused(books, sandbox, path, {"transactions_to_be_matched": [
        {"transaction_id": view.invoice_id("INV-000003"), "transaction_type": "invoice"}]}, 9999,
        "The transactions selected come to 688.00, not the statement line's 1200.00: nothing was matched.")
    await _refused(books, sandbox, path, {"transactions_to_be_matched": [
        {"transaction_id": view.invoice_id("INV-000002"), "transaction_type": "bill"}]}, 2,
        "Invalid value passed for transactions_to_be_matched[0].transaction_type")
    await _refused(books, sandbox, path, {"transactions_to_be_matched": [
        {"transaction_id": view.invoice_id("INV-000004")}]}, 2,  # a draft is not open
        "Invalid value passed for transactions_to_be_matched[0].transaction_id")
    await _refused(books, sandbox, path, {"transactions_to_be_matched": []}, 4,
                   "transactions_to_be_matched is required.")


@pytest.mark.parametrize("description, route, body, code, message", [
    ("RAIL TICKETS", "categorize/expenses", {"account_id": "{Sales}"}, 2,
     "Invalid value passed for account_id"),
    ("RAIL TICKETS", "categorize/expenses", {"account_id": "{Travel Expense}", "amount": 80}, 9999,
     "The expense comes to 80.00 with its tax, not the statement line's 86.40: give the amount that makes "
     "the total the line's, or is_inclusive_tax."),
    ("RAIL TICKETS", "categorize/expenses", {"account_id": "{Travel Expense}", "paid_through_account_id":
                                             "{Business Checking}"}, 2,
     "Invalid value passed for paid_through_account_id"),
    ("INTEREST PAID", "categorize/expenses", {"account_id": "{Travel Expense}"}, 9999,
     "This statement line is money in; it cannot be an expense."),
    ("INTEREST PAID", "categorize", {"transaction_type": "owner_contribution",
                                     "from_account_id": "{Interest Income}"}, 2,
     "Invalid value passed for from_account_id"),
    ("INTEREST PAID", "categorize", {"transaction_type": "owner_drawings",
                                     "from_account_id": "{Owner's Equity}"}, 2,
     "Invalid value passed for transaction_type"),
    ("INTEREST PAID", "categorize", {"transaction_type": "interest_income", "amount": 2.5,
                                     "from_account_id": "{Interest Income}"}, 9999,
     "The amount 2.50 is not the statement line's 2.13: a statement line is categorized whole."),
    ("BACS REMITTANCE", "categorize/customerpayments", {"customer_id": "{Acme Corporation}", "invoices": [
        {"invoice_id": "{INV-000002}", "amount_applied": 688}]}, 3004,
     "Invoice INV-000002 does not belong to the customer Acme Corporation."),
    ("RAIL TICKETS", "categorize/customerpayments", {"customer_id": "{Acme Corporation}"}, 9999,
     "This statement line is money out; it cannot be a customer payment."),
])
async def test_a_bad_categorization_is_refused_and_nothing_posts(
        books: httpx2.AsyncClient, sandbox: Sandbox, description: str, route: str, body: dict[str, Any],
        code: int, message: str) -> None:
    view = sandbox.store(ORG)

    def real(value: Any) -> Any:
        if not isinstance(value, str) or not value.startswith("{"):
            return value
        name = value.strip("{}")
        if name.startswith("INV-"):
            return view.invoice_id(name)
        return view.contact_id(name) if name in ("Acme Corporation",) else view.account_id(name)

    filled = {key: [{k: real(v) for k, v in entry.items()} for entry in value] if isinstance(value, list)
              else real(value) for key, value in body.items()}
    statement = line(sandbox, description)
    await _refused(books, sandbox, f"banktransactions/uncategorized/{statement['transaction_id']}/{route}",
                   filled, code, message)


async def test_excluded_lines_restored_deleted_and_added_by_hand(books: httpx2.AsyncClient,
                                                                 sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    fee = line(sandbox, "MONTHLY ACCOUNT FEE")
    uncategorized = f"banktransactions/uncategorized/{fee['transaction_id']}"
    assert ok(await books.post(f"{uncategorized}/exclude"), 201)["message"] \
        == "The transaction has been excluded."
    assert error(await books.post(f"{uncategorized}/categorize/expenses", json={
        "account_id": view.account_id("Bank Fees and Charges")}), 400, 9999).startswith(
        "This statement line is excluded")
    excluded = ok(await books.get("banktransactions",
                                  params={"filter_by": "Status.Excluded"}))["banktransactions"]
    assert [row["transaction_id"] for row in excluded] == [fee["transaction_id"]]
    ok(await books.post(f"{uncategorized}/restore"), 201)
    ok(await books.post(f"{uncategorized}/categorize/expenses", json={
        "account_id": view.account_id("Bank Fees and Charges")}), 201)
    assert error(await books.delete(f"banktransactions/{fee['transaction_id']}"), 400, 9999) \
        == "A categorized statement line cannot be deleted: uncategorize it first."

    before = moved(sandbox)
    made = ok(await books.post("banktransactions", json={
        "transaction_type": "owner_contribution", "amount": 5000, "date": view.today.isoformat(),
        "from_account_id": view.account_id("Owner's Equity"), "to_account_id": view.account_id(CHECKING),
        "reference_number": "CAPITAL-1"}), 201)["banktransaction"]
    assert made["status"] == "manually_added" and made["debit_or_credit"] == "debit"
    ledger.post((CHECKING, 5000), ("Owner's Equity", -5000))
    assert changed(before, moved(sandbox)) == expected(ledger)
    bad = await books.post("banktransactions", json={
        "transaction_type": "owner_contribution", "amount": 5, "from_account_id": view.account_id("Sales"),
        "to_account_id": view.account_id(CHECKING)})
    assert error(bad, 400, 2) == "Invalid value passed for from_account_id"
    ok(await books.delete(f"banktransactions/{made['transaction_id']}"))
    assert changed(before, moved(sandbox)) == {}


async def test_an_imported_statement_joins_the_feed(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    checking = view.account_id(CHECKING)
    answer = ok(await books.post("bankstatements", json={
        "account_id": checking, "start_date": "2025-03-01", "end_date": "2025-03-31", "transactions": [
            {"date": "2025-03-03", "debit_or_credit": "credit", "amount": 42.5, "payee": "PRINT SHOP",
             "description": "FLYERS"},
            {"date": "2025-03-04", "debit_or_credit": "debit", "amount": 99, "payee": "INITECH"}]}), 201)
    assert answer["message"] == "Your bank statement has been imported."
    rows = ok(await books.get("banktransactions", params={"account_id": checking, "date_start": "2025-03-01",
                                                          "date_end": "2025-03-31"}))["banktransactions"]
    assert sorted((row["amount"], row["status"]) for row in rows) == [(42.5, "uncategorized"),
                                                                      (99.0, "uncategorized")]
    statement = ok(await books.get(f"bankaccounts/{checking}/statement/lastimported"))["statement"]
    assert statement["from_date"] == "2025-03-01" and len(statement["transactions"]) == 2
    bad = await books.post("bankstatements", json={"account_id": view.account_id("Sales"), "transactions": [
        {"date": "2025-03-03", "debit_or_credit": "credit", "amount": 1}]})
    assert error(bad, 400, 2) == "Invalid value passed for account_id"
    bad = await books.post("bankstatements", json={"account_id": checking, "transactions": [
        {"date": "2025-03-03", "debit_or_credit": "sideways", "amount": 1}]})
    assert error(bad, 400, 2) == "Invalid value passed for transactions[0].debit_or_credit"


async def test_deleting_what_a_match_recorded_leaves_the_line_uncategorized(books: httpx2.AsyncClient,
                                                                            sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    deposit = line(sandbox, "FASTER PAYMENT")
    ok(await books.post(f"banktransactions/uncategorized/{deposit['transaction_id']}/match", json={
        "transactions_to_be_matched": [{"transaction_id": view.invoice_id("INV-000002")}]}), 201)
    [payment] = ok(await books.get(f"invoices/{view.invoice_id('INV-000002')}"))["invoice"]["payments"]
    ok(await books.delete(f"customerpayments/{payment['payment_id']}"))
    shown = ok(await books.get(f"banktransactions/{deposit['transaction_id']}"))["banktransaction"]
    assert shown["status"] == "uncategorized"


async def test_credits_refunded_through_the_feed_post_once(books: httpx2.AsyncClient,
                                                           sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    before = moved(sandbox)
    note = view.find("creditnotes", creditnote_number="CN-00001")
    credit = view.find("vendorcredits", vendor_credit_number="DN-00001")
    assert note is not None and credit is not None
    fee, interest = line(sandbox, "MONTHLY ACCOUNT FEE"), line(sandbox, "INTEREST PAID")
    uncategorized = "banktransactions/uncategorized"
    ok(await books.post(f"{uncategorized}/{fee['transaction_id']}/categorize/creditnoterefunds",
                        json={"creditnote_id": note["creditnote_id"]}), 201)
    ledger.post(("Accounts Receivable", 15), (CHECKING, -15))
    ok(await books.post(f"banktransactions/uncategorized/{interest['transaction_id']}/categorize/"
                        "vendorcreditrefunds", json={"vendor_credit_id": credit["vendor_credit_id"]}), 201)
    ledger.post((CHECKING, 2.13), ("Accounts Payable", -2.13))
    assert changed(before, moved(sandbox)) == expected(ledger)
    assert view.creditnotes[note["creditnote_id"]]["balance"] == 135.0
    assert view.vendorcredits[credit["vendor_credit_id"]]["balance"] == 3.87
    charge = line(sandbox, "RAIL TICKETS")["transaction_id"]
    wrong_way = await books.post(f"{uncategorized}/{charge}/categorize/vendorcreditrefunds",
                                 json={"vendor_credit_id": credit["vendor_credit_id"]})
    assert error(wrong_way, 400, 9999) \
        == "This statement line is money out; it cannot be a vendor credit's refund."
    ok(await books.post(f"banktransactions/{fee['transaction_id']}/uncategorize"), 201)
    ok(await books.post(f"banktransactions/{interest['transaction_id']}/uncategorize"), 201)
    assert changed(before, moved(sandbox)) == {}
    assert view.creditnotes[note["creditnote_id"]]["balance"] == 150.0
