"""Every tool's input schema as a strict client reads it (issue #22.4): one type per field, no unions or
references, and the formats, patterns and enums that tell an agent what to send kept in the listing.

The strictest rules known among MCP clients are Gemini's function declarations (an OpenAPI subset): one
`type` per property, no anyOf/oneOf/allOf, no $ref. The test lists the tools through a real MCP client for an
agent granted everything, so it covers every tool the catalog loads, however it was written or generated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.conftest import ORG, OTHER_ORG, agent, mcp_client, running
from zbmcp.calls.catalog import load_manifests

SPECS = load_manifests()
UNIONS = ("anyOf", "oneOf", "allOf", "$ref", "not")
KEPT = ("format", "pattern", "enum")


@pytest.fixture
def everything(make_config):
    return make_config({"demo": agent(["*:*"], [ORG, OTHER_ORG], catalog="whole")})


async def listed(loaded, sandbox) -> dict[str, dict[str, Any]]:
    """Every tool's input schema as the agent reads it: in tools/list, or through describe_tools for the
    tools beyond the list (docs/context.md), with the meta tools themselves."""
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        schemas = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
        beyond = sorted(set(SPECS) - set(schemas))
        for start in range(0, len(beyond), 10):
            described = await client.call_tool("describe_tools", {"names": beyond[start:start + 10]})
            assert not described.is_error, described.content[0].text
            schemas.update({tool["name"]: tool["inputSchema"]
                            for tool in described.structured_content["tools"]})
    return schemas


def nodes(schema: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every property schema, at any depth, with its dotted path (array items as `name[]`)."""
    for name, child in (schema.get("properties") or {}).items():
        yield f"{path}{name}", child
        yield from nodes(child, f"{path}{name}.")
        items = child.get("items")
        while isinstance(items, Mapping):
            yield f"{path}{name}[]", items
            yield from nodes(items, f"{path}{name}[].")
            items = items.get("items")


def declared(properties: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The manifest's own property schemas, pathed as `nodes` paths the listed ones."""
    for name, schema in properties.items():
        yield f"{path}{name}", schema
        yield from declared(schema.get("properties") or {}, f"{path}{name}.")
        items = schema.get("items")
        if isinstance(items, Mapping):
            yield f"{path}{name}[]", items
            yield from declared(items.get("properties") or {}, f"{path}{name}[].")


def broken_fields(tools: Mapping[str, Mapping[str, Any]]) -> list[str]:
    broken = []
    for name, schema in tools.items():
        assert schema.get("type") == "object", name
        for path, node in nodes(schema, f"{name}:"):
            if not isinstance(node.get("type"), str):
                broken.append(f"{path} has type {node.get('type')!r}")
            broken += [f"{path} uses {keyword}" for keyword in UNIONS if keyword in node]
    return broken


async def test_every_field_of_every_tool_has_exactly_one_type_and_no_union(everything, sandbox):
    tools = await listed(everything, sandbox)
    assert set(SPECS) <= set(tools)  # and the meta tools, if the list could not hold every tool
    assert sum(spec.generated for spec in SPECS.values()) > 400  # generated tools, as the agent reads them
    assert broken_fields(tools) == []


async def test_formats_patterns_and_enums_reach_the_agent(everything, sandbox):
    tools = await listed(everything, sandbox)
    lost = []
    for name, spec in SPECS.items():
        advertised = dict(nodes(tools[name], ""))
        for path, schema in declared({**spec.path_params, **spec.query, **(spec.body or {})}):
            for keyword in KEPT:
                if keyword in schema and advertised.get(path, {}).get(keyword) != schema[keyword]:
                    lost.append(f"{name}: {path} lost {keyword}")
    assert lost == []
    # what an agent guessed before: the date format, a report's period names, a discount's two spellings
    assert tools["create_invoice"]["properties"]["date"] == {"type": "string", "format": "date"}
    period = tools["get_profit_and_loss"]["properties"]["filter_by"]
    assert period["type"] == "string" and "PreviousDay" in period["pattern"]
    discount = tools["create_invoice"]["properties"]["line_items"]["items"]["properties"]["discount"]
    assert discount["type"] == "string" and discount["pattern"] == "^[0-9]+(\\.[0-9]+)?%?$"
    assert {"due_date_start", "due_date_end"} <= set(tools["list_bills"]["properties"])


async def test_a_discount_is_one_string_and_an_amount_reaches_zoho_as_zohos_number(everything, sandbox):
    store = sandbox.store(ORG)
    line = {"item_id": store.item_id("Consulting"), "rate": 200}
    async with running(everything, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        for discount in ("15", "10%"):
            made = await client.call_tool("create_invoice", {
                "organization_id": ORG, "customer_id": store.contact_id("Acme Corporation"),
                "line_items": [{**line, "discount": discount}]})
            assert not made.is_error, made.content[0].text
        sent = [request.body["line_items"][0]["discount"] for request in sandbox.api_requests
                if request.route == "POST /invoices"]
        totals = sorted(invoice["total"] for invoice in store.invoices.values()
                        if invoice["line_items"][0]["rate"] == 200)
    assert sent == [15, "10%"]  # Zoho's file types the amount a number; its docs write percentages "10%"
    assert totals == [180, 185]
