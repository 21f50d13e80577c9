"""Bodies: both encodings, malformed input, required fields, type errors, unknown references, and that a
refused write changes nothing and no client mistake is ever a 500."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.conftest import FULL, ORG, asgi_client, auth, error, ok
from zbmcp.sandbox import Sandbox, SandboxSettings

JSONSTRING = "Invalid value passed for JSONString"


def _ids(sandbox: Sandbox) -> dict[str, str]:
    view = sandbox.store(ORG)
    return {
        "acme": view.contact_id("Acme Corporation"), "initech": view.contact_id("Initech"),
        "office": view.contact_id("Office Supplies Co"), "consulting": view.item_id("Consulting"),
        "rent": view.account_id("Rent Expense"), "checking": view.account_id("Business Checking"),
        "sales": view.account_id("Sales"), "draft": view.invoice_id("INV-000004"),
    }


def fill(value: Any, ids: dict[str, str]) -> Any:
    """Replace "{acme}"-style placeholders with the seeded ids."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    return value


async def test_json_form_and_multipart_bodies_are_all_accepted(books: httpx2.AsyncClient) -> None:
    as_json = ok(await books.post("contacts", json={"contact_name": "Alpha"}), 201)
    as_form = ok(await books.post("contacts", data={"JSONString": json.dumps({"contact_name": "Beta"})}), 201)
    as_multipart = ok(await books.post("contacts",
                                       files={"JSONString": (None, json.dumps({"contact_name": "Gamma"}))}),
                      201)
    names = [body["contact"]["contact_name"] for body in (as_json, as_form, as_multipart)]
    assert names == ["Alpha", "Beta", "Gamma"]


@pytest.mark.parametrize("kwargs", [
    {"content": b"{not json", "headers": {"content-type": "application/json"}},
    {"content": b"[1, 2]", "headers": {"content-type": "application/json"}},
    {"content": b"\"a string\"", "headers": {"content-type": "application/json"}},
    {"content": b"{\"a\": NaN}", "headers": {"content-type": "application/json"}},
    {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
    {"content": b"", "headers": {"content-type": "application/json"}},
    {"data": {"contact_name": "Delta"}},
    {"data": {"JSONString": "{broken"}},
    {"data": {"JSONString": "[]"}},
    {"files": {"JSONString": ("body.json", b"{}", "application/json")}},
    {"content": b"garbage", "headers": {"content-type": "multipart/form-data"}},
    {"content": b"garbage", "headers": {"content-type": "multipart/form-data; boundary=xyz"}},
])
async def test_malformed_bodies_are_400_jsonstring(books: httpx2.AsyncClient, kwargs: dict[str, Any]) -> None:
    assert error(await books.post("contacts", **kwargs), 400, 4) == JSONSTRING


async def test_a_body_is_optional_on_email_but_must_parse_if_sent(books: httpx2.AsyncClient,
                                                                  sandbox: Sandbox) -> None:
    invoice_id = sandbox.store(ORG).invoice_id("INV-000001")
    ok(await books.post(f"invoices/{invoice_id}/email"))
    error(await books.post(f"invoices/{invoice_id}/email", content=b"{",
                           headers={"content-type": "application/json"}),
          400, 4)


@pytest.mark.parametrize("path, body, field", [
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 1}]}, "customer_id"),
    ("invoices", {"customer_id": "{acme}"}, "line_items"),
    ("invoices", {"customer_id": "{acme}", "line_items": []}, "line_items"),
    ("invoices", {"customer_id": "{acme}", "line_items": [{"name": "x", "rate": 5}]},
     "line_items[0].item_id"),
    ("estimates", {"customer_id": "{acme}", "line_items": [{"rate": 5}]}, "line_items[0].item_id or"),
    ("estimates", {"customer_id": "{acme}", "line_items": [{"name": "x"}]}, "line_items[0].rate"),
    ("estimates", {"customer_id": "{acme}"}, "line_items"),
    ("estimates", {"line_items": [{"item_id": "{consulting}"}]}, "customer_id"),
    ("salesorders", {"line_items": [{"item_id": "{consulting}"}]}, "customer_id"),
    ("salesorders", {"customer_id": "{acme}"}, "line_items"),
    ("bills", {"bill_number": "B-1", "line_items": [{"name": "x", "rate": 1}]}, "vendor_id"),
    ("bills", {"vendor_id": "{office}", "line_items": [{"name": "x", "rate": 1}]}, "bill_number"),
    ("purchaseorders", {"vendor_id": "{office}"}, "line_items"),
    ("purchaseorders", {"line_items": [{"name": "x", "rate": 1}]}, "vendor_id"),
    ("purchaseorders", {"vendor_id": "{office}", "line_items": [{"name": "x", "rate": 1}]},
     "line_items[0].account_id"),
    ("purchaseorders", {"vendor_id": "{office}", "line_items": [{"item_id": "{consulting}"}]},
     "line_items[0].account_id"),
    ("expenses", {"date": "2025-01-01", "amount": 5, "paid_through_account_id": "{checking}"}, "account_id"),
    ("expenses", {"account_id": "{rent}", "amount": 5, "paid_through_account_id": "{checking}"}, "date"),
    ("expenses", {"account_id": "{rent}", "date": "2025-01-01", "paid_through_account_id": "{checking}"},
     "amount"),
    ("expenses", {"account_id": "{rent}", "date": "2025-01-01", "amount": 5}, "paid_through_account_id"),
    ("customerpayments", {"payment_mode": "cash", "amount": 1, "date": "2025-01-01", "invoices": []},
     "customer_id"),
    ("customerpayments", {"customer_id": "{acme}", "amount": 1, "date": "2025-01-01", "invoices": []},
     "payment_mode"),
    ("customerpayments", {"customer_id": "{acme}", "payment_mode": "cash", "date": "2025-01-01",
                          "invoices": []},
     "amount"),
    ("customerpayments", {"customer_id": "{acme}", "payment_mode": "cash", "amount": 1, "invoices": []},
     "date"),
    ("customerpayments", {"customer_id": "{acme}", "payment_mode": "cash", "amount": 1, "date": "2025-01-01"},
     "invoices"),
    ("contacts", {"company_name": "Nameless"}, "contact_name"),
    ("items", {"rate": 5}, "name"),
    ("items", {"name": "Thing"}, "rate"),
    ("items", {"name": "Thing", "rate": 5, "item_type": "purchases"}, "purchase_account_id"),
    ("items", {"name": "Thing", "rate": 5, "item_type": "sales_and_purchases"}, "purchase_account_id"),
    ("items", {"name": "Thing", "rate": 5, "item_type": "inventory", "purchase_account_id": "{rent}"},
     "inventory_account_id"),
    ("bankaccounts", {"account_type": "bank"}, "account_name"),
    ("bankaccounts", {"account_name": "Vault"}, "account_type"),
    ("chartofaccounts", {"account_type": "expense"}, "account_name"),
    ("chartofaccounts", {"account_name": "Misc"}, "account_type"),
])
async def test_required_fields_are_named(books: httpx2.AsyncClient, sandbox: Sandbox, path: str,
                                         body: dict[str, Any], field: str) -> None:
    response = await books.post(path, json=fill(body, _ids(sandbox)))
    assert response.status_code == 400, response.text
    assert response.json()["code"] in (2, 4)
    assert field in response.json()["message"]


@pytest.mark.parametrize("path, body, field", [
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": "abc"}]}, "line_items[0].rate"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5, "quantity": -1}]},
     "line_items[0].quantity"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5, "quantity": 0}]},
     "line_items[0].quantity"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": -5}]}, "line_items[0].rate"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": True}]}, "line_items[0].rate"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5}], "date": "2025/01/31"}, "date"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5}], "date": "2025-02-30"}, "date"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5}], "payment_terms": "Net 15"},
     "payment_terms"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5}], "payment_terms": 1.5},
     "payment_terms"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5}], "date": "2025-03-10",
                  "due_date": "2025-03-01"}, "due_date"),
    ("invoices", {"line_items": "all of them"}, "line_items"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5, "discount": "150%"}]},
     "line_items[0].discount"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5, "tax_id": "123"}]},
     "line_items[0].tax_id"),
    ("invoices", {"line_items": [{"item_id": "{consulting}", "rate": 5}], "customer_id": "acme"},
     "customer_id"),
])
async def test_type_errors_are_400_code_2(books: httpx2.AsyncClient, sandbox: Sandbox, path: str,
                                          body: dict[str, Any], field: str) -> None:
    full = fill({"customer_id": "{acme}", **body}, _ids(sandbox))
    assert error(await books.post(path, json=full), 400, 2) == f"Invalid value passed for {field}"


@pytest.mark.parametrize("path, body, field", [
    ("invoices", {"customer_id": "460000000000001", "line_items": [{"item_id": "{consulting}"}]},
     "customer_id"),
    ("invoices", {"customer_id": "{office}", "line_items": [{"item_id": "{consulting}"}]}, "customer_id"),
    ("invoices", {"customer_id": "{acme}", "line_items": [{"item_id": "460000000000001"}]},
     "line_items[0].item_id"),
    ("purchaseorders", {"vendor_id": "{acme}", "line_items": [{"name": "x", "rate": 1}]}, "vendor_id"),
    ("bills", {"vendor_id": "{office}", "bill_number": "B", "line_items": [
        {"name": "x", "rate": 1, "account_id": "{sales}"}]}, "line_items[0].account_id"),
    ("expenses", {"account_id": "{sales}", "date": "2025-01-01", "amount": 5,
                  "paid_through_account_id": "{checking}"},
     "account_id"),
    ("expenses", {"account_id": "{rent}", "date": "2025-01-01", "amount": 5,
                  "paid_through_account_id": "{rent}"},
     "paid_through_account_id"),
    ("customerpayments", {"customer_id": "{acme}", "payment_mode": "cash", "amount": 5, "date": "2025-01-01",
                          "invoices": [{"invoice_id": "460000000000001", "amount_applied": 5}]},
     "invoices[0].invoice_id"),
    ("items", {"name": "Widget", "rate": 1, "account_id": "{rent}"}, "account_id"),
    ("bankaccounts", {"account_name": "Vault", "account_type": "expense"}, "account_type"),
    ("chartofaccounts", {"account_name": "Misc", "account_type": "rocket"}, "account_type"),
])
async def test_unknown_or_wrong_references_name_the_field(books: httpx2.AsyncClient, sandbox: Sandbox,
                                                          path: str, body: dict[str, Any],
                                                          field: str) -> None:
    assert error(await books.post(path, json=fill(body, _ids(sandbox))), 400, 2) \
        == f"Invalid value passed for {field}"


async def test_a_refused_write_changes_nothing(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    ids = _ids(sandbox)
    before = sandbox.store(ORG).invoices
    response = await books.post("invoices", json={"customer_id": ids["acme"], "line_items": [
        {"item_id": ids["consulting"]}, {"item_id": ids["consulting"], "rate": "abc"}]})
    error(response, 400, 2)
    assert sandbox.store(ORG).invoices == before
    created = ok(await books.post("invoices", json={"customer_id": ids["acme"], "line_items": [
        {"item_id": ids["consulting"]}]}), 201)
    assert created["invoice"]["invoice_number"] == "INV-000005"  # the refused call used no number


async def test_duplicate_invoice_number_with_manual_numbering_is_1001(books: httpx2.AsyncClient,
                                                                      sandbox: Sandbox) -> None:
    ids = _ids(sandbox)
    body = {"customer_id": ids["acme"], "invoice_number": "CUSTOM-1",
            "line_items": [{"item_id": ids["consulting"]}]}
    manual = {"ignore_auto_number_generation": "true"}
    assert ok(await books.post("invoices", params=manual, json=body), 201)["invoice"]["invoice_number"] \
        == "CUSTOM-1"
    assert error(await books.post("invoices", params=manual, json=body), 400, 1001) \
        == "Invoice Number already exist"
    seeded = dict(body, invoice_number="INV-000001")
    error(await books.post("invoices", params=manual, json=seeded), 400, 1001)
    no_number = {key: value for key, value in body.items() if key != "invoice_number"}
    assert "invoice_number" in error(await books.post("invoices", params=manual, json=no_number), 400, 4)
    auto = ok(await books.post("invoices", json=body), 201)["invoice"]
    assert auto["invoice_number"] == "INV-000005"  # without the flag the number is Zoho's


async def test_invoice_lines_need_an_item_unless_lenient(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    ids = _ids(sandbox)
    body = {"customer_id": ids["acme"], "line_items": [{"name": "Ad-hoc work", "rate": 80, "quantity": 2}]}
    assert error(await books.post("invoices", json=body), 400, 4) == "line_items[0].item_id is required."
    with_item = {"customer_id": ids["acme"], "line_items": [{"item_id": ids["consulting"], "rate": 100}]}
    assert ok(await books.post("invoices", json=with_item), 201)["invoice"]["total"] == 100.0
    sandbox.settings.strict_line_items = False  # as older docs and integrations send invoices (§10.1)
    assert ok(await books.post("invoices", json=body), 201)["invoice"]["total"] == 160.0
    estimate = {"customer_id": ids["acme"], "line_items": [{"name": "Ad-hoc work", "rate": 80}]}
    sandbox.settings.strict_line_items = True
    # optional there
    assert ok(await books.post("estimates", json=estimate), 201)["estimate"]["total"] == 80.0


async def test_purchase_lines_name_their_account_and_items_their_purchase_account(books: httpx2.AsyncClient,
                                                                                  sandbox: Sandbox) -> None:
    ids = _ids(sandbox)
    po = {"vendor_id": ids["office"], "line_items": [{"name": "Toner", "rate": 30}]}
    assert error(await books.post("purchaseorders", json=po), 400, 4) \
        == "line_items[0].account_id is required."
    po["line_items"][0]["account_id"] = ids["rent"]
    assert ok(await books.post("purchaseorders", json=po), 201)["purchaseorder"]["line_items"][0][
        "account_name"] == "Rent Expense"
    bought = {"name": "Toner", "rate": 40, "item_type": "purchases"}
    assert error(await books.post("items", json=bought), 400, 4) == "purchase_account_id is required."
    item = ok(await books.post("items", json={**bought, "purchase_account_id": ids["rent"]}), 201)["item"]
    assert (item["item_type"], item["purchase_account_id"]) == ("purchases", ids["rent"])


@pytest.mark.parametrize("lines, extra, total", [
    ([{"item_id": "{consulting}", "rate": 33.333, "quantity": 3}], {}, 100.0),
    ([{"item_id": "{consulting}", "rate": 1.005}], {}, 1.01),
    ([{"item_id": "{consulting}", "rate": 100, "quantity": 2, "discount": "10%"}], {}, 180.0),
    ([{"item_id": "{consulting}", "rate": 100, "discount": 15}], {}, 85.0),
    ([{"item_id": "{consulting}", "rate": 100}, {"item_id": "{consulting}", "rate": 50}],
     {"discount": "10%", "shipping_charge": 5, "adjustment": -0.5}, 139.5),
])
async def test_totals_are_rate_times_quantity_rounded_to_cents(
        books: httpx2.AsyncClient, sandbox: Sandbox, lines: list[dict[str, Any]], extra: dict[str, Any],
        total: float) -> None:
    body = fill({"customer_id": "{acme}", "line_items": lines, **extra}, _ids(sandbox))
    invoice = ok(await books.post("invoices", json=body), 201)["invoice"]
    assert invoice["total"] == total and invoice["balance"] == total


async def test_put_merges_fields_and_replaces_line_items(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    ids = _ids(sandbox)
    lines = [{"item_id": ids["consulting"], "quantity": 2},
             {"item_id": ids["consulting"], "name": "Travel", "rate": 40}]
    invoice = ok(await books.post("invoices", json={"customer_id": ids["acme"], "notes": "Thanks",
                                                    "line_items": lines}), 201)["invoice"]
    path = f"invoices/{invoice['invoice_id']}"
    merged = ok(await books.put(path, json={"reference_number": "R-9"}))["invoice"]
    assert merged["notes"] == "Thanks" and merged["reference_number"] == "R-9" \
        and len(merged["line_items"]) == 2
    assert [line["line_item_id"] for line in merged["line_items"]] == [
        line["line_item_id"] for line in invoice["line_items"]]
    replaced = ok(await books.put(path, json={"line_items": [{"item_id": ids["consulting"],
                                                              "name": "Flat fee", "rate": 99}]}))["invoice"]
    assert [line["name"] for line in replaced["line_items"]] == ["Flat fee"] and replaced["total"] == 99.0
    assert replaced["invoice_number"] == invoice["invoice_number"] and replaced["status"] == "draft"
    error(await books.put(path, json={"payment_terms": "soon"}), 400, 2)
    assert sandbox.store(ORG).invoices[invoice["invoice_id"]]["total"] == 99.0


async def test_a_new_date_moves_the_due_date_by_the_terms(books: httpx2.AsyncClient,
                                                          sandbox: Sandbox) -> None:
    ids = _ids(sandbox)
    invoice = ok(await books.post("invoices", json={"customer_id": ids["acme"], "date": "2025-01-01",
                                                    "line_items": [{"item_id": ids["consulting"]}]}),
                 201)["invoice"]
    assert (invoice["payment_terms"], invoice["due_date"]) == (30, "2025-01-31")  # Acme is on Net 30
    moved = ok(await books.put(f"invoices/{invoice['invoice_id']}", json={"date": "2025-02-01"}))["invoice"]
    assert moved["due_date"] == "2025-03-03" and moved["payment_terms_label"] == "Net 30"


async def test_duplicate_names_are_refused(books: httpx2.AsyncClient) -> None:
    error(await books.post("contacts", json={"contact_name": "acme corporation"}), 400, 1001)
    error(await books.post("items", json={"name": "Consulting", "rate": 1}), 400, 1001)
    error(await books.post("chartofaccounts", json={"account_name": "Sales", "account_type": "income"}), 400,
          1001)


EDGE_VALUES: list[Any] = [
    "2025-01-31", "9999-12-31", "0001-01-01", "2025-02-29", "10%", "100%", "101%", "-5", "1e30", "1e12",
    10**15, -1, 0, 1, 5, "5", 0.001, 1e12, 3650, 3651, "", None, True, [], {}, [{}], "a@b.example",
    "not-an-email", "460000000000001", "{acme}", "{office}",
    "{consulting}", "{rent}", "{checking}", "{sales}", "{partly}", "{draft}", "bank", "credit_card",
    "expense",
]
_edges = st.sampled_from(EDGE_VALUES)
_json = _edges | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=3),
    max_leaves=8,
)
_EXTRA_FIELDS = ["date", "due_date", "payment_terms", "discount", "adjustment", "shipping_charge",
                 "currency_id", "exchange_rate", "is_billable", "credit_limit", "expiry_date", "to_mail_ids",
                 "billing_address", "contact_persons", "account_id", "customer_id", "vendor_id", "line_items",
                 "invoices"]
_EXTRA_LINE_FIELDS = ["item_id", "name", "rate", "quantity", "discount", "tax_id", "line_item_id",
                      "account_id", "email", "is_primary_contact", "invoice_id", "amount_applied"]
_VALID: dict[str, dict[str, Any]] = {
    "invoices": {"customer_id": "{acme}", "line_items": [{"item_id": "{consulting}", "quantity": 2}]},
    "estimates": {"customer_id": "{acme}", "line_items": [{"name": "x", "rate": 3}]},
    "salesorders": {"customer_id": "{acme}", "line_items": [{"item_id": "{consulting}"}]},
    "bills": {"vendor_id": "{office}", "bill_number": "B-1", "line_items": [{"name": "x", "rate": 3}]},
    "purchaseorders": {"vendor_id": "{office}", "line_items": [{"name": "x", "rate": 3,
                                                                "account_id": "{rent}"}]},
    "expenses": {"account_id": "{rent}", "date": "2025-01-01", "amount": 5,
                 "paid_through_account_id": "{checking}"},
    "customerpayments": {"customer_id": "{acme}", "payment_mode": "cash", "amount": 5, "date": "2025-01-01",
                         "invoices": [{"invoice_id": "{partly}", "amount_applied": 5}]},
    "contacts": {"contact_name": "Fuzz Ltd", "contact_persons": [{"email": "a@b.example"}]},
    "items": {"name": "Fuzz", "rate": 1},
    "bankaccounts": {"account_name": "Fuzz", "account_type": "bank"},
    "chartofaccounts": {"account_name": "Fuzz", "account_type": "expense"},
}
_TEMPLATE = Sandbox(SandboxSettings())
_TEMPLATE_IDS = dict(_ids(_TEMPLATE), partly=_TEMPLATE.store(ORG).invoice_id("INV-000003"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_body_makes_the_sandbox_answer_500(data: st.DataObject) -> None:
    """A valid body with one or two fields (or fields of its first line) replaced by anything is answered
    2xx or 4xx, both as a create and as an invoice update."""
    route = data.draw(st.sampled_from(sorted(_VALID)), label="route")
    body = json.loads(json.dumps(_VALID[route]))
    own = [(key,) for key in body] + [(key, inner) for key, value in body.items() if isinstance(value, list)
                                       for inner in value[0]]
    extra = [(key,) for key in _EXTRA_FIELDS] + [(key, inner) for key, value in body.items()
                                                 if isinstance(value, list) for inner in _EXTRA_LINE_FIELDS]
    for _ in range(data.draw(st.integers(1, 2))):
        path = data.draw(st.sampled_from(own) | st.sampled_from(extra))
        if len(path) == 1:
            body[path[0]] = data.draw(_json)
        elif isinstance(body.get(path[0]), list) and body[path[0]] and isinstance(body[path[0]][0], dict):
            body[path[0]][0][path[1]] = data.draw(_json)
    body = fill(body, _TEMPLATE_IDS)
    data.draw(st.just(body), label="body")
    sandbox = Sandbox(SandboxSettings())  # ids are deterministic: the template's ids are this sandbox's too

    async def send() -> list[httpx2.Response]:
        async with asgi_client(sandbox, headers=auth(sandbox.mint_access_token([FULL])),
                               params={"organization_id": ORG}) as client:
            created = await client.post(f"/books/v3/{route}", json=body)
            updated = await client.put(f"/books/v3/invoices/{_TEMPLATE_IDS['draft']}", json=body)
            return [created, updated]

    for response in anyio.run(send):
        assert response.status_code in (200, 201, 400), response.text
        assert isinstance(response.json()["code"], int)


async def test_every_field_of_every_create_survives_every_edge_value() -> None:
    """The systematic twin of the fuzz test: each field of each valid body (and of its first line) replaced by
    each edge value, in turn. Every answer is 2xx or 4xx."""
    sandbox = Sandbox(SandboxSettings())
    async with asgi_client(sandbox, headers=auth(sandbox.mint_access_token([FULL])),
                           params={"organization_id": ORG}) as client:
        for route, valid in _VALID.items():
            paths = [(key,) for key in valid] + [(key, inner) for key, value in valid.items()
                                                 if isinstance(value, list) for inner in value[0]]
            for path in paths:
                for value in EDGE_VALUES:
                    body = json.loads(json.dumps(valid))
                    if len(path) == 1:
                        body[path[0]] = value
                    else:
                        body[path[0]][0][path[1]] = value
                    body = fill(body, _TEMPLATE_IDS)
                    response = await client.post(f"/books/v3/{route}", json=body)
                    assert response.status_code in (200, 201, 400), (route, body, response.text)
