"""Issue #7: random and hostile arguments to every tool. zbmcp never crashes, never forwards an invalid
request, and every refusal names the field."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ORG, OTHER_ORG, AuditCapture, agent, mcp_client, running
from zbmcp.errors import InvalidArguments
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.manifest_file import PATH_PARAM
from zbmcp.core.requests import build_request
from zbmcp.core.tools import validation_schema

SPECS = load_manifests()
ORGS = [ORG, OTHER_ORG]
HOSTILE_STRINGS = ["../1", "1/2", "1?x=2", "%2e%2e", "1#frag", "", " ", "\x00", "١٢٣", "9" * 400, "null",
                   "<script>", "ZohoBooks.fullaccess.all", "Zoho-oauthtoken x", ORG, OTHER_ORG, "20987654",
                   "460000000026049", "2026-02-30", "2026-11-25"]
HOSTILE_KEYS = ["organization_id", "Authorization", "__proto__", "a b", "page", "per_page", "invoice_id",
                "customer_id", "line_items", "JSONString", "authtoken", "total_greater_than", "credit_limit",
                "x" * 80, "é"]

scalars = st.one_of(
    st.sampled_from(HOSTILE_STRINGS), st.text(max_size=12), st.integers(), st.booleans(), st.none(),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner,
                                                                       max_size=3)),
                      max_leaves=8)


def plausible(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that fit a manifest schema most of the time, so requests get past validation and are checked."""
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if kind == "string":
        if schema.get("pattern"):
            return st.from_regex(r"\A[0-9]{1,18}\Z")
        if schema.get("format") == "date":
            return st.dates().map(str)
        if schema.get("format") == "email":
            return st.emails()
        return st.text(max_size=20)
    if kind == "integer":
        return st.integers(min_value=-5, max_value=500)
    if kind == "number":
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                         st.sampled_from([math.nan, math.inf, -math.inf]))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(plausible(schema.get("items") or {}), min_size=1, max_size=2)
    if kind == "object":
        properties = schema.get("properties") or {}
        return st.fixed_dictionaries({}, optional={k: plausible(v) for k, v in properties.items()})
    return values


@st.composite
def calls(draw: Any) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(SPECS)))
    schema = validation_schema(SPECS[name], ORGS)
    arguments: dict[str, Any] = {}
    for key, property_schema in schema["properties"].items():
        if key in schema.get("required", []) or draw(st.booleans()):
            arguments[key] = draw(st.one_of(plausible(property_schema), values) if draw(st.booleans())
                                  else plausible(property_schema))
    extra_keys = st.one_of(st.sampled_from(HOSTILE_KEYS), st.text(min_size=1, max_size=10),
                           st.from_regex(r"\A[a-z][a-z0-9_]{0,20}\Z"))
    arguments.update(draw(st.dictionaries(extra_keys, values, max_size=3)))
    return name, arguments


def check_request(name: str, request: Any, arguments: dict[str, Any]) -> None:
    spec = SPECS[name]
    unescaped = re.escape(spec.path).replace(r"\{", "{").replace(r"\}", "}")
    template = "^" + PATH_PARAM.sub("[0-9]+", unescaped) + "$"
    assert re.match(template, request.path), request.path
    query = dict(request.params)
    assert len(query) == len(request.params)  # no parameter smuggled in twice
    if spec.module == "organizations":
        assert "organization_id" not in query
    else:
        assert query["organization_id"] in ORGS
    for key, value in request.params:
        assert re.fullmatch("[a-z][a-z0-9_]{0,63}", key) and isinstance(value, str)
        assert_finite(arguments.get(key))  # a NaN would have become the query value "nan"
    if request.body is not None:
        assert all(re.fullmatch("[a-z][a-z0-9_]{0,63}", key) for key in request.body)
        assert_finite(request.body)


def assert_finite(value: Any) -> None:
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for item in value.values():
            assert_finite(item)
    elif isinstance(value, list):
        for item in value:
            assert_finite(item)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls())
def test_every_tool_either_builds_a_valid_request_or_names_each_bad_field(call):
    name, arguments = call
    try:
        request = build_request(SPECS[name], arguments, ORGS)
    except InvalidArguments as refusal:
        assert refusal.fields
        for field in refusal.fields:
            assert field in str(refusal)
        return
    check_request(name, request, arguments)


@pytest.fixture
def anything_goes(make_config):
    return make_config({"all": agent(["*:*"], ORGS)})


async def test_hostile_calls_through_the_server_never_crash_it_or_reach_zoho_invalid(anything_goes, sandbox):
    examples: list[tuple[str, dict[str, Any]]] = []

    @settings(max_examples=150, deadline=None, database=None)
    @given(calls())
    def collect(call: tuple[str, dict[str, Any]]) -> None:
        examples.append(call)

    collect()
    async with running(anything_goes, sandbox) as runtime, mcp_client(runtime, "all") as client:
        for name, arguments in examples:
            before = len(sandbox.api_requests)
            with anyio.fail_after(10):
                result = await client.call_tool(name, arguments)  # a crash would raise here
            if result.is_error and result.structured_content["error"]["type"] == "InvalidArguments":
                assert result.structured_content["error"]["fields"]
                assert len(sandbox.api_requests) == before
    statuses = {r.status for r in sandbox.api_requests}
    assert 500 not in statuses  # nothing zbmcp forwarded made the sandbox fail


# -- issue #11: ids matched in full, every length bounded ----------------------------------------------------


@pytest.mark.parametrize(("tool", "arguments", "field", "says"), [
    ("get_invoice", {"invoice_id": "460000000026049\n"}, "invoice_id", "must be a Zoho id"),
    ("get_invoice", {"invoice_id": "1" * 20}, "invoice_id", "must be a Zoho id"),
    ("get_invoice", {"invoice_id": "9" * 100_000}, "invoice_id", "must be a Zoho id"),
    ("list_invoices", {"organization_id": ORG + "\n"}, "organization_id", ""),
    ("list_invoices", {"customer_id": "1\n"}, "customer_id", "must be a Zoho id"),
    ("list_contacts", {"search_text": "a" * 501}, "search_text", "is 501 characters long; at most 500"),
    ("list_invoices", {"invoice_number_contains": "x" * 2000}, "invoice_number_contains", "at most 500"),
    ("list_invoices", {"abc\n": "1"}, "abc\n", "is not an argument of list_invoices"),
    ("list_invoices", {"per_page": -1}, "per_page", "must be at least 1"),
    ("list_bills", {"per_page": 0}, "per_page", "must be at least 1"),
    ("list_contacts", {"page": 0}, "page", "must be at least 1"),
    ("list_items", {"page": 10 ** 4000}, "page", "must be at most 100000"),
    ("create_contact", {"contact_name": "n" * 10_001}, "contact_name",
     "is 10,001 characters long; at most 10,000"),
    ("create_contact", {"contact_name": "A", "notes": "n" * 20_000}, "notes", "at most 10,000"),
    ("create_contact", {"contact_name": "A", "contact_persons": [{"email": "a@b.c"}] * 501},
     "contact_persons", "has 501 items; at most 500"),
    ("create_contact", {"contact_name": "A", "custom": [[[[[[[[["deep"]]]]]]]]]}, "custom",
     "nested too deeply"),
    ("create_contact", {"contact_name": "A", "notes": "x" * 600_000}, "arguments", "a call takes at most"),
])
async def test_hostile_lengths_and_ids_are_refused_naming_the_field_and_nothing_is_sent(
        anything_goes, sandbox, tool, arguments, field, says):
    audit = AuditCapture()
    if tool != "list_invoices" or "organization_id" not in arguments:
        arguments = {"organization_id": ORG, **arguments}
    async with running(anything_goes, sandbox, audit=audit) as runtime, mcp_client(runtime, "all") as client:
        result = await client.call_tool(tool, arguments)
    error = result.structured_content["error"]
    assert result.is_error and error["type"] == "InvalidArguments"
    assert any(f == field or f.startswith(field + "[") for f in error["fields"]), error
    assert says in error["message"] and len(error["message"]) < 1000  # the value is not echoed back whole
    assert sandbox.api_requests == []
    [record] = audit.records
    assert record["decision"] == "denied" and len(json.dumps(record)) < 5000  # nor copied into the audit log
