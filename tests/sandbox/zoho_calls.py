"""Calls to every operation in Zoho's OpenAPI files, made the way a client would: the records they act on
found among the seeds or made through the API first, bodies filled from the fields Zoho's file requires.

Zoho's side is tests/data/zoho_oas_extract.json (scripts/extract_oas.py); what each answer should look like
(status, message, key) is the route data generated from the same files (zbmcp/sandbox/generic/routes.json,
checked against them by test_generic_routes.py).
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx2

from tests.sandbox.conftest import ORG, ok
from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.generic.data import RESOURCES, ROUTES, Resource, Route
from zbmcp.sandbox.generic.records import REFERENCES

EXTRACT = json.loads((Path(__file__).resolve().parent.parent / "data" / "zoho_oas_extract.json")
                     .read_text(encoding="utf-8"))["operations"]
UNKNOWN_ID = "460000999999999"
ALICE = "700000000000003"  # a user of ORG besides its owner
_PARAM = re.compile(r"\{(\w+)\}")


def shape(path: str) -> str:
    return _PARAM.sub("{}", path)


ROUTE_OF: dict[str, Route] = {f"{route.method} {shape(route.path)}": route for route in ROUTES}


def route_of(operation: str) -> Route:
    facts = EXTRACT[operation]
    return ROUTE_OF[f"{facts['method']} {shape(facts['path'])}"]


# The seeded record an operation on a rule module's resource acts on.
_SEEDED = {
    "/invoices": ("invoices", {"invoice_number": "INV-000002"}, "invoice_id"),
    "/contacts": ("contacts", {"contact_name": "Acme Corporation"}, "contact_id"),
    "/estimates": ("estimates", {"status": "draft"}, "estimate_id"),
    "/salesorders": ("salesorders", {}, "salesorder_id"),
    "/purchaseorders": ("purchaseorders", {}, "purchaseorder_id"),
    "/bills": ("bills", {"bill_number": "OS-2231"}, "bill_id"),
    "/expenses": ("expenses", {"description": "Stationery"}, "expense_id"),
    "/customerpayments": ("payments", {}, "payment_id"),
    "/items": ("items", {"name": "Consulting"}, "item_id"),
    "/bankaccounts": ("accounts", {"account_name": "Business Checking"}, "account_id"),
    "/chartofaccounts": ("accounts", {"account_name": "Sales"}, "account_id"),
    "/journals": ("journals", {"reference_number": "ACCR-001"}, "journal_id"),
    "/settings/taxes": ("taxes", {"tax_name": "Standard Rate"}, "tax_id"),
    "/creditnotes": ("creditnotes", {"creditnote_number": "CN-00001"}, "creditnote_id"),
    "/vendorcredits": ("vendorcredits", {"vendor_credit_number": "DN-00001"}, "vendor_credit_id"),
}
# Values for path parameters that name no record.
_OTHER_PARAMS = {"module_name": "cm_debtor", "template_id": "460000000000777", "status_code": "cs_packed",
                 "organization_id": ORG}
# Values for body fields whose meaning a type does not give.
_VALUES: dict[str, Any] = {
    "debit_or_credit": "debit", "billing_type": "based_on_project_hours", "email": "someone@example.com",
    "to_mail_ids": ["someone@example.com"], "cc_mail_ids": [], "payment_mode": "cash",
    "currency_code": "CHF", "currency_format": "1,234,567.89", "transaction_type": "deposit",
    "record_as": "deposit", "apply_to": "deposit", "criteria_type": "and", "time_zone": "Europe/London",
}


@dataclass
class Call:
    method: str
    path: str  # below /books/v3
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    unmakeable: Resource | None = None  # the record it names cannot exist: nothing makes one
    files: dict[str, Any] | None = None  # a multipart upload (an attachment, a receipt)


# A small PDF under each field name Zoho's files use for an upload: the rules take the one they read.
UPLOAD = {name: ("note.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf") for name in ("attachment", "receipt")}


class Caller:
    """Builds the calls of one sandbox (its default organization), making through the API the records
    they need."""

    def __init__(self, sandbox: Sandbox, books: httpx2.AsyncClient) -> None:
        self.sandbox = sandbox
        self.books = books
        self.view = sandbox.store(ORG)
        self.unmakeable: Resource | None = None
        self.operation = ""

    async def call(self, operation: str, *, unknown: bool = False) -> Call:
        """A call of the operation; with `unknown`, every record it names is one that does not exist."""
        route = route_of(operation)
        self.operation = operation
        values = [] if unknown else await self._path_values(route)
        if operation == "delete_contact" and not unknown:  # one without transactions, which the rule keeps
            values = [str(ok(await self.books.post("contacts", json={"contact_name": "Hooli"}), 201)
                          ["contact"]["contact_id"])]
        names = _PARAM.findall(route.path)
        filled = dict(zip(names, values, strict=False))
        given = iter(values)
        other = {name: value for name, value in _OTHER_PARAMS.items()
                 if not unknown or not name.endswith("_id")}
        path = _PARAM.sub(lambda m: other.get(m[1]) or next(given, UNKNOWN_ID), EXTRACT[operation]["path"])
        call = Call(route.method, path.lstrip("/"), unmakeable=self.unmakeable,
                    files=UPLOAD if route.kind == "attach" else None)
        if route.body == "list":
            call.json = [{"customfield_id": "460000000000901", "value": "Gold"}]
        elif route.body != "none":
            call.json = RULE_BODIES[operation](self) if operation in RULE_BODIES else await self.body(route)
            if inspect.isawaitable(call.json):  # a body that needs records of its own first
                call.json = await call.json
        call.query.update(await self._query(route))
        if route.kind == "bulk_update" and "ids_field" in route.extra and route.resource is not None:
            call.json[route.extra["ids_field"]] = await self.record(route.resource, ("cm_debtor",))
        if route.kind == "bulk_update" and "ids_field" not in route.extra:
            # the default books' unique field (SandboxSettings.custom_fields); generic modules take any
            call.headers.update({"X-Unique-Identifier-Key": "cf_zbmcp_key",
                                 "X-Unique-Identifier-Value": "A-1", "X-Upsert": "true"})
        if not unknown:
            await self._prepare(operation, route, filled)
        return call

    async def _path_values(self, route: Route) -> list[str]:
        """The ids the path names, in order: parents first, then the record."""
        values: list[str] = []
        if route.resource is None:
            return values
        parents: tuple[str, ...] = ()
        chain = iter(_chain(route.resource))
        for name in route.parent_params or ():
            if name in _OTHER_PARAMS:
                parents = (*parents, _OTHER_PARAMS[name])
                continue
            parent_id = await self.record(next(chain), parents)
            values.append(parent_id)
            parents = (*parents, parent_id)
        if route.id_param in _OTHER_PARAMS:
            values.append(_OTHER_PARAMS[route.id_param])
        elif route.id_param is not None:
            values.append(await self.record(route.resource, parents))
        return values

    async def record(self, resource: Resource, parents: tuple[str, ...]) -> str:
        """An existing record of the resource: seeded, or made through its create route."""
        if resource.path == "/vendorcredits" and self.operation == "mark_vendor_credit_open":
            return str(self.view.find("vendorcredits", status="draft")["vendor_credit_id"])  # type: ignore[index]
        if resource.path in _SEEDED:
            collection, match, id_field = _SEEDED[resource.path]
            found = self.view.find(collection, **match)
            assert found is not None, (collection, match)
            return str(found[id_field])
        if resource.path == "/contacts/{}/contactpersons":
            contact = parents[0] if parents else self.view.contact_id("Acme Corporation")
            return str(self.view.contacts[contact]["contact_persons"][0]["contact_person_id"])
        if resource.path == "/banktransactions":
            return await self._bank_line()
        if resource.path in _CREDIT_RECORDS:
            return await _CREDIT_RECORDS[resource.path](self, parents)
        if resource.path == "/vendorpayments":
            made = ok(await self.books.post("vendorpayments", json={
                "vendor_id": self.view.contact_id("Office Supplies Co"), "amount": 10}), 201)
            return str(made["vendorpayment"]["payment_id"])
        existing = list(self.view.generic(resource.path, *parents).values())
        if existing:
            return str(existing[0][resource.id_field])
        return await self._create(resource, parents)

    async def _create(self, resource: Resource, parents: tuple[str, ...]) -> str:
        create = _creator(resource)
        if create is None:  # nothing makes one (the invoices a credit note was applied to): none exists
            self.unmakeable = resource
            return UNKNOWN_ID
        given = iter(parents)
        path = _PARAM.sub(lambda m: next(given, UNKNOWN_ID), create.path)
        maker = create.operations[0] if create.operations else ""
        body = None if create.body == "none" else RULE_BODIES[maker](self) if maker in RULE_BODIES \
            else await self.body(create)
        if body is not None and create.extra.get("parent_from_body"):
            body[create.extra["parent_from_body"]] = parents[0]
        upload = UPLOAD if create.kind == "attach" else None
        response = await self.books.request(create.method, path.lstrip("/"), json=body, files=upload)
        assert response.status_code in (200, 201), (create.path, response.text)
        made = list(self.view.generic(resource.path, *parents).values())
        return str(made[-1][resource.id_field])

    async def _prepare(self, operation: str, route: Route, values: dict[str, str]) -> None:
        """What must be there before the call: an attachment to read or remove, a timer to stop, a
        statement or opening balances to read, a void invoice to make a draft again."""
        resource = route.resource
        if route.kind in ("attachment", "detach") and resource is not None and route.id_param:
            attach = next(other for other in ROUTES if other.kind == "attach" and other.resource is resource)
            record = values[route.id_param]
            path = _PARAM.sub(lambda m: record, attach.path)
            ok(await self.books.post(path.lstrip("/"), files=UPLOAD), attach.status)
        elif route.kind in ("singleton_get", "singleton_delete", "latest") and resource is not None:
            await self._create(resource, tuple(values[name] for name in route.parent_params or ()))
        elif route.kind == "timer_stop":
            entry = await self.record(RESOURCES["/projects/timeentries"], ())
            ok(await self.books.post(f"projects/timeentries/{entry}/timer/start"))
        elif operation == "cancel_write_off_invoice":
            ok(await self.books.post(f"invoices/{values['invoice_id']}/writeoff"))
        elif operation == "mark_invoice_draft":
            ok(await self.books.post(f"invoices/{values['invoice_id']}/status/void"))
        elif operation == "mark_credit_note_draft":
            ok(await self.books.post(f"creditnotes/{values['creditnote_id']}/status/void"))
        elif operation == "mark_credit_note_open":
            ok(await self.books.post(f"creditnotes/{values['creditnote_id']}/status/void"))
            ok(await self.books.post(f"creditnotes/{values['creditnote_id']}/status/draft"))
        elif operation in _BANK_BEFORE:
            line = values.get("transaction_id") or values["bank_transaction_id"]
            path, body = _BANK_BEFORE[operation](self)
            ok(await self.books.post(f"banktransactions/{path.format(line)}", json=body), 201)

    async def _bank_line(self) -> str:
        """The statement line a bank operation acts on: one in the state the operation needs."""
        if self.operation in ("update_bank_transaction", "delete_bank_transaction"):
            made = ok(await self.books.post("banktransactions", json=_deposit(self)), 201)
            return str(made["banktransaction"]["transaction_id"])
        description = _BANK_LINES.get(self.operation, "INTEREST PAID")
        found = self.view.find("banktransactions", description=description)
        assert found is not None
        return str(found["transaction_id"])

    async def body(self, route: Route) -> dict[str, Any]:
        """The fields Zoho's file requires, each with a value of its type (a real record for a reference)."""
        body: dict[str, Any] = {}
        nested: dict[str, list[str]] = {}
        for name in route.required:
            outer, _, inner = name.partition(".")
            if inner:
                nested.setdefault(outer, []).append(inner)
            else:
                body[name] = await self.value(name, route.fields.get(name, "string"))
        for outer, inner_names in nested.items():
            element = {inner: ALICE if (outer, inner) == ("users", "user_id") else
                       await self.value(inner, "string") for inner in inner_names}
            body[outer] = [element]
        if route.method == "PUT" and not body and route.fields:
            name = next(iter(sorted(route.fields)))
            body[name] = await self.value(name, route.fields[name])
        return body

    async def value(self, name: str, kind: str) -> Any:
        if name in REFERENCES:
            path, contact_type = REFERENCES[name]
            if path == "/contacts":
                return self.view.contact_id("Office Supplies Co" if contact_type == "vendor"
                                            else "Acme Corporation")
            if path == "/chartofaccounts":
                return self.view.account_id("Business Checking")  # a bank account is in the chart too
            if path == "/users":
                return self.sandbox.default_user_id
            if path == "/settings/currencies":
                return self.view.organization["currency_id"]
            return await self.record(RESOURCES[path], ())
        if name in _VALUES:
            return _VALUES[name]
        if name.endswith("date"):
            return date.today().isoformat()
        if name.endswith("_id"):
            return "460000000000901"
        return {"number": 10, "integer": 1, "boolean": False, "array": [{}], "object": {}}.get(kind, "Test")

    async def _query(self, route: Route) -> dict[str, str]:
        if route.kind == "bulk_delete" and "ids_param" in route.extra and route.resource is not None:
            return {route.extra["ids_param"]: await self.record(route.resource, ())}
        if route.kind == "by_ids":
            return {route.extra["query"]: self.view.item_id("Consulting")}
        if route.kind == "patch" and str(route.extra.get("source", "")).startswith("query."):
            return {str(route.extra["source"]).removeprefix("query."): "true"}
        return {}


def _chain(resource: Resource) -> list[Resource]:
    """The resources of a record's parents, outermost first."""
    chain: list[Resource] = []
    current = resource
    while current.parent is not None and current.parent in RESOURCES:
        current = RESOURCES[current.parent]
        chain.insert(0, current)
    return chain


def _creator(resource: Resource) -> Route | None:
    """The route that makes a record of the resource (attachments: the attach route of their record)."""
    for route in ROUTES:
        if route.resource is resource and route.kind in ("create", "singleton_put") \
                and (route.path.count("{") == resource.depth or route.extra.get("parent_from_body")):
            return route
    if resource.path.endswith("/{}/documents"):
        owner = resource.path.removesuffix("/{}/documents")
        return next((route for route in ROUTES if route.kind == "attach" and route.resource is not None
                     and route.resource.path == owner), None)
    return None


def seeded_project(sandbox: Sandbox) -> str:
    """The project the default organization is seeded with (Website redesign)."""
    return next(iter(sandbox.store(ORG).generic("/projects")))


def _line(caller: Caller, **extra: Any) -> dict[str, Any]:
    return {"item_id": caller.view.item_id("Consulting"), "quantity": 1, **extra}


def _deposit(caller: Caller) -> dict[str, Any]:
    return {"transaction_type": "deposit", "amount": 10, "date": "2025-03-01",
            "from_account_id": caller.view.account_id("Undeposited Funds"),
            "to_account_id": caller.view.account_id("Business Checking")}


def _invoice_match(caller: Caller) -> dict[str, Any]:
    return {"transactions_to_be_matched": [{"transaction_id": caller.view.invoice_id("INV-000002"),
                                            "transaction_type": "invoice"}]}


def _fee_expense(caller: Caller) -> dict[str, Any]:
    return {"account_id": caller.view.account_id("Bank Fees and Charges")}


# The seeded statement line (by its description) each bank operation acts on, and what is done to it first.
_BANK_LINES = {
    "exclude_bank_transaction": "MONTHLY ACCOUNT FEE", "restore_bank_transaction": "MONTHLY ACCOUNT FEE",
    "categorize_bank_transaction_as_expense": "MONTHLY ACCOUNT FEE",
    "uncategorize_bank_transaction": "MONTHLY ACCOUNT FEE",
    "categorize_bank_transaction_as_customer_payment": "BACS REMITTANCE",
    "categorize_bank_transaction_as_vendor_payment": "CLOUDHOSTING.EXAMPLE",
    "get_matching_bank_transactions": "FASTER PAYMENT", "match_bank_transaction": "FASTER PAYMENT",
    "unmatch_bank_transaction": "FASTER PAYMENT",
    "categorize_as_credit_note_refunds": "MONTHLY ACCOUNT FEE",
    "categorize_as_vendor_credit_refunds": "INTEREST PAID",
}
_BANK_BEFORE: dict[str, Any] = {
    "restore_bank_transaction": lambda c: ("uncategorized/{}/exclude", None),
    "uncategorize_bank_transaction": lambda c: ("uncategorized/{}/categorize/expenses", _fee_expense(c)),
    "unmatch_bank_transaction": lambda c: ("uncategorized/{}/match", _invoice_match(c)),
}


def _bill_id(caller: Caller, number: str) -> str:
    found = caller.view.find("bills", bill_number=number)
    assert found is not None
    return str(found["bill_id"])


async def _applied(caller: Caller, path: str, body: dict[str, Any], listing: str, key: str,
                   id_key: str) -> str:
    ok(await caller.books.post(path, json=body), 200 if path.startswith("creditnotes") else 201)
    return str(ok(await caller.books.get(listing))[key][-1][id_key])


async def _note_refund(caller: Caller, parents: tuple[str, ...]) -> str:
    body = _CREDIT_BODIES["note_refund"](caller)
    made = ok(await caller.books.post(f"creditnotes/{parents[0]}/refunds", json=body))
    return str(made["creditnote_refund"]["creditnote_refund_id"])


async def _credit_refund(caller: Caller, parents: tuple[str, ...]) -> str:
    body = _CREDIT_BODIES["credit_refund"](caller)
    made = ok(await caller.books.post(f"vendorcredits/{parents[0]}/refunds", json=body), 201)
    return str(made["vendor_credit_refund"]["vendor_credit_refund_id"])


async def _note_application(caller: Caller, parents: tuple[str, ...]) -> str:
    return await _applied(caller, f"creditnotes/{parents[0]}/invoices", _CREDIT_BODIES["note_apply"](caller),
                          f"creditnotes/{parents[0]}/invoices", "invoices_credited", "creditnote_invoice_id")


async def _credit_application(caller: Caller, parents: tuple[str, ...]) -> str:
    return await _applied(caller, f"vendorcredits/{parents[0]}/bills", _CREDIT_BODIES["credit_apply"](caller),
                          f"vendorcredits/{parents[0]}/bills", "bills_credited", "vendor_credit_bill_id")


async def _invoice_credit(caller: Caller, parents: tuple[str, ...]) -> str:
    note = caller.view.find("creditnotes", creditnote_number="CN-00001")
    assert note is not None
    return await _applied(caller, f"creditnotes/{note['creditnote_id']}/invoices", {
        "invoices": [{"invoice_id": parents[0], "amount_applied": 10}]},
        f"invoices/{parents[0]}/creditsapplied", "credits", "creditnotes_invoice_id")


async def _unused_payment(caller: Caller) -> dict[str, Any]:
    """A refund of the seeded customer payment's money, made unused by voiding the invoices it paid."""
    payment = caller.view.find("payments")
    assert payment is not None
    for entry in payment["invoices"]:
        ok(await caller.books.post(f"invoices/{entry['invoice_id']}/status/void"))
    return {"amount": 1, "date": caller.view.today.isoformat(),
            "from_account_id": caller.view.account_id("Business Checking")}


def _vendor_refund(caller: Caller) -> dict[str, Any]:
    return {"amount": 1, "date": caller.view.today.isoformat(),
            "to_account_id": caller.view.account_id("Business Checking")}


async def _payment_refund(caller: Caller, parents: tuple[str, ...]) -> str:
    body = await _unused_payment(caller)
    made = ok(await caller.books.post(f"customerpayments/{parents[0]}/refunds", json=body))
    return str(made["payment_refunds"][0]["payment_refund_id"])


async def _vendor_payment_refund(caller: Caller, parents: tuple[str, ...]) -> str:
    path = f"vendorpayments/{parents[0]}/refunds"
    made = ok(await caller.books.post(path, json=_vendor_refund(caller)), 201)
    return str(made["vendorpayment_refund"]["vendorpayment_refund_id"])


# Records of the credit rules' sub-resources, made through their own routes: resource -> maker.
_CREDIT_RECORDS: dict[str, Any] = {
    "/creditnotes/{}/refunds": _note_refund, "/vendorcredits/{}/refunds": _credit_refund,
    "/creditnotes/{}/invoices": _note_application, "/vendorcredits/{}/bills": _credit_application,
    "/invoices/{}/creditsapplied": _invoice_credit, "/customerpayments/{}/refunds": _payment_refund,
    "/vendorpayments/{}/refunds": _vendor_payment_refund,
}
_CREDIT_BODIES: dict[str, Any] = {
    "note_refund": lambda c: {"date": "2025-03-01", "amount": 10,
                              "from_account_id": c.view.account_id("Business Checking")},
    "credit_refund": lambda c: {"date": "2025-03-01", "amount": 1,
                                "account_id": c.view.account_id("Business Checking")},
    "note_apply": lambda c: {"invoices": [{"invoice_id": c.view.invoice_id("INV-000002"),
                                           "amount_applied": 50}]},
    "credit_apply": lambda c: {"bills": [{"bill_id": _bill_id(c, "OS-2231"), "amount_applied": 6}]},
}


def _journal(caller: Caller) -> dict[str, Any]:
    fees, bank = caller.view.account_id("Bank Fees and Charges"), caller.view.account_id("Business Checking")
    return {"journal_date": "2025-03-01", "line_items": [
        {"account_id": fees, "debit_or_credit": "debit", "amount": 10},
        {"account_id": bank, "debit_or_credit": "credit", "amount": 10}]}


# Bodies for the rule modules' creates, which check more than Zoho's required lists (an estimate needs lines).
RULE_BODIES: dict[str, Any] = {
    "create_bank_account": lambda c: {"account_name": "Savings", "account_type": "bank"},
    "create_chart_of_account": lambda c: {"account_name": "Marketing", "account_type": "expense"},
    "create_bill": lambda c: {"vendor_id": c.view.contact_id("Office Supplies Co"), "bill_number": "T-1",
                              "line_items": [_line(c)]},
    "create_contact_person": lambda c: {"contact_id": c.view.contact_id("Acme Corporation"),
                                        "first_name": "Wile"},
    "create_customer_payment": lambda c: {
        "customer_id": c.view.contact_id("Globex Ltd"), "payment_mode": "cash", "amount": 10,
        "date": c.view.today.isoformat(),
        "invoices": [{"invoice_id": c.view.invoice_id("INV-000002"), "amount_applied": 10}]},
    "create_estimate": lambda c: {"customer_id": c.view.contact_id("Acme Corporation"),
                                  "line_items": [_line(c)]},
    "create_expense": lambda c: {"account_id": c.view.account_id("Rent Expense"), "amount": 10,
                                 "date": "2025-03-01",
                                 "paid_through_account_id": c.view.account_id("Petty Cash")},
    "create_purchase_order": lambda c: {"vendor_id": c.view.contact_id("Office Supplies Co"),
                                        "line_items": [_line(c, account_id=c.view.account_id(
                                            "Office Supplies"))]},
    "create_sales_order": lambda c: {"customer_id": c.view.contact_id("Acme Corporation"),
                                     "line_items": [_line(c)]},
    "create_tax": lambda c: {"tax_name": "Levy", "tax_percentage": 2},
    "create_bank_transaction": _deposit,
    "update_bank_transaction": _deposit,
    "import_bank_statements": lambda c: {"account_id": c.view.account_id("Business Checking"),
                                         "transactions": [{"date": "2025-03-01", "debit_or_credit": "debit",
                                                           "amount": 10}]},
    "categorize_bank_transaction": lambda c: {"transaction_type": "interest_income",
                                              "from_account_id": c.view.account_id("Interest Income")},
    "categorize_bank_transaction_as_expense": _fee_expense,
    "categorize_bank_transaction_as_customer_payment": lambda c: {
        "customer_id": c.view.contact_id("Acme Corporation"),
        "invoices": [{"invoice_id": c.view.invoice_id("INV-000003"), "amount_applied": 688}]},
    "categorize_bank_transaction_as_vendor_payment": lambda c: {
        "vendor_id": c.view.contact_id("Cloud Hosting Ltd"),
        "bills": [{"bill_id": c.view.find("bills", bill_number="CH-1001")["bill_id"],
                   "amount_applied": 180}]},
    "match_bank_transaction": _invoice_match,
    "categorize_as_credit_note_refunds": lambda c: {
        "creditnote_id": c.view.find("creditnotes", creditnote_number="CN-00001")["creditnote_id"],  # type: ignore[index]
        "date": "2025-03-01"},
    "categorize_as_vendor_credit_refunds": lambda c: {
        "vendor_credit_id": c.view.find("vendorcredits", vendor_credit_number="DN-00001")[  # type: ignore[index]
            "vendor_credit_id"], "date": "2025-03-01"},
    "create_journal": lambda c: _journal(c),
    "create_credit_note": lambda c: {"customer_id": c.view.contact_id("Acme Corporation"),
                                     "line_items": [_line(c, rate=10)]},
    "create_vendor_credit": lambda c: {"vendor_id": c.view.contact_id("Office Supplies Co"), "line_items": [
        {"account_id": c.view.account_id("Office Supplies"), "rate": 5}]},
    "create_credit_note_refund": lambda c: _CREDIT_BODIES["note_refund"](c),
    "create_customer_payment_refund": _unused_payment,
    "update_customer_payment_refund": lambda c: {"amount": 0.5},
    "refund_excess_vendor_payment": _vendor_refund,
    "update_vendor_payment_refund": lambda c: {"amount": 0.5},
    "refund_vendor_credit": lambda c: _CREDIT_BODIES["credit_refund"](c),
    "apply_credit_note_to_invoice": lambda c: _CREDIT_BODIES["note_apply"](c),
    "apply_credits_to_a_bill": lambda c: _CREDIT_BODIES["credit_apply"](c),
    "apply_credits_to_invoice": lambda c: {"apply_creditnotes": [{
        "creditnote_id": c.view.find("creditnotes", creditnote_number="CN-00001")["creditnote_id"],  # type: ignore[index]
        "amount_applied": 20}], "invoice_payments": []},
    "apply_credits_to_bill": lambda c: {"apply_vendor_credits": [{
        "vendor_credit_id": c.view.find("vendorcredits", vendor_credit_number="DN-00001")[  # type: ignore[index]
            "vendor_credit_id"], "amount_applied": 6}]},
    "update_credit_note": lambda c: {"reference_number": "R-1"},
    "update_vendor_credit": lambda c: {"reference_number": "R-1"},
    "update_journal": lambda c: _journal(c),
    "create_vendor_payment": lambda c: {"vendor_id": c.view.contact_id("Office Supplies Co"), "amount": 10},
}
# Update-or-create by a unique custom field (sandbox/rules/upsert.py): the body that creates one, as the
# harness's value is held by no record yet.
RULE_BODIES.update({
    f"update_{name}_using_custom_field": RULE_BODIES[f"create_{name}"]
    for name in ("bill", "customer_payment", "estimate", "expense", "purchase_order", "sales_order")})
