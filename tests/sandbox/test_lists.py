"""List endpoints: paging, the per_page cap, filters, search and sorting (§4, §5)."""

from __future__ import annotations

import httpx2
import pytest

from tests.sandbox.conftest import ORG, error, ok
from zbmcp.sandbox import Sandbox


async def _invoices(books: httpx2.AsyncClient, **params: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = ok(await books.get("invoices", params=params))["invoices"]
    return rows


async def test_paging_walks_every_record_once(books: httpx2.AsyncClient) -> None:
    for index in range(7):
        ok(await books.post("contacts", json={"contact_name": f"Paging Customer {index}"}), 201)
    seen: list[str] = []
    page = 1
    while True:
        body = ok(await books.get("contacts", params={"page": str(page), "per_page": "3"}))
        context = body["page_context"]
        assert context["page"] == page and context["per_page"] == 3 and len(body["contacts"]) <= 3
        seen += [contact["contact_id"] for contact in body["contacts"]]
        if not context["has_more_page"]:
            break
        page += 1
    assert page == 4 and len(seen) == len(set(seen)) == 12  # 5 seeded + 7 new


async def test_per_page_above_200_is_clamped(books: httpx2.AsyncClient) -> None:
    for index in range(201):
        ok(await books.post("items", json={"name": f"Bulk item {index:03d}", "rate": index}), 201)
    body = ok(await books.get("items", params={"per_page": "500"}))
    assert body["page_context"]["per_page"] == 200 and len(body["items"]) == 200
    assert body["page_context"]["has_more_page"] is True
    rest = ok(await books.get("items", params={"per_page": "500", "page": "2"}))
    assert len(rest["items"]) == 205 - 200 and rest["page_context"]["has_more_page"] is False


@pytest.mark.parametrize("params, field", [
    ({"page": "0"}, "page"), ({"page": "two"}, "page"), ({"per_page": "0"}, "per_page"),
    ({"per_page": "-5"}, "per_page"), ({"status": "bogus"}, "status"), ({"filter_by": "Nope"}, "filter_by"),
    ({"sort_column": "colour"}, "sort_column"), ({"sort_order": "up"}, "sort_order"),
    ({"date_start": "yesterday"}, "date_start"), ({"total_greater_than": "lots"}, "total_greater_than"),
])
async def test_bad_list_parameters_are_400_naming_them(books: httpx2.AsyncClient, params: dict[str, str],
                                                        field: str) -> None:
    assert error(await books.get("invoices", params=params), 400, 2) == f"Invalid value passed for {field}"


async def test_unknown_parameters_are_ignored(books: httpx2.AsyncClient) -> None:
    assert len(await _invoices(books, colour="blue")) == 4


async def test_status_and_filter_by(books: httpx2.AsyncClient) -> None:
    by_status = {status: [row["invoice_number"] for row in await _invoices(books, status=status)]
                 for status in ("draft", "overdue", "paid", "partially_paid", "unpaid", "void")}
    assert by_status == {"draft": ["INV-000004"], "overdue": ["INV-000002"], "paid": ["INV-000001"],
                         "partially_paid": ["INV-000003"], "unpaid": ["INV-000003", "INV-000002"], "void": []}
    body = ok(await books.get("invoices", params={"filter_by": "Status.Draft"}))
    assert [row["invoice_number"] for row in body["invoices"]] == ["INV-000004"]
    assert body["page_context"]["applied_filter"] == "Status.Draft"


async def test_customer_search_text_and_text_suffixes(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    assert {row["customer_name"] for row in await _invoices(books, customer_id=acme)} == {"Acme Corporation"}
    assert len(await _invoices(books, customer_id=acme)) == 2
    assert {row["invoice_number"] for row in await _invoices(books, search_text="acme")} == {
        "INV-000001", "INV-000003"}
    assert [row["invoice_number"] for row in await _invoices(books, search_text="000004")] == ["INV-000004"]
    assert [row["customer_name"] for row in await _invoices(books, customer_name_startswith="glo")] \
        == ["Globex Ltd"]
    assert [row["customer_name"] for row in await _invoices(books, customer_name_contains="TECH")] \
        == ["Initech"]
    assert [row["invoice_number"] for row in await _invoices(books, invoice_number="inv-000002")] \
        == ["INV-000002"]
    assert len(await _invoices(books, invoice_number_startswith="INV-00000")) == 4
    assert {row["invoice_number"] for row in await _invoices(books, item_name_contains="consult")} == {
        "INV-000002", "INV-000004"}
    contacts = ok(await books.get("contacts", params={"contact_name_startswith": "cloud"}))["contacts"]
    assert [contact["contact_name"] for contact in contacts] == ["Cloud Hosting Ltd"]


async def test_date_ranges(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    dates = {row["invoice_number"]: row["date"] for row in await _invoices(books)}
    middle = dates["INV-000002"]
    assert {row["invoice_number"] for row in await _invoices(books, date_start=middle)} == {
        "INV-000002", "INV-000003", "INV-000004"}
    assert {row["invoice_number"] for row in await _invoices(books, date_after=middle)} == {
        "INV-000003", "INV-000004"}
    assert {row["invoice_number"] for row in await _invoices(books, date_end=middle)} \
        == {"INV-000001", "INV-000002"}
    assert {row["invoice_number"] for row in await _invoices(books, date_before=middle)} == {"INV-000001"}
    assert [row["invoice_number"] for row in await _invoices(books, date=middle)] == ["INV-000002"]
    both = await _invoices(books, date_start=dates["INV-000002"], date_end=dates["INV-000003"])
    assert {row["invoice_number"] for row in both} == {"INV-000002", "INV-000003"}


async def test_number_ranges(books: httpx2.AsyncClient) -> None:
    assert {row["invoice_number"] for row in await _invoices(books, total_greater_than="1188")} == {
        "INV-000001", "INV-000002"}
    assert {row["invoice_number"] for row in await _invoices(books, total_greater_equals="1188")} == {
        "INV-000001", "INV-000002", "INV-000003"}
    assert [row["invoice_number"] for row in await _invoices(books, total_less_than="1000")] == ["INV-000004"]
    assert [row["invoice_number"] for row in await _invoices(books, balance="688")] == ["INV-000003"]
    expenses = ok(await books.get("expenses", params={"amount_less_equals": "100"}))["expenses"]
    assert [expense["description"] for expense in expenses] == ["Stationery"]


async def test_sorting(books: httpx2.AsyncClient) -> None:
    default = ok(await books.get("invoices"))
    assert (default["page_context"]["sort_column"], default["page_context"]["sort_order"]) \
        == ("created_time", "D")
    assert [row["invoice_number"] for row in default["invoices"]] == [
        "INV-000004", "INV-000003", "INV-000002", "INV-000001"]  # newest first
    ascending = [row["total"] for row in await _invoices(books, sort_column="total", sort_order="A")]
    assert ascending == sorted(ascending) and ascending[0] == 450.0
    descending = [row["customer_name"] for row in await _invoices(books, sort_column="customer_name",
                                                                  sort_order="D")]
    assert descending == ["Initech", "Globex Ltd", "Acme Corporation", "Acme Corporation"]
    names = [contact["contact_name"] for contact in ok(await books.get("contacts"))["contacts"]]
    assert names == sorted(names, key=str.lower)  # contacts default to contact_name A


async def test_list_rows_are_summaries(books: httpx2.AsyncClient) -> None:
    row = (await _invoices(books, status="overdue"))[0]
    assert "line_items" not in row and row["due_days"].startswith("Overdue by")


async def test_items_default_to_active_ones(books: httpx2.AsyncClient) -> None:
    names = [item["name"] for item in ok(await books.get("items"))["items"]]
    assert names == ["Consulting", "Printer paper", "Support plan", "Website design"]
    every = ok(await books.get("items", params={"filter_by": "Status.All"}))
    assert "Legacy hosting" in [item["name"] for item in every["items"]]
    assert every["page_context"]["applied_filter"] == "Status.All"
    cheap = ok(await books.get("items", params={"rate_less_than": "100"}))["items"]
    assert [item["name"] for item in cheap] == ["Printer paper", "Support plan"]


async def test_accounts_lists(books: httpx2.AsyncClient) -> None:
    banks = ok(await books.get("bankaccounts"))["bankaccounts"]
    assert [(bank["account_name"], bank["account_type"]) for bank in banks] == [
        ("Business Checking", "bank"), ("Company Credit Card", "credit_card")]
    assert banks[0]["balance"] == 25000 + 2400 - 1200  # opening + deposited payment - rent paid
    expense_accounts = ok(await books.get("chartofaccounts", params={"filter_by": "AccountType.Expense"}))
    names = {row["account_name"] for row in expense_accounts["chartofaccounts"]}
    assert {"Office Supplies", "Rent Expense", "Cost of Goods Sold"} <= names and "Sales" not in names


async def test_payment_mode_filter(books: httpx2.AsyncClient) -> None:
    checks = ok(await books.get("customerpayments", params={"filter_by": "PaymentMode.Check"}))
    assert [payment["amount"] for payment in checks["customerpayments"]] == [500.0]
    assert checks["page_context"]["applied_filter"] == "PaymentMode.Check"
    transfers = ok(await books.get("customerpayments", params={"filter_by": "PaymentMode.BankTransfer"}))
    assert [payment["amount"] for payment in transfers["customerpayments"]] == [2400.0]


@pytest.mark.parametrize("path, params, key, expected", [
    ("estimates", {"status": "sent"}, "estimates", 1),
    ("estimates", {"status": "draft"}, "estimates", 1),
    ("bills", {"status": "overdue"}, "bills", 1),
    ("bills", {"vendor_name_contains": "office"}, "bills", 1),
    ("salesorders", {"status": "draft"}, "salesorders", 1),
    ("purchaseorders", {"filter_by": "Status.Draft"}, "purchaseorders", 1),
    ("expenses", {"filter_by": "Status.Billable"}, "expenses", 0),
    ("contacts", {"contact_type": "vendor"}, "contacts", 2),
    ("contacts", {"filter_by": "Invoice.OverDue"}, "contacts", 1),
])
async def test_module_filters(books: httpx2.AsyncClient, path: str, params: dict[str, str], key: str,
                              expected: int) -> None:
    assert len(ok(await books.get(path, params=params))[key]) == expected
