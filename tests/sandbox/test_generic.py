"""The generic emulation's records: those of the modules no rule models round-trip through Zoho's routes,
lists page and filter, a record is found only under its parent and organization, bad bodies change nothing,
and nothing generic reaches the books."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.sandbox.conftest import ORG, FakeClock, error, ok
from tests.sandbox.zoho_calls import Caller, seeded_project, shape
from zbmcp.sandbox import Fault, Sandbox
from zbmcp.sandbox.generic.data import RESOURCES, ROUTES, Resource
from zbmcp.sandbox.generic.records import OWNED
from zbmcp.sandbox.operations import OPERATIONS as RULE_OPERATIONS


def _round_trippable() -> list[Resource]:
    """Generic resources with Zoho routes to create, read, update and delete one record (not those a rule
    module keeps, nor those whose records a rule creates: a payment's refunds)."""
    by_rule = {(operation.method, shape(operation.template)) for operation in RULE_OPERATIONS}
    kept = {route.resource.path for route in ROUTES if route.kind == "create" and route.resource is not None
            and (route.method, shape(route.path)) in by_rule}
    kinds: dict[str, set[str]] = {}
    for route in ROUTES:
        if route.resource is not None and route.resource.path not in {*OWNED, *kept,
                                                                        "/contacts/{}/contactpersons"}:
            kinds.setdefault(route.resource.path, set()).add(route.kind)
    return [RESOURCES[path] for path, found in sorted(kinds.items())
            if {"create", "get", "update", "delete"} <= found]


def _route(resource: Resource, kind: str) -> Any:
    return next(route for route in ROUTES if route.resource is resource and route.kind == kind
                and route.path.count("{") >= resource.depth)


def _path(template: str, *ids: str) -> str:
    parts = iter(ids)
    return "/".join(next(parts) if part.startswith("{") else part for part in template.split("/")).lstrip("/")


@pytest.mark.parametrize("resource", _round_trippable(), ids=lambda resource: resource.path)
async def test_a_record_round_trips(resource: Resource, sandbox: Sandbox, books: httpx2.AsyncClient) -> None:
    """Create, get, update, list, delete, and then it is gone: each with Zoho's status, message and key."""
    caller = Caller(sandbox, books)
    parents = [await caller.record(RESOURCES[path], ()) for path in _parent_paths(resource)]
    if resource.path == "/{}":
        parents = ["cm_debtor"]  # a custom module's records live under its name
    create, get, update, delete = (_route(resource, kind) for kind in ("create", "get", "update", "delete"))
    body = await caller.body(create)
    created = ok(await books.post(_path(create.path, *parents), json=body), create.status)
    assert created["message"] == create.message
    kept = list(sandbox.store(ORG).generic(resource.path).values())
    record = created[create.key] if create.key else kept[-1]
    record = record[0] if isinstance(record, list) else record
    record_id = record[resource.id_field]
    assert record_id.isdigit() and len(record_id) >= 15
    shown = _record(get, resource, ok(await books.get(_path(get.path, *parents, record_id))))
    assert {key: shown[key] for key in body} == body

    field = next((name for name, kind in sorted(update.fields.items()) if kind == "string"
                  and not name.endswith(("_id", "date", "email", "type", "code", "format"))), None)
    if field is not None:
        updated = ok(await books.put(_path(update.path, *parents, record_id), json={field: "Changed"}))
        assert updated["message"] == update.message
        got = ok(await books.get(_path(get.path, *parents, record_id)))
        assert _record(get, resource, got)[field] == "Changed"
    listing = next((route for route in ROUTES if route.resource is resource and route.kind == "list"), None)
    if listing is not None:
        rows = ok(await books.get(_path(listing.path, *parents)))[listing.key or resource.list_key]
        assert record_id in {row[resource.id_field] for row in rows}
    assert ok(await books.delete(_path(delete.path, *parents, record_id)))["message"] == delete.message
    gone = await books.get(_path(get.path, *parents, record_id))
    assert error(gone, 404, 1002) == f"{resource.thing} does not exist."


def _record(route: Any, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
    """The record in an answer: under its key, or beside code and message (under the record key when
    Zoho's file puts it there)."""
    found = body[route.key] if route.key else body.get(resource.record_key, body)
    return dict(found)


def _parent_paths(resource: Resource) -> list[str]:
    paths: list[str] = []
    current = resource
    while current.parent is not None and current.parent in RESOURCES:
        paths.insert(0, current.parent)
        current = RESOURCES[current.parent]
    return paths


async def test_lists_page_and_say_so(books: httpx2.AsyncClient) -> None:
    for number in range(5):
        ok(await books.post("settings/currencies", json={"currency_code": f"X{number}",
                                                        "currency_format": "1,234.56"}), 201)
    first = ok(await books.get("settings/currencies", params={"per_page": 4}))
    second = ok(await books.get("settings/currencies", params={"per_page": 4, "page": 2}))
    assert [len(first["currencies"]), len(second["currencies"])] == [4, 3]  # 5 made, 2 seeded
    assert first["page_context"]["has_more_page"] is True and second["page_context"]["has_more_page"] is False
    assert first["currencies"][0]["currency_code"] == "X4"  # newest first
    ids = {row["currency_id"] for row in first["currencies"] + second["currencies"]}
    assert len(ids) == 7
    assert error(await books.get("settings/currencies", params={"page": 0}), 400, 2) == \
        "Invalid value passed for page"


async def test_lists_filter_search_and_sort_as_documented(books: httpx2.AsyncClient,
                                                           sandbox: Sandbox) -> None:
    customer = sandbox.store(ORG).contact_id("Globex Ltd")
    made = ok(await books.post("projects", json={
        "project_name": "Globex intranet", "customer_id": customer, "billing_type": "fixed_cost_for_project",
        "user_id": sandbox.default_user_id}), 201)["project"]
    by_customer = ok(await books.get("projects", params={"customer_id": customer}))["projects"]
    assert [row["project_id"] for row in by_customer] == [made["project_id"]]
    found = ok(await books.get("projects", params={"search_text": "intranet"}))["projects"]
    assert [row["project_name"] for row in found] == ["Globex intranet"]
    ok(await books.post(f"projects/{made['project_id']}/inactive"))
    inactive = ok(await books.get("projects", params={"filter_by": "Status.Inactive"}))
    assert [row["project_name"] for row in inactive["projects"]] == ["Globex intranet"]
    assert inactive["page_context"]["applied_filter"] == "Status.Inactive"
    active = ok(await books.get("projects", params={"status": "active"}))["projects"]
    assert [row["project_name"] for row in active] == ["Website redesign"]
    assert error(await books.get("projects", params={"filter_by": "Status.Bogus"}), 400, 2) == \
        "Invalid value passed for filter_by"
    assert error(await books.get("projects", params={"sort_column": "colour"}), 400, 2) == \
        "Invalid value passed for sort_column"


async def test_generic_money_never_reaches_the_books(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    """A retainer invoice sent, a sales receipt: the ledger and the balance sheet stay as the rule modules
    left them (no rules model those modules yet)."""
    view = sandbox.store(ORG)
    journal, sheet = view.journal(), ok(await books.get("reports/balancesheet"))["balance_sheet"]
    line = {"item_id": view.item_id("Consulting"), "rate": 500}
    acme = view.contact_id("Acme Corporation")
    retainer = ok(await books.post("retainerinvoices", json={"customer_id": acme, "line_items": [line]}),
                  201)["retainerinvoice"]
    ok(await books.post(f"retainerinvoices/{retainer['retainerinvoice_id']}/status/sent"))
    ok(await books.post("salesreceipts", json={"customer_id": view.contact_id("Acme Corporation"),
                                               "payment_mode": "cash", "line_items": [line]}), 201)
    assert view.journal() == journal
    assert ok(await books.get("reports/balancesheet"))["balance_sheet"] == sheet


async def test_a_refused_write_changes_nothing(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    before = view.generic("/projects")
    customer, vendor = view.contact_id("Acme Corporation"), view.contact_id("Office Supplies Co")
    base = {"project_name": "X", "billing_type": "based_on_project_hours", "user_id": sandbox.default_user_id}
    cases = [
        ({**base, "customer_id": vendor}, 2, "Invalid value passed for customer_id"),  # a vendor
        ({**base, "customer_id": "460000999999999"}, 2, "Invalid value passed for customer_id"),
        ({**base, "customer_id": customer, "user_id": "700000000000004"}, 2,  # not a user of ORG
         "Invalid value passed for user_id"),
        ({**base, "customer_id": "Acme"}, 2, "Invalid value passed for customer_id"),
        ({**base, "customer_id": customer, "cost_budget_amount": "lots"}, 2,
         "Invalid value passed for cost_budget_amount"),
        ({**base, "customer_id": customer, "tasks": "all of them"}, 2, "Invalid value passed for tasks"),
        ({**base, "customer_id": customer, "tasks": [{"description": "no name"}]}, 4,
         "tasks[0].task_name is required."),
        ({key: value for key, value in base.items() if key != "project_name"} | {"customer_id": customer}, 4,
         "project_name is required."),
    ]
    for body, code, message in cases:
        assert error(await books.post("projects", json=body), 400, code) == message
    assert error(await books.post("journals", json={"journal_date": "2025-02-30", "line_items": []}), 400,
                 2) == "Invalid value passed for journal_date"
    assert view.generic("/projects") == before


async def test_fields_zoho_does_not_document_are_dropped(books: httpx2.AsyncClient) -> None:
    made = ok(await books.post("settings/taxauthorities", json={
        "tax_authority_name": "Levy", "_parents": ["x"], "balance": 1e9}), 201)["tax_authority"]
    assert "balance" not in made and "_parents" not in made
    got = ok(await books.get(f"settings/taxauthorities/{made['tax_authority_id']}"))["tax_authority"]
    assert got["tax_authority_name"] == "Levy"


async def test_a_body_does_not_move_a_record(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    """Zoho's files document some records' own ids in their bodies (PUT /settings/taxes/{tax_id} takes
    tax_id): the path says which record it is and where it lives, never the body."""
    view = sandbox.store(ORG)
    first, second = list(view.taxes)[:2]
    ok(await books.put(f"settings/taxes/{first}", json={"tax_id": second, "tax_name": "Renamed"}))
    assert view.taxes[first]["tax_id"] == first and view.taxes[first]["tax_name"] == "Renamed"
    assert view.taxes[second]["tax_name"] != "Renamed"
    project = seeded_project(sandbox)
    other = ok(await books.post("projects", json={
        "project_name": "Other", "customer_id": view.contact_id("Globex Ltd"),
        "billing_type": "fixed_cost_for_project", "user_id": sandbox.default_user_id}), 201)["project"]
    task = ok(await books.post(f"projects/{project}/tasks", json={"task_name": "Review",
                                                                "project_id": other["project_id"]}), 201)
    assert task["task"]["project_id"] == project
    assert task["task"]["task_id"] in view.generic("/projects/{}/tasks", project)


async def test_a_record_is_found_only_under_its_parent(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    project = seeded_project(sandbox)
    other = ok(await books.post(f"projects/{project}/clone", json={"project_name": "Copy"}))["project"]
    assert other["project_name"] == "Copy" and other["customer_id"] == \
        sandbox.store(ORG).generic("/projects")[project]["customer_id"]
    task_id = next(iter(sandbox.store(ORG).generic("/projects/{}/tasks", project)))
    ok(await books.get(f"projects/{project}/tasks/{task_id}"))
    assert error(await books.get(f"projects/{other['project_id']}/tasks/{task_id}"), 404, 1002) == \
        "Task does not exist."
    assert error(await books.get("projects/460000999999999/tasks"), 404, 1002) == "Project does not exist."
    ok(await books.delete(f"projects/{project}"))  # and its tasks and users go with it
    assert sandbox.store(ORG).generic("/projects/{}/tasks", project) == {}
    assert sandbox.store(ORG).generic("/projects/{}/users", project) == {}


async def test_comments_hang_on_a_rule_modules_record(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    invoice = sandbox.store(ORG).invoice_id("INV-000001")
    ok(await books.post(f"invoices/{invoice}/comments", json={"description": "Paid early, thanks"}))
    comments = ok(await books.get(f"invoices/{invoice}/comments"))["comments"]
    assert [comment["description"] for comment in comments] == ["Paid early, thanks"]
    assert comments[0]["invoice_id"] == invoice
    other = sandbox.store(ORG).invoice_id("INV-000002")
    assert ok(await books.get(f"invoices/{other}/comments"))["comments"] == []
    missing = await books.post("invoices/460000999999999/comments", json={"description": "x"})
    assert error(missing, 404, 1002) == "Invoice does not exist."


async def test_faults_and_limits_reach_generic_routes(books: httpx2.AsyncClient, sandbox: Sandbox,
                                                      clock: FakeClock) -> None:
    fault = Fault(kind="gateway_after", status=504, route="POST /settings/taxauthorities", times=1)
    sandbox.faults.add(fault)
    response = await books.post("settings/taxauthorities", json={"tax_authority_name": "Levy"})
    assert response.status_code == 504 and fault.fired == 1
    names = [row["tax_authority_name"] for row in sandbox.store(ORG).generic("/settings/taxauthorities")
             .values()]
    assert names.count("Levy") == 1  # made once, answered with a gateway's page
    clock.advance(sandbox.settings.window_seconds)
    sandbox.settings.requests_per_window = 1
    ok(await books.get("projects"))
    assert error(await books.get("projects"), 429, 44)
