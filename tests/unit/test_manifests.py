"""The shipped tool manifests against Zoho's OpenAPI files, and the loader's checks on broken manifests.

Zoho's side comes from tests/data/zoho_oas_extract.json (regenerate: python scripts/extract_oas.py), so these
tests run without the OpenAPI files; when the files are present, the extract is checked to be current.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from zbmcp.errors import ConfigError
from zbmcp.calls.catalog import load_hand_manifests
from zbmcp.calls.server import INSTRUCTIONS
from zbmcp.calls.tool_list import listing_size, to_mcp_tool
from zbmcp.core.manifest import EFFECTS, ToolSpec, dotted_fields
from zbmcp.core.manifest_file import load_manifest_texts
from zbmcp.core.tools import validation_schema

REPO = Path(__file__).resolve().parents[2]
EXTRACT_PATH = REPO / "tests" / "data" / "zoho_oas_extract.json"
EXTRACTED = json.loads(EXTRACT_PATH.read_text(encoding="utf-8"))["operations"]
# Reports: not in Zoho's OpenAPI files; their facts, and where they come from, written by hand.
UNVERIFIED_PATH = REPO / "tests" / "data" / "zoho_unverified_operations.json"
UNVERIFIED = json.loads(UNVERIFIED_PATH.read_text(encoding="utf-8"))["operations"]
OAS = {**EXTRACTED, **UNVERIFIED}
SPECS = load_hand_manifests()  # (tests/unit/test_catalog.py checks the generated tools)
ORG = "10234695"
OTHER_ORG = "10234696"

ORIGINAL_TOOLS = {
    "list_invoices", "get_invoice", "create_invoice", "update_invoice", "delete_invoice", "mark_invoice_sent",
    "email_invoice",
    "list_contacts", "get_contact", "create_contact", "update_contact", "delete_contact",
    "list_estimates", "create_estimate", "email_estimate",
    "create_sales_order", "list_sales_orders",
    "create_bill", "list_bills",
    "create_purchase_order", "list_purchase_orders",
    "create_expense", "list_expenses",
    "create_customer_payment", "list_customer_payments", "delete_customer_payment",
    "create_item", "list_items",
    "list_bank_accounts", "create_bank_account",
    "list_chart_of_accounts", "create_chart_of_account",
    "list_organizations",
}  # fmt: skip
# issue #15: a get_* for every listed module, void and back to draft, vendor payments, reports
EXPECTED_TOOLS = ORIGINAL_TOOLS | {
    "get_estimate", "get_sales_order", "get_purchase_order", "get_bill", "get_expense",
    "get_customer_payment", "get_item", "get_bank_account", "get_chart_of_account", "mark_invoice_void",
    "mark_invoice_draft", "list_vendor_payments", "get_vendor_payment", "create_vendor_payment",
    "get_profit_and_loss", "get_balance_sheet", "get_aged_receivables", "get_aged_payables",
    # issue #23.2: reports Zoho documents only on its pages
    "get_trial_balance", "get_general_ledger", "get_account_transactions", "get_cash_flow",
}  # fmt: skip

# Query arguments we declare although Zoho's file does not list them for that operation. Keep this short.
QUERY_NOT_IN_OAS: dict[str, set[str]] = {
    # The invoices file documents sort_column but declares sort_order only for bills; every list answer echoes
    # sort_order in page_context and clients send it on every list (zoho-books-api.md §4.1).
    "list_invoices": {"sort_order"},
    # Bills have due dates and a bookkeeper pays by them (issue #22.6); the bills file documents no due-date
    # filter, but every other date takes Zoho's date suffixes (zoho-books-api.md §5) and invoices document
    # these. Unverified: docs/sandbox.md says so, and the list's summary says when a row falls outside them.
    "list_bills": {"due_date", "due_date_start", "due_date_end", "due_date_before", "due_date_after"},
    # zbmcp's own: sent to Zoho as the report's `rule` (zbmcp/core/report_query.py), never by this name.
    "get_account_transactions": {"account_id"},
}

# Body fields we declare although Zoho's file lacks them for that operation: none so far. Add one only when
# Zoho accepts a field its file leaves out, with the evidence in a comment.
BODY_NOT_IN_OAS: dict[str, set[str]] = {}

# Zoho's customer-payments file lists invoice_id and amount_applied as required at the top level of the
# create body; they belong to each entry of invoices[] (zoho-books-api.md §4.8).
REQUIRED_SLIPS: dict[str, dict[str, str]] = {
    "create_customer_payment": {
        "invoice_id": "invoices.invoice_id",
        "amount_applied": "invoices.amount_applied",
    },
}

# Zoho's customer-payments file names the list key customer_payments; Zoho's Java wrapper and real
# clients read customerpayments (zoho-books-api.md §3, note 2). The chart-of-accounts file draws one
# account's fields at the top level of the answer; Zoho's Java wrapper (ChartOfAccountParser) reads
# them under chart_of_account. The vendor-payments file does the same for a new payment; the wrapper
# (VendorPaymentParser) reads vendorpayment.
RESULT_KEY_SLIPS = {"list_customer_payments": ("customer_payments", "customerpayments"),
                    "get_chart_of_account": ("account_id", "chart_of_account"),
                    "create_vendor_payment": ("payment_id", "vendorpayment")}

# The budget (issues #3 and #15): every tool costs context on every agent turn. The sandbox's demo agent works
# in two organizations, which makes organization_id a required enum on every tool but list_organizations.
# Issue #15's targets: the original 33 tools under 20,000 bytes, and every tool at most 560 bytes on average
# (lists now say their page size and sort columns, and advertise `fields`).
BUDGET_ONE_ORG = 18_000  # the original 33 tools
BUDGET_TWO_ORGS = 20_000  # the original 33 tools, strictly under
BUDGET_PER_TOOL_TWO_ORGS = 560  # every tool, on average

# MCP ToolAnnotations defaults, for hints left out of the listing.
HINT_DEFAULTS = {
    "read_only_hint": False,
    "destructive_hint": True,
    "idempotent_hint": False,
    "open_world_hint": True,
}


def _dotted_fields(properties: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every declared property as a dotted path through arrays and objects, e.g. line_items.item_id."""
    for name, schema in properties.items():
        yield prefix + name
        yield from _dotted_fields(_object_properties(schema), f"{prefix}{name}.")


def _object_properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        schema = schema["items"]
    return schema.get("properties") or {}


def _nested_required(properties: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for name, schema in properties.items():
        inner = schema
        while inner.get("type") == "array" and isinstance(inner.get("items"), dict):
            inner = inner["items"]
        for child in inner.get("required") or []:
            yield f"{prefix}{name}.{child}"
        yield from _nested_required(inner.get("properties") or {}, f"{prefix}{name}.")


def _manifest_required(spec: ToolSpec) -> set[str]:
    return set(spec.required) | set(_nested_required(spec.body or {}))


# --- the tool set -------------------------------------------------------------------------------------------


def test_the_manifests_define_exactly_the_expected_tools() -> None:
    assert set(SPECS) == EXPECTED_TOOLS


def test_every_tool_is_a_zoho_operation() -> None:
    assert EXPECTED_TOOLS <= set(OAS), sorted(EXPECTED_TOOLS - set(OAS))


def test_only_reports_rest_on_facts_outside_our_openapi_files() -> None:
    assert set(UNVERIFIED) == {name for name in EXPECTED_TOOLS if SPECS[name].module == "reports"}
    # once Zoho's file is in ../shared/zoho-oas, drop the hand copy
    assert not set(UNVERIFIED) & set(EXTRACTED)


# --- each tool against Zoho's OpenAPI file ------------------------------------------------------------------

ALL = sorted(EXPECTED_TOOLS)


@pytest.mark.parametrize("name", ALL)
def test_method_path_and_scope_are_zohos(name: str) -> None:
    spec, op = SPECS[name], OAS[name]
    assert (spec.method, spec.path) == (op["method"], op["path"])
    assert [spec.scope] == op["scopes"]
    assert sorted(spec.path_params) == op["path_params"]


@pytest.mark.parametrize("name", ALL)
def test_declared_query_parameters_exist_in_zohos_file(name: str) -> None:
    op = OAS[name]
    known = set(op["query_params"]) | set(op["query_variants"]) | QUERY_NOT_IN_OAS.get(name, set())
    assert (set(SPECS[name].query) | set(SPECS[name].unadvertised_query)) - known == set()


@pytest.mark.parametrize("name", ALL)
def test_declared_body_fields_exist_in_zohos_file(name: str) -> None:
    declared = set(_dotted_fields(SPECS[name].body or {}))
    assert declared - set(OAS[name]["body_fields"]) - BODY_NOT_IN_OAS.get(name, set()) == set()


@pytest.mark.parametrize("name", ALL)
def test_every_field_zoho_requires_is_required(name: str) -> None:
    slips = REQUIRED_SLIPS.get(name, {})
    zoho_required = {slips.get(field, field) for field in OAS[name]["required_body_fields"]}
    assert zoho_required - _manifest_required(SPECS[name]) == set()


def test_the_payment_slip_is_still_in_zohos_file_and_handled() -> None:
    """When Zoho fixes its file this fails: then drop REQUIRED_SLIPS."""
    op = OAS["create_customer_payment"]
    assert {"invoice_id", "amount_applied"} <= set(op["required_body_fields"])
    assert {"invoices.invoice_id", "invoices.amount_applied"} <= set(op["body_fields"])
    body = SPECS["create_customer_payment"].body or {}
    assert "invoice_id" not in body and "amount_applied" not in body
    assert {"invoices.invoice_id", "invoices.amount_applied"} <= _manifest_required(
        SPECS["create_customer_payment"]
    )


@pytest.mark.parametrize("name", ALL)
def test_result_key_is_where_zoho_puts_the_payload(name: str) -> None:
    expected = OAS[name]["response_keys"]
    if name in RESULT_KEY_SLIPS:
        documented, real = RESULT_KEY_SLIPS[name]
        assert documented in expected  # when Zoho fixes its file, drop the slip
        expected = [real]
    assert ([SPECS[name].result_key] if SPECS[name].result_key else []) == expected


def _script(name: str) -> Any:
    path = REPO / "scripts" / f"{name}.py"
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_the_oas_extract_is_as_the_script_writes_it() -> None:
    """Runs everywhere (Zoho's files are not in the repository): a hand edit shows, and
    so does a stale format."""
    text = EXTRACT_PATH.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=1,
                              sort_keys=True) + "\n", "run: python scripts/extract_oas.py"


def test_the_oas_extract_is_current() -> None:
    """The committed extract is what scripts/extract_oas.py makes of Zoho's files (when they are here; CI
    allows this one skip, see SKIPS_ALLOWED_IN_CI in tests/conftest.py)."""
    extract_oas = _script("extract_oas")
    if not any(extract_oas.DEFAULT_OAS_DIR.glob("*.yml")):
        pytest.skip(f"Zoho's OpenAPI files are not at {extract_oas.DEFAULT_OAS_DIR}")
    fresh = json.dumps(extract_oas.extract(extract_oas.DEFAULT_OAS_DIR), indent=1, sort_keys=True) + "\n"
    assert fresh == EXTRACT_PATH.read_text(encoding="utf-8"), "run: python scripts/extract_oas.py"


@pytest.mark.parametrize("document_path", ["README.md", "docs/tools.md"])
def test_the_tool_table_in_the_docs_is_current(document_path: str) -> None:
    tool_table = _script("tool_table")
    document = (REPO / document_path).read_text(encoding="utf-8")
    assert f"{tool_table.START}\n{tool_table.table()}{tool_table.END}" in document, (
        "run: python scripts/tool_table.py README.md docs/tools.md"
    )


def test_the_effect_table_in_the_docs_is_current() -> None:
    tool_table = _script("tool_table")
    document = (REPO / "docs" / "tools.md").read_text(encoding="utf-8")
    assert f"{tool_table.EFFECTS_START}\n{tool_table.effect_table()}{tool_table.EFFECTS_END}" in document, (
        "run: python scripts/tool_table.py README.md docs/tools.md"
    )


# --- what an agent sees -------------------------------------------------------------------------------------


def _hint(annotations: Any, name: str) -> bool:
    value = getattr(annotations, name)
    return HINT_DEFAULTS[name] if value is None else value


@pytest.mark.parametrize("name", ALL)
def test_annotations_are_derived_from_method_and_emails(name: str) -> None:
    spec = SPECS[name]
    tool = to_mcp_tool(spec, [ORG])
    assert tool.annotations is not None
    assert _hint(tool.annotations, "read_only_hint") is (spec.method == "GET")
    emails = spec.emails_customer or "emails" in spec.effects.values()
    assert _hint(tool.annotations, "open_world_hint") is emails
    if spec.method != "GET":  # (MCP defines destructive and idempotent for writes only)
        assert _hint(tool.annotations, "destructive_hint") is (spec.method == "DELETE" or emails)
        assert _hint(tool.annotations, "idempotent_hint") is (spec.method in ("PUT", "DELETE"))
    assert tool.meta == {"zbmcp/scope": spec.scope}


def test_reads_deletes_and_emails_are_the_expected_tools() -> None:
    tools = {name: to_mcp_tool(spec, [ORG]) for name, spec in SPECS.items()}
    read_only = {name for name, tool in tools.items() if _hint(tool.annotations, "read_only_hint")}
    writes = {name: tool for name, tool in tools.items() if name not in read_only}
    destructive = {name for name, tool in writes.items() if _hint(tool.annotations, "destructive_hint")}
    open_world = {name for name, tool in tools.items() if _hint(tool.annotations, "open_world_hint")}
    emailers = {name for name, spec in SPECS.items() if spec.emails_customer}
    assert read_only == {name for name in EXPECTED_TOOLS if name.startswith(("list_", "get_"))}
    assert emailers == {"email_invoice", "email_estimate"}
    # create_invoice and create_estimate email the customer when send=true: they say so, as the email tools do
    assert open_world == emailers | {"create_invoice", "create_estimate"}
    assert destructive == {"delete_invoice", "delete_contact", "delete_customer_payment"} | open_world
    for name in open_world - emailers:
        assert "send=true also emails it" in SPECS[name].description


@pytest.mark.parametrize(
    "name", sorted(n for n in EXPECTED_TOOLS if n.startswith("list_") and n != "list_organizations")
)
def test_lists_page_at_most_200(name: str) -> None:
    schema = validation_schema(SPECS[name], [ORG])
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors({"page": 2, "per_page": 201}))
    assert [list(error.path) for error in errors] == [["per_page"]]


@pytest.mark.parametrize("name", ALL)
def test_lists_say_their_page_size_and_the_server_says_fields_once(name: str) -> None:
    """An agent reads the default page size in the description, and `fields` (zbmcp's own argument of every
    list, never forwarded) once, in the server's instructions: in each list's schema it cost 338 bytes of the
    tool list on every turn."""
    spec = SPECS[name]
    schema = to_mcp_tool(spec, [ORG, OTHER_ORG]).input_schema
    assert "fields" not in schema["properties"]
    assert 'every list takes fields="a,b"' in INSTRUCTIONS
    assert "fields" not in spec.argument_schema["properties"]  # never a Zoho argument
    if spec.is_list and spec.argument_group("per_page") == "query":
        assert "50 a page" in spec.description


# Zoho's description of a filter_by or sort_column parameter lists the values it
# takes ("Allowed Values: ...").
_VALUES_START = re.compile(r"(?:allowed values|options include)\s*:?", re.I)
# Where Zoho's description gives examples rather than the list: list_invoices' filter_by ("Use Status.* ... or
# Date.PaymentExpectedDate"); the manifest has the ten values of Zoho's API documentation for invoices.
VALUES_PARTLY_DOCUMENTED = {("list_invoices", "filter_by")}


def _documented_values(parameter: str, description: str) -> set[str]:
    if parameter == "filter_by":
        return set(re.findall(r"\b[A-Z][A-Za-z]*\.[A-Za-z]+\b", description))
    start = _VALUES_START.search(description)
    if start is None:
        return set()
    values = re.split(r"\s\.(?:\s|$)", description[start.end():])[0]  # up to the sentence's end
    return set(re.findall(r"\b[a-z][a-z_]*\b", values)) - {"and"}


# (the unverified operations keep Zoho's field names but not its descriptions, so
# their values are not checked)
VALUE_CASES = [(name, parameter) for name in ALL for parameter in ("filter_by", "sort_column")
               if name.startswith("list_") and OAS[name].get("query_descriptions", {}).get(parameter)]


@pytest.mark.parametrize(("name", "parameter"), VALUE_CASES)
def test_filter_and_sort_values_are_the_ones_zoho_documents(name: str, parameter: str) -> None:
    """zbmcp checks filter_by and sort_column against the values Zoho documents, so a wrong one is refused
    with the list (where an agent needs it) instead of costing context in every listing."""
    spec = SPECS[name]
    documented = _documented_values(parameter, OAS[name]["query_descriptions"][parameter])
    schema = {**spec.query, **spec.unadvertised_query}[parameter]
    accepted = set(schema.get("enum") or [])
    assert documented, "Zoho's description names no values: drop this case"
    if (name, parameter) in VALUES_PARTLY_DOCUMENTED:
        assert documented < accepted
    else:
        assert accepted == documented


def _id_locations(properties: Mapping[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Instance paths of every *_id value (and every *_ids item) in a schema, with arrays at index 0."""
    for name, schema in properties.items():
        here = (*path, name)
        if name.endswith("_id") and schema.get("type") == "string":
            yield here
        if name.endswith("_ids") and schema.get("type") == "array" \
                and "format" not in (schema.get("items") or {}):
            yield (*here, 0)  # (to_mail_ids holds email addresses, and says so with a format)
        inner, at = schema, here
        while inner.get("type") == "array" and isinstance(inner.get("items"), dict):
            inner, at = inner["items"], (*at, 0)
        yield from _id_locations(inner.get("properties") or {}, at)


def _instance_at(location: tuple[Any, ...], value: str) -> Any:
    instance: Any = value
    for step in reversed(location):
        instance = [instance] if step == 0 else {step: instance}
    return instance


ID_CASES = [
    (name, location)
    for name in ALL
    for location in _id_locations(validation_schema(SPECS[name], [ORG])["properties"])
]


def test_id_cases_cover_path_query_body_and_nested_ids() -> None:
    locations = {(name, location) for name, location in ID_CASES}
    assert ("get_invoice", ("invoice_id",)) in locations
    assert ("list_invoices", ("customer_id",)) in locations
    assert ("create_expense", ("paid_through_account_id",)) in locations
    assert ("create_invoice", ("line_items", 0, "item_id")) in locations
    assert ("create_customer_payment", ("invoices", 0, "invoice_id")) in locations
    assert ("list_contacts", ("organization_id",)) in locations


@pytest.mark.parametrize(
    ("name", "location"), ID_CASES, ids=[f"{n}:{'.'.join(map(str, loc))}" for n, loc in ID_CASES]
)
@pytest.mark.parametrize("bad", ["../1", "1/2", "1?x=2", "", " 1"])
def test_ids_cannot_carry_url_syntax(name: str, location: tuple[Any, ...], bad: str) -> None:
    validator = jsonschema.Draft202012Validator(validation_schema(SPECS[name], [ORG]))

    def errors_at(value: str) -> list[Any]:
        return [
            e
            for e in validator.iter_errors(_instance_at(location, value))
            if tuple(e.absolute_path) == location
        ]

    assert errors_at(bad), f"{bad!r} accepted"
    assert errors_at("460000000026049") == []


def test_listing_fits_the_context_budget() -> None:
    original = [SPECS[name] for name in sorted(ORIGINAL_TOOLS)]
    assert listing_size(original, [ORG]) <= BUDGET_ONE_ORG
    assert listing_size(original, [ORG, OTHER_ORG]) < BUDGET_TWO_ORGS
    assert listing_size(list(SPECS.values()), [ORG, OTHER_ORG]) <= BUDGET_PER_TOOL_TWO_ORGS * len(SPECS)


# --- effects: every forwarded field is classified, against Zoho's own field list ----------------------------


def _oas_fields(name: str) -> dict[str, str]:
    """Every field of Zoho's operation, body fields dotted and query parameters as they are, with its
    description (query parameters first: a body field of the same name describes itself)."""
    op = OAS[name]
    fields = {query: op.get("query_descriptions", {}).get(query, "") for query in op["query_params"]}
    fields.update({body: op.get("body_descriptions", {}).get(body, "") for body in op["body_fields"]})
    fields.pop("organization_id", None)  # zbmcp's own, checked against the agent's organizations
    return fields


def _forwarded(spec: ToolSpec) -> set[str]:
    return set(dotted_fields({**spec.query, **spec.unadvertised_query, **(spec.body or {})}))


@pytest.mark.parametrize("name", ALL)
def test_every_field_of_zohos_operation_that_zbmcp_forwards_has_an_effect(name: str) -> None:
    """Walks Zoho's whole field list for the operation; a forwarded field without a classification fails."""
    spec = SPECS[name]
    forwarded = _forwarded(spec)
    unclassified = sorted(field for field in _oas_fields(name) if field in forwarded
                          and field not in spec.effects)
    assert unclassified == []
    assert set(spec.effects) == forwarded  # and nothing else is forwarded (filter variants included)
    assert set(spec.effects.values()) <= set(EFFECTS)
    if spec.method == "GET":
        assert set(spec.effects.values()) <= {"none"}  # a read changes nothing


@pytest.mark.parametrize("name", ALL)
def test_withheld_fields_are_zohos_and_never_forwarded(name: str) -> None:
    spec = SPECS[name]
    assert set(spec.withheld) <= set(_oas_fields(name)), "a withheld field must be one of Zoho's"
    assert not set(spec.withheld) & _forwarded(spec)
    assert "none" not in spec.withheld.values()


# Words in Zoho's description of a field that suggest it reaches outside the books.
REACHES_OUT = re.compile(r"\b(e-?mails?|mail|send|sent|notif\w*|remind\w*|thank|sms|whatsapp|portal)\b", re.I)

# Fields whose description has such a word, read and judged to do nothing beyond the record itself.
REVIEWED_NO_EFFECT = {
    "contact_persons.email": "stores the person's address; the call itself emails nobody",
    "notes": "text printed on the document (Zoho suggests thank-you messages there); emails nobody",
    "date": "the purchase order's date; 'sent' in the description is about the document",
    "attention": "a name printed on the purchase order",
    "billing_address_id": "which stored address is printed on the document",
    "paypal_email_address": "stored with the bank account; emails nobody",
    "language_code": "the contact's language, for the portal and documents; invites nobody",
    "default_templates.": "which templates Zoho uses for this contact's future documents",
    "contact_persons.communication_preference.": "stored preferences; the call itself messages nobody",
}


def _reviewed(field: str) -> bool:
    return any(field == key or (key.endswith(".") and field.startswith(key)) for key in REVIEWED_NO_EFFECT)


def _withheld_here_or_above(spec: ToolSpec, field: str) -> bool:
    parts = field.split(".")
    return any(".".join(parts[:cut]) in spec.withheld for cut in range(1, len(parts) + 1))


@pytest.mark.parametrize("name", [n for n in ALL if SPECS[n].method != "GET"])
def test_every_field_zoho_describes_as_reaching_out_was_classified(name: str) -> None:
    """Fields whose Zoho description speaks of mail, sending, notifying or the portal are each accounted for:
    forwarded with a classification that is not `none` (or reviewed as none), or withheld."""
    spec = SPECS[name]
    unaccounted = []
    for field, description in _oas_fields(name).items():
        if not REACHES_OUT.search(f"{field.replace('_', ' ')} {description}"):
            continue
        if field in spec.effects and (spec.effects[field] != "none" or _reviewed(field)):
            continue
        if field not in spec.effects and (_withheld_here_or_above(spec, field) or _reviewed(field)):
            continue
        unaccounted.append(field)
    assert unaccounted == []


def test_send_emails_and_brings_the_email_tools_rules() -> None:
    for create, email in (("create_invoice", "email_invoice"), ("create_estimate", "email_estimate")):
        assert SPECS[create].effects["send"] == "emails" and SPECS[create].email_tool == email
    assert SPECS["create_customer_payment"].withheld["contact_persons"] == "emails"
    assert SPECS["email_invoice"].effects["cc_mail_ids"] == "recipients"


# --- the loader refuses broken manifests, naming the file, the tool and the fix -----------------------------

GOOD = """\
module: invoices
tools:
  - name: get_invoice
    title: Get invoice
    description: One invoice with its lines.
    method: GET
    path: /invoices/{invoice_id}
    scope: ZohoBooks.invoices.READ
    access: read
    path_params: {invoice_id: {type: string}}
"""
FILE = "broken/invoices.yaml"


def _load_error(*texts: tuple[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_manifest_texts(texts)
    return str(caught.value)


def test_a_good_manifest_loads() -> None:
    assert set(load_manifest_texts([(FILE, GOOD)])) == {"get_invoice"}


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        pytest.param(
            GOOD + "    withheld: {send: emails}\n    query: {send: {type: boolean}}\n",
            "withheld fields ['send'] are declared too",
            id="withheld-and-declared",
        ),
        pytest.param(
            GOOD + "    emails_customers: true\n",
            "emails_customers: unknown key; remove it",
            id="unknown-key",
        ),
        pytest.param(
            GOOD.replace("    path_params: {invoice_id: {type: string}}\n", ""),
            "declare ['invoice_id'] in path_params",
            id="path-param-undeclared",
        ),
        pytest.param(
            GOOD.replace(
                "{invoice_id: {type: string}}", "{invoice_id: {type: string}, contact_id: {type: string}}"
            ),
            "['contact_id'] in path_params are not in the path",
            id="path-param-not-in-path",
        ),
        pytest.param(
            GOOD + "    query: {print: {type: boolean}}\n    required: [prnt]\n",
            "required names ['prnt'] are not declared",
            id="required-undeclared",
        ),
        pytest.param(
            GOOD.replace("ZohoBooks.invoices.READ", "ZohoBooks.contacts.READ"),
            "Zoho guards /invoices with ZohoBooks.invoices.*",
            id="scope-of-another-module",
        ),
        pytest.param(GOOD.replace("access: read", "access: write"), "GET is read", id="get-marked-write"),
        pytest.param(
            GOOD + "    query: {accept: {type: string, enmu: [json, pdf]}}\n",
            "query.accept: unknown schema keyword(s) ['enmu']",
            id="misspelt-schema-keyword",
        ),
        pytest.param(
            GOOD + "    query: {accept: {type: string, description: json, pdf or html}}\n",
            "unknown schema keyword(s) ['pdf or html']",
            id="unquoted-comma-in-flow-mapping",
        ),
    ],
)
def test_a_broken_manifest_fails_naming_file_tool_and_fix(text: str, fix: str) -> None:
    message = _load_error((FILE, text))
    assert message.startswith(FILE + ": ")
    assert "'get_invoice'" in message
    assert fix in message


def test_items_need_the_settings_scope() -> None:
    text = GOOD.replace("invoices", "items").replace("invoice", "item")  # scope ZohoBooks.items.READ
    message = _load_error(("broken/items.yaml", text))
    assert "'get_item'" in message and "Zoho guards /items with ZohoBooks.settings.*" in message


def test_a_tool_defined_in_two_files_fails_naming_both() -> None:
    message = _load_error(("a/invoices.yaml", GOOD), ("b/invoices_more.yaml", GOOD))
    assert message.startswith("b/invoices_more.yaml: ")
    assert "'get_invoice' is defined twice" in message and "a/invoices.yaml" in message


WRITE = """\
module: invoices
effects:
  none: [customer_id]
tools:
  - name: create_invoice
    title: Create invoice
    description: Create a draft invoice.
    method: POST
    path: /invoices
    scope: ZohoBooks.invoices.CREATE
    access: write
    body: {customer_id: {type: string}, send: {type: boolean}}
"""


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        pytest.param(WRITE, "field 'send' is forwarded to Zoho but has no effect classification",
                     id="unclassified"),
        pytest.param(WRITE.replace("  none: [customer_id]", "  none: [customer_id]\n  emails: [send]"),
                     "module 'invoices' has no email tool", id="emails-without-an-email-tool"),
        pytest.param(WRITE.replace("  none: [customer_id]", "  none: [customer_id]\n  numbering: [send]"),
                     "effect 'numbering', which zbmcp cannot gate", id="ungateable-effect"),
        pytest.param(WRITE.replace("  none: [customer_id]", "  none: [customer_id, send, notes]"),
                     "['notes'] are classified but no write forwards them", id="stray-classification"),
        pytest.param(WRITE.replace("  none: [customer_id]", "  none: [customer_id, send]\n  emails: [send]"),
                     "'send' is classified twice", id="classified-twice"),
    ],
)
def test_a_manifest_that_forwards_an_unclassified_or_ungateable_field_fails(text: str, fix: str) -> None:
    message = _load_error((FILE, text))
    assert message.startswith(FILE + ": ") and fix in message
