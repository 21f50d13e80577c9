"""Update or create by a unique custom field's value (X-Unique-Identifier-Key/-Value, X-Upsert), as Zoho's
files describe it for nine modules: one record per value, however often it is sent."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.sandbox.conftest import ORG, auth, error, ok
from zbmcp.sandbox import Sandbox


def _invoice(sandbox: Sandbox, quantity: int = 1) -> dict[str, Any]:
    view = sandbox.store(ORG)
    return {"customer_id": view.contact_id("Acme Corporation"),
            "line_items": [{"item_id": view.item_id("Consulting"), "quantity": quantity}]}


def _by(value: str, field: str = "cf_zbmcp_key", upsert: bool = True) -> dict[str, str]:
    headers = {"X-Unique-Identifier-Key": field, "X-Unique-Identifier-Value": value}
    return {**headers, "X-Upsert": "true"} if upsert else headers


async def test_the_first_upsert_makes_the_record_and_the_next_updates_that_one(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    before = len(sandbox.store(ORG).invoices)
    made = ok(await books.put("invoices", json=_invoice(sandbox), headers=_by("zbmcp-1")))["invoice"]
    again = ok(await books.put("invoices", json=_invoice(sandbox, 2), headers=_by("zbmcp-1")))
    assert again["message"] == "Invoice information has been updated."  # as Zoho's file documents it
    assert again["invoice"]["invoice_id"] == made["invoice_id"]
    assert again["invoice"]["line_items"][0]["quantity"] == 2  # updated with the body
    assert {"api_name": "cf_zbmcp_key", "value": "zbmcp-1"} in made["custom_fields"]
    assert len(sandbox.store(ORG).invoices) == before + 1
    other = ok(await books.put("invoices", json=_invoice(sandbox), headers=_by("zbmcp-2")))["invoice"]
    assert other["invoice_id"] != made["invoice_id"] and len(sandbox.store(ORG).invoices) == before + 2


@pytest.mark.parametrize(("path", "key", "body"), [
    ("bills", "bill", lambda s: {"vendor_id": s.store(ORG).contact_id("Office Supplies Co"),
                                 "bill_number": "U-1",
                                 "line_items": [{"account_id": s.store(ORG).account_id("Rent Expense"),
                                                 "rate": 5}]}),
    ("contacts", "contact", lambda s: {"contact_name": "Upserted Ltd"}),
    ("items", "item", lambda s: {"name": "Upserted item", "rate": 5}),
])
async def test_other_modules_make_one_record_per_value(books: httpx2.AsyncClient, sandbox: Sandbox,
                                                       path: str, key: str, body: Any) -> None:
    before = len(getattr(sandbox.store(ORG), path))
    first = ok(await books.put(path, json=body(sandbox), headers=_by("v")))[key]
    second = ok(await books.put(path, json=body(sandbox), headers=_by("v")))[key]
    assert first[f"{key}_id"] == second[f"{key}_id"]
    assert len(getattr(sandbox.store(ORG), path)) == before + 1


async def test_without_x_upsert_a_value_no_record_holds_is_not_found(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    before = len(sandbox.store(ORG).invoices)
    response = await books.put("invoices", json=_invoice(sandbox), headers=_by("nowhere", upsert=False))
    assert error(response, 404, 1002) == "Invoice does not exist."
    assert len(sandbox.store(ORG).invoices) == before


@pytest.mark.parametrize(("field", "says"), [("cf_missing", "is not a custom field of invoices"),
                                             ("cf_project_code", "accepts duplicate values")])
async def test_a_field_that_cannot_identify_a_record_is_refused_and_nothing_is_made(
        books: httpx2.AsyncClient, sandbox: Sandbox, field: str, says: str) -> None:
    before = len(sandbox.store(ORG).invoices)
    message = error(await books.put("invoices", json=_invoice(sandbox), headers=_by("v", field)), 400, 9999)
    assert field in message and says in message and len(sandbox.store(ORG).invoices) == before


async def test_a_module_without_it_refuses_it(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    response = await books.put("bankaccounts", json={"account_name": "Upserted", "account_type": "bank"},
                               headers=_by("v"))
    assert response.status_code >= 400 and response.json()["code"] != 0


async def test_it_takes_the_modules_update_scope(sandbox: Sandbox) -> None:
    token = sandbox.mint_access_token(["ZohoBooks.invoices.CREATE", "ZohoBooks.invoices.READ"])
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app),
                                  base_url="http://sandbox.test/books/v3/") as client:
        response = await client.put("invoices", params={"organization_id": ORG}, json=_invoice(sandbox),
                                    headers={**auth(token), **_by("v")})
    assert response.status_code == 401 and response.json()["code"] == 57
