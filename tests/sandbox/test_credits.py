"""Credits: credit notes applied to invoices and refunded, an overpayment's credit applied to another invoice,
vendor credits applied to bills. A credit posts when it is created, its refund when the money moves, and
applying it moves nothing; a credit larger than what is left is refused with nothing changed. Each test keeps
the ledger it expects (test_books.Books) and compares."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx2

from tests.sandbox.conftest import ORG, error, ok
from tests.sandbox.test_banking import changed, expected, moved
from tests.sandbox.test_books import Books
from zbmcp.sandbox import Sandbox


def _find(sandbox: Sandbox, collection: str, **match: Any) -> dict[str, Any]:
    found = sandbox.store(ORG).find(collection, **match)
    assert found is not None, match
    return found


async def test_a_credit_note_posts_once_applies_to_an_invoice_and_is_refunded(books: httpx2.AsyncClient,
                                                                             sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    before = moved(sandbox)
    globex = view.contact_id("Globex Ltd")
    made = ok(await books.post("creditnotes", json={
        "customer_id": globex, "date": view.today.isoformat(),
        "line_items": [{"item_id": view.item_id("Consulting"), "quantity": 2}]}), 201)
    note = made["creditnote"]
    assert made["message"] == "The credit note has been created."
    assert (note["creditnote_number"], note["status"], note["balance"]) == ("CN-00002", "open", 300.0)
    ledger.post(("Consulting Income", 300), ("Accounts Receivable", -300))
    assert changed(before, moved(sandbox)) == expected(ledger)

    invoice_id = view.invoice_id("INV-000002")
    path = f"creditnotes/{note['creditnote_id']}"
    ok(await books.post(f"{path}/invoices", json={"invoices": [{"invoice_id": invoice_id,
                                                                "amount_applied": 200}]}))
    invoice = ok(await books.get(f"invoices/{invoice_id}"))["invoice"]
    assert (invoice["balance"], invoice["credits_applied"], invoice["status"]) == (1000.0, 200.0,
                                                                                   "partially_paid")
    assert ok(await books.get(path))["creditnote"]["balance"] == 100.0
    assert changed(before, moved(sandbox)) == expected(ledger)  # applying moves nothing
    [applied] = ok(await books.get(f"invoices/{invoice_id}/creditsapplied"))["credits"]
    assert applied["amount_applied"] == 200.0 and applied["creditnote_id"] == note["creditnote_id"]

    checking = view.account_id("Business Checking")
    refund = ok(await books.post(f"{path}/refunds", json={"date": view.today.isoformat(), "amount": 100,
                                                          "from_account_id": checking}))["creditnote_refund"]
    ledger.post(("Accounts Receivable", 100), ("Business Checking", -100))
    assert changed(before, moved(sandbox)) == expected(ledger)
    closed = ok(await books.get(path))["creditnote"]
    assert (closed["status"], closed["balance"], closed["total_refunded_amount"]) == ("closed", 0.0, 100.0)

    # undone, each in turn: the refund and the application
    ok(await books.delete(f"{path}/refunds/{refund['creditnote_refund_id']}"))
    ok(await books.delete(f"invoices/{invoice_id}/creditsapplied/{applied['creditnotes_invoice_id']}"))
    ledger.post(("Accounts Receivable", -100), ("Business Checking", 100))
    assert changed(before, moved(sandbox)) == expected(ledger)
    assert ok(await books.get(f"invoices/{invoice_id}"))["invoice"]["balance"] == 1200.0
    assert ok(await books.get(path))["creditnote"]["balance"] == 300.0


async def test_an_overpayments_credit_pays_another_invoice(books: httpx2.AsyncClient,
                                                           sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    acme = view.contact_id("Acme Corporation")
    before = moved(sandbox)
    payment = ok(await books.post("customerpayments", json={
        "customer_id": acme, "payment_mode": "banktransfer", "amount": 1000, "date": view.today.isoformat(),
        "account_id": view.account_id("Business Checking"),
        "invoices": [{"invoice_id": view.invoice_id("INV-000003"), "amount_applied": 688}]}), 201)["payment"]
    assert payment["unused_amount"] == 312.0
    ledger.post(("Business Checking", 1000), ("Accounts Receivable", -1000))
    later = ok(await books.post("invoices", json={"customer_id": acme, "line_items": [
        {"item_id": view.item_id("Support plan"), "quantity": 3}]}), 201)["invoice"]
    ok(await books.post(f"invoices/{later['invoice_id']}/status/sent"))
    ledger.post(("Accounts Receivable", 297), ("Sales", -297))
    too_much = await books.post(f"invoices/{later['invoice_id']}/credits", json={
        "invoice_payments": [{"payment_id": payment["payment_id"], "amount_applied": 313}]})
    assert error(too_much, 400, 9999) == (f"The amount applied (313.00) is more than payment "
                                          f"{payment['payment_number']}'s unused amount (312.00).")
    answer = ok(await books.post(f"invoices/{later['invoice_id']}/credits", json={
        "invoice_payments": [{"payment_id": payment["payment_id"], "amount_applied": 297}]}))
    assert answer["message"] == "Credits have been applied to the invoice(s)."
    assert ok(await books.get(f"invoices/{later['invoice_id']}"))["invoice"]["status"] == "paid"
    again = ok(await books.get(f"customerpayments/{payment['payment_id']}"))["payment"]
    assert again["unused_amount"] == 15.0
    assert {entry["invoice_id"] for entry in again["invoices"]} == {view.invoice_id("INV-000003"),
                                                                    later["invoice_id"]}
    assert changed(before, moved(sandbox)) == expected(ledger)
    # deleting the payment gives both invoices their balances back
    ok(await books.delete(f"customerpayments/{payment['payment_id']}"))
    assert ok(await books.get(f"invoices/{later['invoice_id']}"))["invoice"]["balance"] == 297.0


async def test_a_vendor_credit_posts_once_and_applies_to_a_bill(books: httpx2.AsyncClient,
                                                                sandbox: Sandbox) -> None:
    view, ledger = sandbox.store(ORG), Books(sandbox)
    before = moved(sandbox)
    office = view.contact_id("Office Supplies Co")
    made = ok(await books.post("vendorcredits", json={
        "vendor_id": office, "date": view.today.isoformat(),
        "line_items": [{"account_id": view.account_id("Office Supplies"), "rate": 4}]}), 201)["vendor_credit"]
    assert (made["vendor_credit_number"], made["status"]) == ("DN-00003", "open")
    ledger.post(("Accounts Payable", 4), ("Office Supplies", -4))
    bill = _find(sandbox, "bills", bill_number="OS-2231")
    seeded = _find(sandbox, "vendorcredits", vendor_credit_number="DN-00001")
    answer = ok(await books.post(f"bills/{bill['bill_id']}/credits", json={"apply_vendor_credits": [
        {"vendor_credit_id": made["vendor_credit_id"], "amount_applied": 4},
        {"vendor_credit_id": seeded["vendor_credit_id"], "amount_applied": 6}]}), 201)
    assert answer["code"] == 0
    shown = ok(await books.get(f"bills/{bill['bill_id']}"))["bill"]
    assert (shown["balance"], shown["status"]) == (2.0, "partially_paid")
    assert changed(before, moved(sandbox)) == expected(ledger)
    refund_to = view.account_id("Petty Cash")
    refused = await books.post(f"vendorcredits/{made['vendor_credit_id']}/refunds", json={
        "date": view.today.isoformat(), "amount": 1, "account_id": refund_to})
    assert error(refused, 400, 9999) == "Only an open vendor credit can be refunded; this one is closed."


async def test_a_credit_larger_than_its_balance_is_refused_with_nothing_changed(books: httpx2.AsyncClient,
                                                                               sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    note = _find(sandbox, "creditnotes", creditnote_number="CN-00001")
    assert (note["total"], note["customer_name"]) == (150.0, "Globex Ltd")
    path = f"creditnotes/{note['creditnote_id']}"
    snapshot = (view.invoices, view.creditnotes, view.journal())
    def applying(number: str, amount: float) -> dict[str, Any]:
        return {"invoices": [{"invoice_id": view.invoice_id(number), "amount_applied": amount}]}

    cases = [
        (f"{path}/invoices", applying("INV-000002", 151), 9999,
         "The amount applied (151.00) is more than the credit note's balance (150.00)."),
        (f"{path}/invoices", applying("INV-000003", 10), 3004,
         "Invoice INV-000003 does not belong to the customer Globex Ltd."),
        (f"{path}/invoices", applying("INV-000004", 10), 3004,
         "Invoice INV-000004 does not belong to the customer Globex Ltd."),
        (f"{path}/refunds", {"date": view.today.isoformat(), "amount": 150.01,
                             "from_account_id": view.account_id("Business Checking")},
         9999, "The refund (150.01) is more than the credit note's balance (150.00)."),
        (f"{path}/refunds", {"date": view.today.isoformat(), "amount": 10,
                             "from_account_id": view.account_id("Sales")},
         2, "Invalid value passed for from_account_id"),
        (f"invoices/{view.invoice_id('INV-000002')}/credits", {"apply_creditnotes": [
            {"creditnote_id": note["creditnote_id"], "amount_applied": 100},
            {"creditnote_id": note["creditnote_id"], "amount_applied": 60}]},
         9999, "The amount applied (160.00) is more than the credit note's balance (150.00)."),
    ]
    for route, body, code, message in cases:
        assert error(await books.post(route, json=body), 400, code) == message, route
        assert (view.invoices, view.creditnotes, view.journal()) == snapshot
    draft = _find(sandbox, "vendorcredits", status="draft")
    refused = await books.post(f"vendorcredits/{draft['vendor_credit_id']}/bills", json={"bills": [
        {"bill_id": _find(sandbox, "bills", bill_number="CH-1001")["bill_id"], "amount_applied": 1}]})
    assert error(refused, 400, 9999) == "Only an open vendor credit can be applied; this one is draft."


async def test_voiding_an_invoice_gives_its_credits_back(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    note = _find(sandbox, "creditnotes", creditnote_number="CN-00001")
    invoice_id = view.invoice_id("INV-000002")
    ok(await books.post(f"invoices/{invoice_id}/credits", json={"apply_creditnotes": [
        {"creditnote_id": note["creditnote_id"], "amount_applied": 150}]}))
    assert ok(await books.get(f"creditnotes/{note['creditnote_id']}"))["creditnote"]["status"] == "closed"
    assert error(await books.delete(f"invoices/{invoice_id}"), 400, 12008).startswith("Credits have been")
    ok(await books.post(f"invoices/{invoice_id}/status/void"))
    back = ok(await books.get(f"creditnotes/{note['creditnote_id']}"))["creditnote"]
    assert (back["status"], back["balance"]) == ("open", 150.0)
    entries = view.journal()
    assert sum((p.amount for e in entries for p in e.postings), Decimal(0)) == 0


async def test_a_customers_unused_credit_counts_its_open_credit_notes(books: httpx2.AsyncClient,
                                                                     sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    acme = view.contact_id("Acme Corporation")

    async def credit() -> float:
        return float(ok(await books.get(f"contacts/{acme}"))["contact"]["unused_credits_receivable_amount"])

    before = await credit()
    note = ok(await books.post("creditnotes", json={"customer_id": acme, "line_items": [
        {"item_id": view.item_id("Consulting"), "quantity": 1}]}), 201)["creditnote"]
    assert await credit() == before + 150
    ok(await books.post(f"creditnotes/{note['creditnote_id']}/refunds", json={
        "amount": 100, "date": note["date"], "from_account_id": view.account_id("Business Checking")}))
    assert await credit() == before + 50
    draft = ok(await books.post("creditnotes", json={"customer_id": acme, "is_draft": True, "line_items": [
        {"item_id": view.item_id("Consulting"), "quantity": 1}]}), 201)["creditnote"]
    assert draft["status"] == "draft" and await credit() == before + 50  # a draft is no credit yet
