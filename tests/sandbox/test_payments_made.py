"""Vendor payments: applied to bills, refused when they would not add up, undone by deleting; and payment rows
that name the documents they paid."""

from __future__ import annotations

from datetime import date, timedelta

from typing import Any

import httpx2

from tests.sandbox.conftest import ORG, error, ok
from zbmcp.sandbox import Sandbox


async def _bill(books: httpx2.AsyncClient, sandbox: Sandbox, number: str, rate: float = 500.0,
                vendor: str = "Cloud Hosting Ltd") -> dict[str, Any]:
    view = sandbox.store(ORG)
    return ok(await books.post("bills", json={
        "vendor_id": view.contact_id(vendor), "bill_number": number,
        "line_items": [{"account_id": view.account_id("IT and Internet Expenses"), "rate": rate}]}),
              201)["bill"]


async def _pay(books: httpx2.AsyncClient, sandbox: Sandbox, amount: float,
               *applied: tuple[dict[str, Any], float], vendor: str = "Cloud Hosting Ltd") -> httpx2.Response:
    view = sandbox.store(ORG)
    return await books.post("vendorpayments", json={
        "vendor_id": view.contact_id(vendor), "amount": amount, "date": view.today.isoformat(),
        "payment_mode": "banktransfer", "paid_through_account_id": view.account_id("Business Checking"),
        "bills": [{"bill_id": bill["bill_id"], "amount_applied": share} for bill, share in applied]})


def _bill_state(sandbox: Sandbox, bill: dict[str, Any]) -> tuple[str, float]:
    stored = sandbox.store(ORG).bills[bill["bill_id"]]
    return stored["status"], stored["balance"]


async def test_a_vendor_payment_pays_bills_down_and_deleting_it_restores_them(books: httpx2.AsyncClient,
                                                                             sandbox: Sandbox) -> None:
    first, second = await _bill(books, sandbox, "CH-2001"), await _bill(books, sandbox, "CH-2002", 300.0)
    body = ok(await _pay(books, sandbox, 900, (first, 500), (second, 100)), 201)
    assert body["message"] == "The payment made to the vendor has been recorded."
    payment = body["vendorpayment"]
    assert payment["balance"] == 300.0 and payment["bill_numbers"] == "CH-2001, CH-2002"
    assert [(entry["bill_number"], entry["amount_applied"], entry["balance"]) for entry in payment["bills"]] \
        == [("CH-2001", 500.0, 0.0), ("CH-2002", 100.0, 200.0)]
    assert _bill_state(sandbox, first) == ("paid", 0.0) \
        and _bill_state(sandbox, second) == ("partially_paid", 200.0)
    assert ok(await books.get(f"vendorpayments/{payment['payment_id']}"))["vendorpayment"]["amount"] == 900.0
    rows = ok(await books.get("vendorpayments", params={"bill_id": first["bill_id"]}))["vendorpayments"]
    assert [row["payment_id"] for row in rows] == [payment["payment_id"]] and "bills" not in rows[0]
    assert rows[0]["bill_numbers"] == "CH-2001, CH-2002"
    ok(await books.delete(f"vendorpayments/{payment['payment_id']}"))
    assert _bill_state(sandbox, first) == ("open", 500.0) and _bill_state(sandbox, second) == ("open", 300.0)
    error(await books.get(f"vendorpayments/{payment['payment_id']}"), 404, 1002)


async def test_vendor_payments_that_do_not_add_up_are_refused_and_change_nothing(books: httpx2.AsyncClient,
                                                                                sandbox: Sandbox) -> None:
    bill = await _bill(books, sandbox, "CH-3001")
    others = await _bill(books, sandbox, "OS-3001", vendor="Office Supplies Co")
    before = sandbox.store(ORG).vendorpayments
    # a customer payment's codes for the same mistakes (24016, 3004); Zoho has none of its own for bills
    assert "more than the balance due for this bill" in error(await _pay(books, sandbox, 600, (bill, 600)),
                                                              400, 24016)
    assert "more than the amount" in error(await _pay(books, sandbox, 100, (bill, 200)), 400, 9999)
    assert "does not belong" in error(await _pay(books, sandbox, 100, (others, 100)), 400, 3004)
    yesterday = (sandbox.store(ORG).today - timedelta(days=1)).isoformat()
    early = await books.post("vendorpayments", json={
        "vendor_id": bill["vendor_id"], "amount": 10, "date": yesterday,
        "bills": [{"bill_id": bill["bill_id"], "amount_applied": 10}]})
    assert "is before the date of bill CH-3001" in error(early, 400, 9999)
    view = sandbox.store(ORG)
    through_income = await books.post("vendorpayments", json={
        "vendor_id": view.contact_id("Cloud Hosting Ltd"), "amount": 10, "paid_through_account_id":
        view.account_id("Sales")})
    assert error(through_income, 400, 2) == "Invalid value passed for paid_through_account_id"
    to_a_customer = await books.post("vendorpayments", json={"vendor_id": view.contact_id("Acme Corporation"),
                                                             "amount": 10})
    assert error(to_a_customer, 400, 2) == "Invalid value passed for vendor_id"
    assert error(await books.post("vendorpayments", json={"vendor_id": view.contact_id("Cloud Hosting Ltd")}),
                 400, 4) == "amount is required."
    assert sandbox.store(ORG).vendorpayments == before and _bill_state(sandbox, bill) == ("open", 500.0)


async def test_customer_payment_rows_name_the_invoices_they_paid(books: httpx2.AsyncClient,
                                                                 sandbox: Sandbox) -> None:
    rows = ok(await books.get("customerpayments", params={"sort_column": "date", "sort_order": "A"}))[
        "customerpayments"]
    assert [row["invoice_number"] for row in rows] == ["INV-000001", "INV-000003"]
    assert [row["bcy_amount"] for row in rows] == [row["amount"] for row in rows]


async def test_bills_say_when_they_are_due_as_invoices_do(books: httpx2.AsyncClient,
                                                          sandbox: Sandbox) -> None:
    """Zoho's bill rows carry due_days, as invoices do: "Due in 15 day(s)", "Overdue by 3 day(s)"."""
    bill = await _bill(books, sandbox, "CH-4001")  # Cloud Hosting Ltd pays in 15 days
    rows = {row["bill_number"]: row for row in ok(await books.get("bills"))["bills"]}
    shown = ok(await books.get(f"bills/{bill['bill_id']}"))["bill"]
    assert shown["due_days"] == rows["CH-4001"]["due_days"] == "Due in 15 day(s)"
    overdue = rows["CH-1001"]
    days = (sandbox.store(ORG).today - date.fromisoformat(overdue["due_date"])).days
    assert overdue["status"] == "overdue" and overdue["due_days"] == f"Overdue by {days} day(s)"
    await _pay(books, sandbox, bill["total"], (bill, bill["total"]))
    assert ok(await books.get(f"bills/{bill['bill_id']}"))["bill"]["due_days"] == ""  # paid: nothing due
