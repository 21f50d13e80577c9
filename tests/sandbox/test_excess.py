"""What is left over on a payment and what is given up on an invoice: an excess payment's refund and an
invoice's write-off, each in the books exactly once, against a ledger the test keeps from its own calls."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from tests.sandbox.conftest import ORG, error, ok
from zbmcp.sandbox import Sandbox


def _moved(sandbox: Sandbox) -> dict[str, Decimal]:
    """Debit minus credit per account name over the whole journal, every entry balanced."""
    view = sandbox.store(ORG)
    names = {account_id: row["account_name"] for account_id, row in view.accounts.items()}
    moved: dict[str, Decimal] = defaultdict(Decimal)
    for entry in view.journal():
        assert entry.balanced, entry
        for posting in entry.postings:
            moved[names[posting.account_id]] += posting.amount
    return moved


class Expected:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.moved = _moved(sandbox)

    def post(self, *lines: tuple[str, float]) -> None:
        assert sum(Decimal(str(amount)) for _, amount in lines) == 0, lines
        for name, amount in lines:
            self.moved[name] += Decimal(str(amount))

    def check(self) -> None:
        actual = _moved(self.sandbox)
        assert {k: v for k, v in actual.items() if v} == {k: v for k, v in self.moved.items() if v}


async def _invoice(books: httpx2.AsyncClient, sandbox: Sandbox, customer: str,
                   hours: float) -> dict[str, Any]:
    view = sandbox.store(ORG)
    made = ok(await books.post("invoices", json={
        "customer_id": view.contact_id(customer), "date": "2024-04-10",
        "line_items": [{"item_id": view.item_id("Consulting"), "quantity": hours}]}), 201)["invoice"]
    ok(await books.post(f"invoices/{made['invoice_id']}/status/sent"))
    return dict(made)


async def test_an_excess_customer_payment_is_refunded_once(books: httpx2.AsyncClient,
                                                          sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    checking = view.account_id("Business Checking")
    expected = Expected(sandbox)
    invoice = await _invoice(books, sandbox, "Globex Ltd", 2)  # 300
    expected.post(("Accounts Receivable", 300), ("Consulting Income", -300))
    payment = ok(await books.post("customerpayments", json={
        "customer_id": view.contact_id("Globex Ltd"), "payment_mode": "banktransfer", "amount": 500,
        "date": "2024-04-20", "account_id": checking,
        "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 300}]}), 201)["payment"]
    expected.post(("Business Checking", 500), ("Accounts Receivable", -500))
    path = f"customerpayments/{payment['payment_id']}/refunds"
    made = ok(await books.post(path, json={"amount": 150, "date": "2024-04-25", "from_account_id": checking,
                                           "refund_mode": "banktransfer"}))
    assert made["message"] == "The refund information for this payment has been saved."
    [refund] = made["payment_refunds"]
    expected.post(("Accounts Receivable", 150), ("Business Checking", -150))
    expected.check()
    assert (await books.get(f"customerpayments/{payment['payment_id']}")).json()["payment"]["unused_amount"] \
        == 50.0
    # more than is left: refused, nothing posts
    assert "more than payment" in error(await books.post(path, json={
        "amount": 50.01, "date": "2024-04-25", "from_account_id": checking}), 400, 9999)
    # a payment with refunds is not deleted; an update checks it again
    assert "has refunds" in error(await books.delete(f"customerpayments/{payment['payment_id']}"), 400, 9999)
    ok(await books.put(f"{path}/{refund['payment_refund_id']}", json={"amount": 200}))
    expected.post(("Accounts Receivable", 50), ("Business Checking", -50))
    expected.check()
    assert [row["amount"] for row in ok(await books.get(path))["payment_refunds"]] == [200.0]
    ok(await books.delete(f"{path}/{refund['payment_refund_id']}"))
    expected.post(("Accounts Receivable", -200), ("Business Checking", 200))
    expected.check()


async def test_an_excess_vendor_payment_comes_back_once(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    checking = view.account_id("Business Checking")
    expected = Expected(sandbox)
    payment = ok(await books.post("vendorpayments", json={
        "vendor_id": view.contact_id("Office Supplies Co"), "amount": 80, "date": "2024-04-02",
        "paid_through_account_id": checking}), 201)["vendorpayment"]
    expected.post(("Accounts Payable", 80), ("Business Checking", -80))
    made = ok(await books.post(f"vendorpayments/{payment['payment_id']}/refunds", json={
        "amount": 30, "date": "2024-04-09", "to_account_id": checking}), 201)
    assert made["message"] == "Vendor Payment Refunded successfully"
    expected.post(("Business Checking", 30), ("Accounts Payable", -30))
    expected.check()
    assert ok(await books.get(f"vendorpayments/{payment['payment_id']}"))["vendorpayment"]["balance"] == 50.0
    refused = await books.post(f"vendorpayments/{payment['payment_id']}/refunds", json={
        "amount": 5, "date": "2024-04-01", "to_account_id": checking})
    assert "before the date of payment" in error(refused, 400, 9999)
    expected.check()


async def test_writing_off_an_invoice_moves_its_balance_to_bad_debt_until_cancelled(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    expected = Expected(sandbox)
    invoice = await _invoice(books, sandbox, "Acme Corporation", 3)  # 450
    expected.post(("Accounts Receivable", 450), ("Consulting Income", -450))
    ok(await books.post("customerpayments", json={
        "customer_id": view.contact_id("Acme Corporation"), "payment_mode": "cash", "amount": 100,
        "date": "2024-04-12", "account_id": view.account_id("Petty Cash"),
        "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 100}]}), 201)
    expected.post(("Petty Cash", 100), ("Accounts Receivable", -100))
    answer = ok(await books.post(f"invoices/{invoice['invoice_id']}/writeoff"))
    assert answer == {"code": 0, "message": "Invoice has been written off"}
    expected.post(("Bad Debt", 350), ("Accounts Receivable", -350))
    expected.check()
    got = ok(await books.get(f"invoices/{invoice['invoice_id']}"))["invoice"]
    assert (got["write_off_amount"], got["balance"], got["status"]) == (350.0, 0.0, "paid")
    assert "no balance" in error(await books.post(f"invoices/{invoice['invoice_id']}/writeoff"), 400, 9999)
    unpaid = await _invoice(books, sandbox, "Acme Corporation", 1)
    ok(await books.post(f"invoices/{unpaid['invoice_id']}/writeoff"))
    assert "written off" in error(await books.delete(f"invoices/{unpaid['invoice_id']}"), 400, 9999)
    expected.post(("Bad Debt", 150), ("Consulting Income", -150))  # its sale, and its balance written off
    ok(await books.post(f"invoices/{invoice['invoice_id']}/writeoff/cancel"))
    expected.post(("Bad Debt", -350), ("Accounts Receivable", 350))
    expected.check()
    got = ok(await books.get(f"invoices/{invoice['invoice_id']}"))["invoice"]
    assert (got["write_off_amount"], got["balance"], got["status"]) == (0.0, 350.0, "partially_paid")


@pytest.mark.parametrize("status", ["draft", "void"])
async def test_a_draft_or_void_invoice_is_not_written_off(books: httpx2.AsyncClient, sandbox: Sandbox,
                                                          status: str) -> None:
    view = sandbox.store(ORG)
    made = ok(await books.post("invoices", json={"customer_id": view.contact_id("Acme Corporation"),
                                                 "line_items": [{"item_id": view.item_id("Consulting")}]}),
              201)["invoice"]
    if status == "void":
        ok(await books.post(f"invoices/{made['invoice_id']}/status/void"))
    before = _moved(sandbox)
    refused = await books.post(f"invoices/{made['invoice_id']}/writeoff")
    assert error(refused, 400, 9999) == f"A {status} invoice cannot be written off."
    assert _moved(sandbox) == before
