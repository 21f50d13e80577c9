"""Every /books/v3 operation answers with Zoho's envelope: status code, resource key and message (§3)."""

from __future__ import annotations

import re

import httpx2
import pytest

from tests.sandbox.conftest import ORG, OTHER_ORG, ok
from zbmcp.sandbox import Sandbox

ZOHO_ID = re.compile(r"^[0-9]{10,}$")


async def test_organizations_lists_only_the_callers_own(books: httpx2.AsyncClient) -> None:
    body = ok(await books.get("organizations", params={"organization_id": ""}))
    orgs = {org["organization_id"]: org for org in body["organizations"]}
    assert set(orgs) == {"10234695", "10234696"}
    assert orgs["10234695"]["name"] == "Sandbox Trading Ltd" and orgs["10234695"]["currency_code"] == "GBP"
    assert orgs["10234696"]["name"] == "Sandbox Services Inc" and orgs["10234696"]["currency_code"] == "USD"
    assert orgs["10234695"]["is_default_org"] is True


@pytest.mark.parametrize("path, key", [
    ("invoices", "invoices"), ("contacts", "contacts"), ("estimates", "estimates"),
    ("salesorders", "salesorders"), ("bills", "bills"), ("purchaseorders", "purchaseorders"),
    ("expenses", "expenses"), ("customerpayments", "customerpayments"), ("items", "items"),
    ("bankaccounts", "bankaccounts"), ("chartofaccounts", "chartofaccounts"),
])
async def test_every_list_has_its_key_and_a_page_context_object(books: httpx2.AsyncClient, path: str,
                                                                key: str) -> None:
    body = ok(await books.get(path))
    assert body["message"] == "success"
    assert isinstance(body[key], list) and body[key], f"seed data should fill {path}"
    context = body["page_context"]
    assert {"page", "per_page", "has_more_page", "applied_filter", "sort_column", "sort_order",
            "report_name"} <= set(context)
    assert context["page"] == 1 and context["per_page"] == 200 and context["has_more_page"] is False
    id_key = {"customerpayments": "payment_id", "bankaccounts": "account_id", "chartofaccounts": "account_id",
              "salesorders": "salesorder_id", "purchaseorders": "purchaseorder_id"}.get(path,
                                                                                        path[:-1] + "_id")
    assert all(isinstance(row[id_key], str) and ZOHO_ID.match(row[id_key]) for row in body[key])


async def test_invoice_lifecycle_operations(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    created = ok(await books.post("invoices", json={
        "customer_id": view.contact_id("Acme Corporation"),
        "line_items": [{"item_id": view.item_id("Consulting"), "quantity": 3}],
    }), 201)
    assert created["message"] == "The invoice has been created."
    invoice = created["invoice"]
    assert invoice["status"] == "draft" and invoice["total"] == 450.0 and invoice["balance"] == 450.0
    assert ZOHO_ID.match(invoice["invoice_id"]) and invoice["invoice_number"] == "INV-000005"
    invoice_id = invoice["invoice_id"]

    fetched = ok(await books.get(f"invoices/{invoice_id}"))
    assert fetched["message"] == "success" and fetched["invoice"]["line_items"][0]["name"] == "Consulting"

    updated = ok(await books.put(f"invoices/{invoice_id}", json={"reference_number": "PO-42"}))
    assert updated["message"] == "Invoice information has been updated."
    assert updated["invoice"]["reference_number"] == "PO-42" and updated["invoice"]["total"] == 450.0

    sent = ok(await books.post(f"invoices/{invoice_id}/status/sent"))
    assert sent == {"code": 0, "message": "Invoice status has been changed to Sent."}
    emailed = ok(await books.post(f"invoices/{invoice_id}/email", json={}))
    assert emailed == {"code": 0, "message": "Your invoice has been sent."}

    deleted = ok(await books.delete(f"invoices/{invoice_id}"))
    assert deleted == {"code": 0, "message": "The invoice has been deleted."}
    assert invoice_id not in sandbox.store(ORG).invoices


async def test_contact_operations(books: httpx2.AsyncClient) -> None:
    created = ok(await books.post("contacts", json={"contact_name": "Hooli", "contact_type": "customer"}),
                 201)
    assert created["message"] == "The contact has been created"
    contact_id = created["contact"]["contact_id"]
    assert ok(await books.get(f"contacts/{contact_id}"))["contact"]["contact_name"] == "Hooli"
    updated = ok(await books.put(f"contacts/{contact_id}", json={"company_name": "Hooli XYZ"}))
    assert updated["message"] == "Contact has been updated successfully"
    assert updated["contact"]["contact_name"] == "Hooli" and updated["contact"]["company_name"] == "Hooli XYZ"
    assert ok(await books.delete(f"contacts/{contact_id}")) \
        == {"code": 0, "message": "The contact has been deleted."}


async def test_estimate_operations(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    created = ok(await books.post("estimates", json={
        "customer_id": view.contact_id("Globex Ltd"), "line_items": [{"name": "Audit", "rate": 900}]}), 201)
    assert created["message"] == "The estimate has been created"
    estimate = created["estimate"]
    assert estimate["estimate_number"] == "EST-000003" and estimate["status"] == "draft"
    assert ok(await books.get(f"estimates/{estimate['estimate_id']}"))["estimate"]["total"] == 900.0
    emailed = ok(await books.post(f"estimates/{estimate['estimate_id']}/email"))
    assert emailed == {"code": 0, "message": "Your estimate has been sent."}


async def test_salesorder_and_purchaseorder_operations(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    order = ok(await books.post("salesorders", json={
        "customer_id": view.contact_id("Initech"),
        "line_items": [{"item_id": view.item_id("Support plan")}]}), 201)
    assert order["message"] == "Sales Order Created Successfully."
    assert isinstance(order["salesorder"], dict) and order["salesorder"]["salesorder_number"] == "SO-00002"
    assert ok(await books.get(f"salesorders/{order['salesorder']['salesorder_id']}"))["salesorder"]["total"] \
        == 99.0

    purchase = ok(await books.post("purchaseorders", json={
        "vendor_id": view.contact_id("Office Supplies Co"),
        "line_items": [{"item_id": view.item_id("Printer paper"), "quantity": 4,
                        "account_id": view.account_id("Office Supplies")}]}), 201)
    assert purchase["message"] == "Purchase Order has been added."
    assert purchase["purchaseorder"]["purchaseorder_number"] == "PO-00002"
    assert purchase["purchaseorder"]["total"] == 24.0  # the purchase rate, not the sales rate
    one = ok(await books.get(f"purchaseorders/{purchase['purchaseorder']['purchaseorder_id']}"))
    assert one["purchaseorder"]["vendor_name"] == "Office Supplies Co"


async def test_bill_and_expense_operations(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    bill = ok(await books.post("bills", json={
        "vendor_id": view.contact_id("Cloud Hosting Ltd"), "bill_number": "CH-1002",
        "line_items": [{"name": "Hosting", "rate": 180,
                        "account_id": view.account_id("IT and Internet Expenses")}],
    }), 201)
    assert bill["message"] == "success" and bill["bill"]["status"] == "open" \
        and bill["bill"]["balance"] == 180.0
    assert ok(await books.get(f"bills/{bill['bill']['bill_id']}"))["bill"]["bill_number"] == "CH-1002"
    # An expense line is just an account, a rate and a quantity: Zoho names it after the account.
    account_line = ok(await books.post("bills", json={
        "vendor_id": view.contact_id("Cloud Hosting Ltd"), "bill_number": "CH-1003",
        "line_items": [{"account_id": view.account_id("IT and Internet Expenses"), "rate": 20}]}), 201)
    assert account_line["bill"]["line_items"][0]["name"] == "IT and Internet Expenses"
    nothing = await books.post("bills", json={"vendor_id": view.contact_id("Cloud Hosting Ltd"),
                                              "bill_number": "CH-1004", "line_items": [{"rate": 20}]})
    assert nothing.status_code == 400 and "line_items[0].account_id" in nothing.json()["message"]

    expense = ok(await books.post("expenses", json={
        "account_id": view.account_id("Travel Expense"), "date": "2025-03-01", "amount": 42.5,
        "paid_through_account_id": view.account_id("Company Credit Card")}), 201)
    assert expense["message"] == "The expense has been recorded."
    assert expense["expense"]["account_name"] == "Travel Expense" and expense["expense"]["total"] == 42.5
    assert ok(await books.get(f"expenses/{expense['expense']['expense_id']}"))["expense"]["amount"] == 42.5


async def test_customer_payment_operations(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    invoice_id = view.invoice_id("INV-000002")
    created = ok(await books.post("customerpayments", json={
        "customer_id": view.contact_id("Globex Ltd"), "payment_mode": "cash", "amount": 200,
        "date": view.today.isoformat(), "invoices": [{"invoice_id": invoice_id, "amount_applied": 200}]}),
        201)
    assert created["message"] == "The payment has been created."
    payment = created["payment"]
    assert payment["invoices"] == [{"invoice_id": invoice_id, "invoice_number": "INV-000002", "date":
                                    view.invoices[invoice_id]["date"], "invoice_amount": 1200.0,
                                    "amount_applied": 200.0, "balance_amount": 1000.0}]
    listed = ok(await books.get("customerpayments"))
    assert payment["payment_id"] in {row["payment_id"] for row in listed["customerpayments"]}
    assert ok(await books.get(f"customerpayments/{payment['payment_id']}"))["payment"]["amount"] == 200.0
    deleted = ok(await books.delete(f"customerpayments/{payment['payment_id']}"))
    assert deleted == {"code": 0, "message": "The payment has been deleted."}


async def test_item_bank_and_chart_operations(books: httpx2.AsyncClient) -> None:
    item = ok(await books.post("items", json={"name": "Training", "rate": 500}), 201)
    assert item["message"] == "The item has been added." and item["item"]["status"] == "active"
    assert ok(await books.get(f"items/{item['item']['item_id']}"))["item"]["rate"] == 500

    bank = ok(await books.post("bankaccounts", json={"account_name": "Savings", "account_type": "bank"}), 201)
    assert bank["message"] == "The account has been created." and bank["bankaccount"]["balance"] == 0.0
    one = ok(await books.get(f"bankaccounts/{bank['bankaccount']['account_id']}"))
    assert one["bankaccount"]["account_name"] == "Savings"

    chart = ok(await books.post("chartofaccounts",
                                json={"account_name": "Marketing", "account_type": "expense"}),
               201)
    assert chart["message"] == "The account has been created."
    assert chart["chart_of_account"]["account_type"] == "expense"
    one = ok(await books.get(f"chartofaccounts/{chart['chart_of_account']['account_id']}"))
    assert one["chart_of_account"]["account_name"] == "Marketing"


async def test_auto_numbering_is_per_organization(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    numbers = []
    for org in (ORG, ORG, OTHER_ORG):
        view = sandbox.store(org)
        body = ok(await books.post("invoices", params={"organization_id": org}, json={
            "customer_id": view.contact_id("Initech"),
            "line_items": [{"item_id": view.item_id("Consulting")}]}), 201)
        numbers.append(body["invoice"]["invoice_number"])
    assert numbers == ["INV-000005", "INV-000006", "INV-000005"]


async def test_every_request_is_recorded_without_secrets(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    await books.post("contacts", json={"contact_name": "Vandelay Industries"})
    await books.get(f"invoices/{view.invoice_id('INV-000001')}")
    create, get = sandbox.api_requests[-2:]
    assert (create.method, create.path, create.route, create.status, create.code) == (
        "POST", "/contacts", "POST /contacts", 201, 0)
    assert create.body == {"contact_name": "Vandelay Industries"} and create.organization_id == ORG
    assert get.route == "GET /invoices/{invoice_id}" and get.query == {"organization_id": ORG}
    assert "oauthtoken" not in repr(sandbox.api_requests).lower()
