"""`amount` never under-counts (#21.6): computed as Zoho totals a document, it is never less than the
sandbox's total, and equal where the currency's precision is known. Replayed attack: the computed 4,999.995
let an `approve: amount > 5000` rule pass, and the invoice came out at 5,002.49 (each line rounded by Zoho).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mcp import types

from tests.conftest import ORG, AuditCapture, agent, mcp_client, running
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.facts import facts_of
from zbmcp.core.found import NOTHING, Found, Organization, Party, Tax, document_from
from zbmcp.core.requests import ZohoRequest
from zbmcp.sandbox import Sandbox, SandboxSettings

SPECS = load_manifests()
FULL = "ZohoBooks.fullaccess.all"
DECLINE = types.ElicitResult(action="decline")


def decimals(low: str, high: str, places: int) -> st.SearchStrategy[float]:
    return st.decimals(Decimal(low), Decimal(high), places=places, allow_nan=False,
                       allow_infinity=False).map(float)


@st.composite
def lines(draw: st.DrawFn) -> dict[str, Any]:
    line: dict[str, Any] = {"rate": draw(decimals("0", "20000", 4)),
                            "quantity": draw(decimals("0.001", "50", 3))}
    kind = draw(st.sampled_from(["none", "percent", "amount"]))
    if kind == "percent":
        line["discount"] = f"{draw(decimals('0', '100', 2)):g}%"
    elif kind == "amount":
        line["discount"] = draw(decimals("0", "1", 3)) * line["rate"] * line["quantity"] // 0.001 * 0.001
    return line


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"line_items": draw(st.lists(lines(), min_size=1, max_size=8))}
    if draw(st.booleans()):
        body["discount"] = draw(st.sampled_from([f"{draw(decimals('0', '30', 2)):g}%",
                                                 draw(decimals("0", "5", 3))]))
    if draw(st.booleans()):
        body["shipping_charge"] = draw(decimals("0", "500", 3))
    if draw(st.booleans()):
        body["adjustment"] = draw(decimals("-5", "500", 3))
    return body


class Books:
    """The sandbox's invoices API, called as Zoho would be, for one organization."""

    def __init__(self) -> None:
        self.sandbox = Sandbox(SandboxSettings())
        store = self.sandbox.store(ORG)
        self.customer = store.contact_id("Acme Corporation")
        self.item = store.item_id("Consulting")
        token = self.sandbox.mint_access_token([FULL], lifetime_seconds=86400)
        self.headers = {"Authorization": f"Zoho-oauthtoken {token}"}

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async def call() -> httpx2.Response:
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.sandbox.app),
                                          base_url="http://sandbox.test/books/v3") as http:
                return await http.request(method, path, json=body, headers=self.headers,
                                          params={"organization_id": ORG})

        return anyio.run(call).json()


def zbmcp_amount(tool: str, path: str, body: dict[str, Any], found: Found) -> float | None:
    """The amount zbmcp's rules would see for this request (the body as Zoho gets it, fields beyond what
    the tool offers included: a document's discount, shipping and adjustment)."""
    method = "PUT" if tool.startswith("update_") else "POST"
    request = ZohoRequest(method, path, (("organization_id", ORG),), body, ORG)
    return facts_of(SPECS[tool], request, dt.date(2026, 11, 25), found).amount


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents(), update=st.lists(lines(), min_size=1, max_size=5))
def test_amount_is_never_less_than_the_sandbox_total_and_equal_where_the_precision_is_known(document, update):
    books = Books()
    body = {"customer_id": books.customer,
            "line_items": [{"item_id": books.item, **line} for line in document["line_items"]],
            **{key: value for key, value in document.items() if key != "line_items"}}
    created = books.send("POST", "/invoices", body)
    event(f"created: {created['code'] == 0}")
    if created["code"] != 0:  # Zoho refuses it too (a discount beyond the sub total, a negative total)
        return
    invoice = created["invoice"]
    total = invoice["total"]
    known = Found(Party(books.customer, "Acme Corporation", invoice["currency_code"]), None,
                  Organization(ORG, invoice["currency_code"], invoice["price_precision"]))
    assert zbmcp_amount("create_invoice", "/invoices", body, known) == pytest.approx(total, abs=1e-9)
    assert zbmcp_amount("create_invoice", "/invoices", body, NOTHING) >= total  # the upper bound

    # An update that sends its lines keeps the stored shipping charge and adjustment (and discount).
    path = f"/invoices/{invoice['invoice_id']}"
    stored = document_from("invoice", invoice["invoice_id"], books.send("GET", path)["invoice"])
    lines_only = {"customer_id": books.customer,
                  "line_items": [{"item_id": books.item, **line} for line in update]}
    updated = books.send("PUT", path, lines_only)
    event(f"updated: {updated['code'] == 0}")
    if updated["code"] != 0:
        return
    amount = zbmcp_amount("update_invoice", path, lines_only, Found(known.counterparty, stored,
                                                                     known.organization))
    assert amount is not None and amount >= updated["invoice"]["total"]
    if not document.get("discount"):  # the stored discount is the one thing counted as none
        assert amount == pytest.approx(updated["invoice"]["total"], abs=1e-9)
    assert zbmcp_amount("update_invoice", path, lines_only, Found(known.counterparty)) is None


def rounding_attack(sandbox: Any) -> dict[str, Any]:
    """4,997.50 and 499 lines of 0.005: 4,999.995 added up exactly; 5,002.49 as Zoho rounds each line."""
    store = sandbox.store(ORG)
    item = store.item_id("Consulting")
    return {"customer_id": store.contact_id("Acme Corporation"),
            "line_items": [{"item_id": item, "rate": 4997.5}] + [{"item_id": item, "rate": 0.005}] * 499}


async def test_an_amount_rule_sees_the_total_zoho_will_book_not_the_lines_added_up(make_config, sandbox):
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return DECLINE

    rule = {"approve": "amount > 5000", "name": "big-invoices", "tools": ["create_invoice"]}
    loaded = make_config({"bookkeeper": agent(["invoices:*"], rules=[rule]),
                          "drafter": agent(["invoices:*"])})
    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, "bookkeeper", elicitation_callback=person) as bookkeeper, \
            mcp_client(runtime, "drafter") as drafter:
        declined = await bookkeeper.call_tool("create_invoice", rounding_attack(sandbox))
        booked = await drafter.call_tool("create_invoice", rounding_attack(sandbox))  # what Zoho makes of it
    assert booked.structured_content["invoice"]["total"] == 5002.49
    assert declined.is_error and declined.structured_content["error"]["rule"].startswith("rule big-invoices")
    [question] = asked
    assert "Amount: 5,002.49 GBP." in question
    booked = [invoice for invoice in sandbox.store(ORG).invoices.values() if invoice["total"] == 5002.49]
    assert len(booked) == 1  # the drafter's only


@pytest.mark.parametrize(("discount", "says"), [
    ("150%", 'is 150%; a discount is at most 100% ("100%") of its line'),
    ("151", "is 151, more than the line's 150 (rate x quantity)"),
    (15, 'must be a string such as "10" or "10%", got a number'),  # one type per field (issue #22.4)
])
async def test_a_line_discount_beyond_its_line_is_refused_naming_the_field(make_config, sandbox, discount,
                                                                            says):
    audit = AuditCapture()
    loaded = make_config({"bookkeeper": agent(["invoices:*"])})
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "bookkeeper") as client:
        before = len(sandbox.api_requests)
        store = sandbox.store(ORG)
        refused = await client.call_tool("create_invoice", {
            "customer_id": store.contact_id("Acme Corporation"),
            "line_items": [{"item_id": store.item_id("Consulting"), "rate": 150, "discount": discount}]})
    assert refused.is_error and refused.structured_content["error"]["fields"] == ["line_items[0].discount"]
    assert says in refused.content[0].text
    assert len(sandbox.api_requests) == before
    assert audit.records[-1]["decision"] == "denied"


TAX_RATES = {"Standard Rate": Decimal(20), "Reduced Rate": Decimal(5), "Zero Rate": Decimal(0)}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents(), taxes=st.lists(st.sampled_from([None, *TAX_RATES]), min_size=8, max_size=8),
       inclusive=st.booleans())
def test_a_taxed_amount_is_never_less_than_the_sandbox_total(document, taxes, inclusive):
    books = Books()
    ids = {row["tax_name"]: row["tax_id"] for row in books.send("GET", "/settings/taxes")["taxes"]}
    line_items = [{"item_id": books.item, **line, **({"tax_id": ids[tax]} if tax else {})}
                  for line, tax in zip(document["line_items"], taxes, strict=False)]
    body = {"customer_id": books.customer, "line_items": line_items, "is_inclusive_tax": inclusive,
            **{key: value for key, value in document.items() if key != "line_items"}}
    created = books.send("POST", "/invoices", body)
    if created["code"] != 0:
        return
    invoice = created["invoice"]
    read = tuple(Tax(ids[name], rate) for name, rate in TAX_RATES.items())
    known = Found(Party(books.customer, "Acme Corporation", invoice["currency_code"]), None,
                  Organization(ORG, invoice["currency_code"], invoice["price_precision"]), read)
    amount = zbmcp_amount("create_invoice", "/invoices", body, known)
    assert amount is not None and amount >= invoice["total"]
    # no more than a cent a line over, and the tax on a discount Zoho took first
    slack = Decimal("0.01") * len(line_items) + Decimal(str(invoice["discount_amount"])) * Decimal("0.2")
    assert Decimal(str(amount)) - Decimal(str(invoice["total"])) <= slack + Decimal("0.01")
    if any("tax_id" in line for line in line_items):  # a rate not read: unknown
        assert zbmcp_amount("create_invoice", "/invoices", body, Found(known.counterparty, None,
                                                                        known.organization)) is None


async def test_an_amount_rule_sees_the_tax_the_customer_pays(make_config, sandbox):
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return DECLINE

    rule = {"approve": "amount > 500", "name": "big-invoices", "tools": ["create_invoice"]}
    loaded = make_config({"bookkeeper": agent(["invoices:*"], rules=[rule])})
    store = sandbox.store(ORG)
    standard = next(tax_id for tax_id, tax in store.taxes.items() if tax["tax_name"] == "Standard Rate")
    line = {"item_id": store.item_id("Consulting"), "rate": 150, "quantity": 3}
    customer = store.contact_id("Acme Corporation")
    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, "bookkeeper", elicitation_callback=person) as bookkeeper:
        untaxed = await bookkeeper.call_tool("create_invoice", {"customer_id": customer,
                                                                "line_items": [line]})
        taxed = await bookkeeper.call_tool("create_invoice", {"customer_id": customer,
                                                              "line_items": [{**line, "tax_id": standard}]})
        unknown = await bookkeeper.call_tool("create_invoice", {
            "customer_id": customer, "line_items": [{**line, "tax_id": "460000999999999"}]})
    assert not untaxed.is_error and untaxed.structured_content["invoice"]["total"] == 450.0
    assert taxed.is_error and taxed.structured_content["error"]["rule"].startswith("rule big-invoices")
    [question] = asked  # 450 and its 20%: the customer pays 540
    assert "Amount: 540.00 GBP." in question
    assert unknown.is_error and "the rate of tax 460000999999999 could not be read" in unknown.content[0].text
    assert [invoice["total"] for invoice in store.invoices.values() if invoice["customer_id"] == customer
            and invoice["date"] == store.today.isoformat()] == [450.0]
