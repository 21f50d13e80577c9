"""The meta tools as an attacker meets them: they find, describe, enable and call only the agent's own tools;
a call through call_tool is decided, refused, asked about and recorded exactly as the same call made
directly; no meta tool reaches another; hostile arguments get one bounded refusal naming the field.

A small tool_list_bytes puts these agents' grants over their budget, whatever the size of the catalog.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import types

from tests.conftest import ORG, OTHER_ORG, agent, mcp_client, ok, refused, running
from zbmcp.calls.catalog import load_manifests
from zbmcp.errors import ConfigError

SPECS = load_manifests()
SMALL = 8_000  # the least tool_list_bytes: the meta tools and a few more


@pytest.fixture
def agents(make_config):
    return make_config({
        # reads only, but not bills: excluded
        "reader": agent(["*:read"], [ORG, OTHER_ORG], exclude=["list_bills"], tool_list_bytes=SMALL),
        "clerk": agent(["*:*"], [ORG, OTHER_ORG], require_approval=["create_contact"], tool_list_bytes=SMALL,
                       catalog="whole"),
        "open": agent(["*:*"], [ORG, OTHER_ORG], tool_list_bytes=10_000_000, catalog="whole"),  # all listed
    })


async def test_the_meta_tools_show_and_reach_nothing_outside_the_grant(agents, sandbox):
    async with running(agents, sandbox) as runtime, mcp_client(runtime, "reader", mode="legacy") as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {"find_tools", "describe_tools", "call_tool", "enable_tools"} <= set(listed)
        modules = ok(await client.call_tool("find_tools", {}))["modules"]
        assert modules and all(row["writes"] == 0 for row in modules)
        for query in ("bill", "create invoice", "delete", "email", "list"):
            found = ok(await client.call_tool("find_tools", {"query": query, "limit": 50}))["tools"]
            assert all(SPECS[row["name"]].access == "read" and row["name"] != "list_bills" for row in found)
        assert ok(await client.call_tool("find_tools", {"access": "write"}))["tools"] == []
        assert ok(await client.call_tool("find_tools", {"query": "bill"}))["tools"][0]["name"] == "get_bill"
        text = refused(await client.call_tool("describe_tools", {"names": ["get_bill", "list_bills"]}))
        assert "'list_bills' (excluded by `exclude: list_bills`)" in text
        assert SPECS["list_bills"].description not in text
        for meta in ("describe_tools", "enable_tools"):
            assert "not selected" in refused(await client.call_tool(meta, {"names": ["create_invoice"]}))
        assert "no tool has this name" in refused(await client.call_tool("enable_tools", {"names": ["x_y"]}))
        assert "module" in refused(await client.call_tool("enable_tools", {"module": "nosuchmodule"}))
        assert set(listed) == {tool.name for tool in (await client.list_tools()).tools}  # nothing enabled
        direct = await client.call_tool("list_bills", {"organization_id": ORG})
        through = await client.call_tool("call_tool", {"name": "list_bills",
                                                       "arguments": {"organization_id": ORG}})
        assert refused(direct) == refused(through) and "exclude: list_bills" in refused(through)
        # call_tool's hints are those of what it reaches: this agent only reads
        assert listed["call_tool"].annotations.read_only_hint is True
    assert not sandbox.api_requests or all("bills" not in str(request) for request in sandbox.api_requests)
    records = [(r["tool"], r["decision"], r.get("via")) for r in runtime.audit.records]
    assert records == [("list_bills", "denied", None), ("list_bills", "denied", "call_tool")]


CASES = [
    ("get_invoice", {"organization_id": "99999999", "invoice_id": "1"}),  # not one of its organizations
    ("list_invoices", {"organization_id": ORG, "per_page": 0}),  # malformed
    ("list_invoices", {"organization_id": ORG, "smuggled": "x"}),  # undeclared
    ("create_contact", {"organization_id": ORG, "contact_name": "Mallory"}),  # needs a person; none to ask
    ("no_such_tool", {}),
    ("List_Invoices", {"organization_id": ORG}),
]


@pytest.mark.parametrize(("tool", "arguments"), CASES)
async def test_call_tool_is_decided_and_recorded_exactly_as_a_direct_call(agents, sandbox, tool, arguments):
    async with running(agents, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        direct = await client.call_tool(tool, arguments)
        through = await client.call_tool("call_tool", {"name": tool, "arguments": arguments})
    assert direct.is_error and through.is_error
    assert through.structured_content == direct.structured_content and through.content == direct.content
    first, second = runtime.audit.records
    assert second.pop("via") == "call_tool" and "via" not in first
    for record in (first, second):
        for varying in ("time", "call_id", "duration_ms", "sentence"):
            record.pop(varying)
    assert first == second and first["tool"] == tool[:100]
    assert not sandbox.api_requests


async def test_call_tool_reaches_a_write_as_a_direct_call_does(agents, sandbox):
    async with running(agents, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        made = ok(await client.call_tool("call_tool", {"name": "create_item", "arguments": {
            "organization_id": OTHER_ORG, "name": "Audit hour", "rate": 120.0}}))
    assert made["item"]["name"] == "Audit hour"
    lines = [(line["phase"], line["tool"], line.get("via")) for line in runtime.audit.lines]
    assert lines == [("intent", "create_item", "call_tool"), ("outcome", "create_item", "call_tool")]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_person_is_asked_about_a_call_through_call_tool_as_about_a_direct_one(agents, sandbox, mode):
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async with running(agents, sandbox) as runtime, \
            mcp_client(runtime, "clerk", mode=mode, elicitation_callback=person) as client:
        direct = ok(await client.call_tool("create_contact", {"organization_id": ORG, "contact_name": "Ann"}))
        through = ok(await client.call_tool("call_tool", {"name": "create_contact", "arguments": {
            "organization_id": ORG, "contact_name": "Bea"}}))
    assert direct["contact"]["contact_name"] == "Ann" and through["contact"]["contact_name"] == "Bea"
    assert len(asked) == 2 and asked[1] == asked[0].replace("Ann", "Bea")
    first, second = runtime.audit.records
    assert first["rule"] == second["rule"] == "require_approval: create_contact (approved by a person)"
    assert (first.get("via"), second["via"], second["tool"]) == (None, "call_tool", "create_contact")


@pytest.mark.parametrize("meta", ["call_tool", "find_tools", "describe_tools", "enable_tools"])
async def test_call_tool_calls_no_meta_tool(agents, sandbox, meta):
    async with running(agents, sandbox) as runtime, mcp_client(runtime, "clerk", mode="legacy") as client:
        text = refused(await client.call_tool("call_tool", {"name": meta, "arguments": {"name": "get_bill"}}))
    assert f"call {meta} directly" in text and not runtime.audit.lines


HOSTILE = [
    ("find_tools", {"query": "invoice " * 20_000}, "query"),
    ("find_tools", {"query": ["invoice"]}, "query"),
    ("find_tools", {"limit": 10**12}, "limit"),
    ("find_tools", {"limit": True}, "limit"),
    ("find_tools", {"module": "m" * 5_000}, "module"),
    ("find_tools", {"access": "admin"}, "access"),
    ("find_tools", {"query": "bill", "everything": True}, "everything"),
    ("describe_tools", {"names": ["get_bill"] * 5_000}, "names"),
    ("describe_tools", {"names": "get_bill"}, "names"),
    ("describe_tools", {"names": [{"name": "get_bill"}]}, "names"),
    ("describe_tools", {}, "names"),
    ("call_tool", {"name": "get_bill", "arguments": "organization_id=1"}, "arguments"),
    ("call_tool", {"name": "get_bill", "arguments": [ORG]}, "arguments"),
    ("call_tool", {"name": 7}, "name"),
    ("call_tool", {"name": "x" * 100_000}, "name"),
    ("call_tool", {}, "name"),
    ("enable_tools", {}, "names"),
    ("enable_tools", {"names": ["get_bill"], "replace": "yes"}, "replace"),
]


@pytest.mark.parametrize(("meta", "arguments", "field"), HOSTILE)
async def test_hostile_arguments_get_one_bounded_refusal_naming_the_field(agents, sandbox, meta, arguments,
                                                                          field):
    async with running(agents, sandbox) as runtime, mcp_client(runtime, "clerk", mode="legacy") as client:
        result = await client.call_tool(meta, arguments)
    text = refused(result)
    assert text.startswith("Invalid arguments - " + field) and len(text) < 1_000
    assert result.structured_content is not None and result.structured_content["error"]["fields"][0] == field
    assert not runtime.audit.lines and not sandbox.api_requests


async def test_what_find_tools_answers_is_bounded(agents, sandbox):
    async with running(agents, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        every_word = " ".join(sorted({word for name in SPECS for word in name.split("_")}))
        result = await client.call_tool("find_tools", {"query": every_word[:200], "limit": 50})
    assert len(result.model_dump_json()) < 40_000 and len(ok(result)["tools"]) <= 50


async def test_a_tool_is_described_exactly_as_a_listing_that_holds_it_shows_it(agents, sandbox):
    async with running(agents, sandbox) as runtime:
        async with mcp_client(runtime, "open") as client:
            listed = [tool.model_dump(mode="json", by_alias=True, exclude_none=True)
                      for tool in (await client.list_tools()).tools]
        assert [tool["name"] for tool in listed] == list(SPECS)  # `open` lists every tool, no meta tool
        described = []
        async with mcp_client(runtime, "clerk") as client:
            names = list(SPECS)
            for start in range(0, len(names), 10):
                batch = names[start:start + 10]
                described += ok(await client.call_tool("describe_tools", {"names": batch}))["tools"]
    assert described == listed
    assert all(tool["_meta"] == {"zbmcp/scope": SPECS[tool["name"]].scope} for tool in described)


async def test_pinned_tools_the_agent_cannot_use_or_that_do_not_fit_fail_at_start_up(make_config, sandbox):
    hidden = make_config({"reader": agent(["*:read"], pinned=["create_invoice"], tool_list_bytes=SMALL)})
    with pytest.raises(ConfigError, match=r"agents\.reader\.pinned\[0\].*selects no tool"):
        async with running(hidden, sandbox):
            pass
    large = make_config({"clerk": agent(["*:*"], pinned=["*:write"], tool_list_bytes=SMALL)})
    async with running(large, sandbox) as runtime:
        with pytest.raises(ConfigError, match=r"agents\.clerk\.pinned: its pinned tools take .* pin fewer"):
            async with mcp_client(runtime, "clerk"):
                pass
