"""Manual journals: a published journal is in the books exactly once, a draft is not, and a journal whose
debits and credits differ (at the currency's precision) is refused with nothing stored."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from tests.sandbox.conftest import ORG, error, ok
from tests.sandbox.test_books import QUARTER, _flatten
from zbmcp.sandbox import Sandbox


def _line(account_id: str, side: str, amount: Any, **more: Any) -> dict[str, Any]:
    return {"account_id": account_id, "debit_or_credit": side, "amount": amount, **more}


def _moved(sandbox: Sandbox) -> dict[str, Decimal]:
    """Debit minus credit per account name over the whole journal."""
    view = sandbox.store(ORG)
    names = {account_id: row["account_name"] for account_id, row in view.accounts.items()}
    moved: dict[str, Decimal] = defaultdict(Decimal)
    for entry in view.journal():
        for posting in entry.postings:
            moved[names[posting.account_id]] += posting.amount
    return moved


async def test_a_published_journal_posts_each_line_once(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    rent, accrued = view.account_id("Rent Expense"), view.account_id("Accrued Liabilities")
    before = _moved(sandbox)
    made = ok(await books.post("journals", json={
        "journal_date": "2024-05-31", "reference_number": "ACC-May", "notes": "May rent, accrued",
        "line_items": [_line(rent, "debit", 1500), _line(accrued, "credit", 1000),
                       _line(accrued, "credit", 500, description="the rest")]}), 201)
    journal = made["journal"]
    assert made["message"] == "The journal entry has been created."
    assert journal["status"] == "published" and journal["total"] == 1500.0
    assert [line["account_name"] for line in journal["line_items"]] == ["Rent Expense", "Accrued Liabilities",
                                                                        "Accrued Liabilities"]
    after = _moved(sandbox)
    assert after["Rent Expense"] - before["Rent Expense"] == 1500
    assert after["Accrued Liabilities"] - before["Accrued Liabilities"] == -1500
    report = _flatten(ok(await books.get("reports/profitandloss", params=QUARTER))["profit_and_loss"])
    assert report[("Operating Profit", "Operating Expense", "Rent Expense")] == 1500.0
    sheet = _flatten(ok(await books.get("reports/balancesheet", params={
        "filter_by": "TransactionDate.CustomDate", "to_date": "2024-06-30"}))["balance_sheet"])
    assert sheet[("Liabilities & Equities", "Liabilities", "Current Liabilities", "Accrued Liabilities")] \
        == 1500.0
    assert sheet[("Assets",)] == sheet[("Liabilities & Equities",)]
    # read back, listed, and the entry numbered after the seeded draft's
    got = ok(await books.get(f"journals/{journal['journal_id']}"))["journal"]
    assert got == journal and got["entry_number"] == "2"
    rows = ok(await books.get("journals", params={"reference_number": "ACC-May"}))["journals"]
    assert [row["journal_id"] for row in rows] == [journal["journal_id"]]
    assert "line_items" not in rows[0]


async def test_a_draft_is_out_of_the_books_until_published_and_deleting_takes_it_out(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    [seeded] = ok(await books.get("journals", params={"status": "draft"}))["journals"]
    assert seeded["reference_number"] == "ACCR-001" and seeded["total"] == 1200.0
    before = _moved(sandbox)
    assert not any(entry.source == "journal" for entry in sandbox.store(ORG).journal())
    answer = ok(await books.post(f"journals/{seeded['journal_id']}/status/publish"), 201)
    assert answer == {"code": 0, "message": "Journal has been published."}
    assert _moved(sandbox)["Rent Expense"] - before["Rent Expense"] == 1200
    ok(await books.post(f"journals/{seeded['journal_id']}/status/publish"), 201)  # again: still once
    assert _moved(sandbox)["Rent Expense"] - before["Rent Expense"] == 1200
    deleted = ok(await books.delete(f"journals/{seeded['journal_id']}"))
    assert deleted["message"] == "The selected journal entry has been deleted."
    assert _moved(sandbox) == before
    assert error(await books.get(f"journals/{seeded['journal_id']}"), 404, 1002) == "Journal does not exist."


async def test_an_update_replaces_the_lines_in_the_books(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    travel, card = view.account_id("Travel Expense"), view.account_id("Company Credit Card")
    made = ok(await books.post("journals", json={"journal_date": "2024-04-02", "line_items": [
        _line(travel, "debit", 80), _line(card, "credit", 80)]}), 201)["journal"]
    before = _moved(sandbox)
    updated = ok(await books.put(f"journals/{made['journal_id']}", json={"journal_date": "2024-04-03",
                                                                         "line_items": [
        _line(travel, "debit", 95.5), _line(card, "credit", 95.5)]}))["journal"]
    assert updated["entry_number"] == made["entry_number"] and updated["total"] == 95.5
    after = _moved(sandbox)
    assert after["Travel Expense"] - before["Travel Expense"] == Decimal("15.5")
    assert after["Company Credit Card"] - before["Company Credit Card"] == Decimal("-15.5")


async def test_a_cash_basis_journal_stays_out_of_accrual_reports(books: httpx2.AsyncClient,
                                                                 sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    ok(await books.post("journals", json={"journal_date": "2024-04-15", "journal_type": "cash",
                                          "line_items": [
        _line(view.account_id("Office Supplies"), "debit", 40),
        _line(view.account_id("Petty Cash"), "credit", 40)]}), 201)
    report = _flatten(ok(await books.get("reports/profitandloss", params=QUARTER))["profit_and_loss"])
    assert ("Operating Profit", "Operating Expense", "Office Supplies") not in report
    assert not any(entry.source == "journal" for entry in sandbox.store(ORG).journal())


async def test_debits_and_credits_compare_at_the_currencys_precision(books: httpx2.AsyncClient,
                                                                     sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    fees, checking = view.account_id("Bank Fees and Charges"), view.account_id("Business Checking")
    made = ok(await books.post("journals", json={"journal_date": "2024-04-20", "line_items": [
        _line(fees, "debit", 10.004), _line(checking, "credit", "10.00")]}), 201)["journal"]
    assert [line["amount"] for line in made["line_items"]] == [10.0, 10.0]
    before = ok(await books.get("journals"))["journals"]
    refused = await books.post("journals", json={"journal_date": "2024-04-20", "line_items": [
        _line(fees, "debit", 10.005), _line(checking, "credit", 10)]})
    assert error(refused, 400, 9999) == ("The journal does not balance: debits total 10.01 and credits "
                                         "total 10.00. Make them equal.")
    assert ok(await books.get("journals"))["journals"] == before


@pytest.mark.parametrize("lines, code, message", [
    ([_line("{fees}", "debit", 10)], 9999,
     "The journal does not balance: debits total 10.00 and credits total 0.00. Make them equal."),
    ([_line("460000999999999", "debit", 10), _line("{bank}", "credit", 10)], 2,
     "Invalid value passed for line_items[0].account_id"),
    ([_line("{fees}", "both", 10), _line("{bank}", "credit", 10)], 2,
     "Invalid value passed for line_items[0].debit_or_credit"),
    ([_line("{fees}", "debit", -10), _line("{bank}", "credit", -10)], 2,
     "Invalid value passed for line_items[0].amount"),
    ([_line("{fees}", "debit", 0.004), _line("{bank}", "credit", 0.004)], 2,
     "Invalid value passed for line_items[0].amount"),
    ([{"debit_or_credit": "debit", "amount": 10}, _line("{bank}", "credit", 10)], 4,
     "line_items[0].account_id is required."),
    ([_line("{fees}", "debit", 10), {"account_id": "{bank}", "debit_or_credit": "credit"}], 4,
     "line_items[1].amount is required."),
    ([_line("{receivable}", "debit", 10), _line("{bank}", "credit", 10)], 4,
     "line_items[0].customer_id is required."),
    ([_line("{fees}", "debit", 10, tax_id="460000999999999"), _line("{bank}", "credit", 10)], 2,
     "Invalid value passed for line_items[0].tax_id"),
    ([], 4, "line_items is required."),
])
async def test_a_bad_journal_is_refused_and_nothing_posts(books: httpx2.AsyncClient, sandbox: Sandbox,
                                                          lines: list[dict[str, Any]], code: int,
                                                          message: str) -> None:
    view = sandbox.store(ORG)
    names = {"{fees}": view.account_id("Bank Fees and Charges"),
             "{bank}": view.account_id("Business Checking"),
             "{receivable}": view.account_id("Accounts Receivable")}
    body = {"journal_date": "2024-04-20",
            "line_items": [{key: names.get(value, value) for key, value in line.items()} for line in lines]}
    journals, entries = view.journals, view.journal()
    assert error(await books.post("journals", json=body), 400, code) == message
    assert view.journals == journals and view.journal() == entries


async def test_a_receivable_line_names_its_customer_and_lists_find_it(books: httpx2.AsyncClient,
                                                                      sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    acme = view.contact_id("Acme Corporation")
    made = ok(await books.post("journals", json={"journal_date": view.today.isoformat(), "line_items": [
        _line(view.account_id("Accounts Receivable"), "debit", 25, customer_id=acme),
        _line(view.account_id("General Income"), "credit", 25)]}), 201)["journal"]
    assert made["line_items"][0]["customer_name"] == "Acme Corporation"
    for params in ({"customer_id": acme}, {"filter_by": "JournalDate.ThisMonth", "status": "published"}):
        rows = ok(await books.get("journals", params=params))["journals"]
        assert [row["journal_id"] for row in rows] == [made["journal_id"]], params
    assert error(await books.get("journals", params={"filter_by": "JournalDate.Someday"}), 400, 2) \
        == "Invalid value passed for filter_by"
