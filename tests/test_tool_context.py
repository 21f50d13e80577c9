"""The tool list an agent reads stays within its budget however large its grant (docs/context.md), and every
tool it may use stays in reach: through find_tools, describe_tools and call_tool on every transport, and
through enable_tools plus notifications/tools/list_changed where the client has a session.

Real clients: the SDK's own, over stdio (a `zbmcp serve --sandbox` process), Streamable HTTP (uvicorn on a
loopback port) and in memory.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, OTHER_ORG, agent, mcp_client, ok, refused, running, serving
from tests.unit.test_manifests import ORIGINAL_TOOLS
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.credentials import key_hash, new_api_key

SPECS = load_manifests()
BUDGET = 25_000  # bytes of tools/list an agent granted everything reads at most (issue #23)
META = {"find_tools", "describe_tools", "call_tool"}


def size(listed: types.ListToolsResult) -> int:
    """Bytes of the tools/list result as it travels (the client parsed it; the dump gives it back)."""
    return len(listed.model_dump_json(by_alias=True, exclude_none=True).encode())


def beyond(listed: types.ListToolsResult) -> str:
    """A granted tool the first listing leaves out: list_journals, a tool generated from Zoho's OpenAPI files
    (granted by `*:*` with `catalog: whole`)."""
    assert SPECS["list_journals"].generated
    assert "list_journals" not in {tool.name for tool in listed.tools}
    return "list_journals"


def words(name: str) -> str:
    return name.replace("_", " ").removeprefix("list ")


async def reach(client: Client, listed: types.ListToolsResult) -> str:
    """Find, describe and call a tool outside the first listing, as an agent would; its name."""
    target = beyond(listed)
    found = ok(await client.call_tool("find_tools", {"query": words(target)}))["tools"]
    assert target in [row["name"] for row in found[:5]], found
    described = ok(await client.call_tool("describe_tools", {"names": [target]}))["tools"]
    assert [tool["name"] for tool in described] == [target]
    assert described[0]["_meta"] == {"zbmcp/scope": SPECS[target].scope}
    assert described[0]["annotations"]["readOnlyHint"] is True
    assert "organization_id" in described[0]["inputSchema"]["required"]  # two organizations: one is chosen
    answer = ok(await client.call_tool("call_tool", {"name": target, "arguments": {"organization_id": ORG}}))
    assert answer["summary"].startswith("Listed")
    return target


def serve_sandbox(tmp_path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "zbmcp", "serve", "--sandbox"],
                                 env={**os.environ, "ZBMCP_HOME": str(tmp_path)}, cwd=str(tmp_path))


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_over_stdio_an_agent_granted_everything_reads_at_most_25_kb_and_calls_a_tool_beyond_it(
        tmp_path, mode):
    with anyio.fail_after(60):
        async with Client(serve_sandbox(tmp_path), mode=mode) as client:
            listed = await client.list_tools()
            names = {tool.name for tool in listed.tools}
            assert size(listed) <= BUDGET and META <= names and names - META - {"enable_tools"} <= set(SPECS)
            await reach(client, listed)


async def test_over_stdio_with_a_session_enabled_tools_join_the_list_and_the_client_is_told(tmp_path):
    told: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            told.append(message.method)

    with anyio.fail_after(60):
        async with Client(serve_sandbox(tmp_path), mode="legacy", message_handler=on_message) as client:
            first = await client.list_tools()
            assert "enable_tools" in {tool.name for tool in first.tools}
            target = beyond(first)
            assert "Enabled " + target in refused_or_text(
                await client.call_tool("enable_tools", {"names": [target]}))
            with anyio.fail_after(10):
                while not told:
                    await anyio.sleep(0.01)
            after = await client.list_tools()
            assert {tool.name for tool in after.tools} == {tool.name for tool in first.tools} | {target}
            assert size(after) <= BUDGET
            called = ok(await client.call_tool(target, {"organization_id": ORG}))
            assert called["summary"].startswith("Listed")
    assert told == ["notifications/tools/list_changed"]


def refused_or_text(result: types.CallToolResult) -> str:
    text = result.content[0].text
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_over_streamable_http_call_tool_reaches_it_and_the_record_names_the_real_tool(
        make_config, sandbox, mode):
    key = new_api_key()[0]
    loaded = make_config({"everything": agent(["*:*"], [ORG, OTHER_ORG], api_keys=[key_hash(key)],
                                              catalog="whole")})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        with anyio.fail_after(60):
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http, \
                    Client(streamable_http_client(f"{server.url}/mcp", http_client=http),
                           mode=mode) as client:
                listed = await client.list_tools()
                names = {tool.name for tool in listed.tools}
                # stateless HTTP keeps no session to add tools to: call_tool is the way
                assert size(listed) <= BUDGET and META <= names and "enable_tools" not in names
                target = await reach(client, listed)
    record = runtime.audit.records[-1]
    assert (record["tool"], record["via"], record["decision"]) == (target, "call_tool", "allowed")
    assert record["scope"] == SPECS[target].scope and "through call_tool" in record["sentence"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_agent_granted_three_tools_sees_exactly_those_three(make_config, sandbox, mode):
    three = ["list_invoices", "get_invoice", "create_invoice"]
    loaded = make_config({"clerk": agent(three, [ORG, OTHER_ORG])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "clerk", mode=mode) as client:
        listed = await client.list_tools()
        assert [tool.name for tool in listed.tools] == three
        # the meta tools are no tools of its: a listing that fits has none
        assert "no tool named 'call_tool'" in refused(await client.call_tool("call_tool", {"name": "x"}))


async def test_the_33_original_tools_in_two_organizations_are_listed_whole_under_20000_bytes(
        make_config, sandbox):
    loaded = make_config({"original": agent(sorted(ORIGINAL_TOOLS), [ORG, OTHER_ORG])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "original") as client:
        listed = await client.list_tools()
    assert {tool.name for tool in listed.tools} == ORIGINAL_TOOLS and size(listed) < 20_000


async def test_pinned_tools_are_the_first_listing_and_the_rest_is_in_reach(make_config, sandbox):
    loaded = make_config({"bills": agent(["*:*"], [ORG, OTHER_ORG], pinned=["list_bills", "get_bill"],
                                         tool_list_bytes=8_000)})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "bills", mode="auto") as client:
        listed = await client.list_tools()
        names = [tool.name for tool in listed.tools]
        assert set(names[:2]) == {"list_bills", "get_bill"} and names[2:] == ["find_tools", "describe_tools",
                                                                                 "call_tool"]
        assert size(listed) <= 8_000
        ok(await client.call_tool("call_tool", {"name": "list_invoices",
                                                "arguments": {"organization_id": ORG}}))


async def test_the_default_core_is_everyday_tools_within_half_the_budget(make_config, sandbox):
    loaded = make_config({"everything": agent(["*:*"], [ORG, OTHER_ORG], tool_list_bytes=12_000)})
    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, "everything", mode="legacy") as client:
        listed = await client.list_tools()
    names = [tool.name for tool in listed.tools]
    assert names[-4:] == ["find_tools", "describe_tools", "call_tool", "enable_tools"]
    assert names[0] == "list_organizations" and "list_invoices" in names and size(listed) <= 12_000 // 2


async def test_enabling_more_than_the_budget_holds_is_refused_and_the_list_stays_within_it(
        make_config, sandbox):
    loaded = make_config({"everything": agent(["*:*"], [ORG, OTHER_ORG], tool_list_bytes=8_000,
                                              catalog="whole")})
    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, "everything", mode="legacy") as client:
        first = await client.list_tools()
        writes = [name for name in sorted(SPECS) if SPECS[name].access == "write"
                  and name not in {tool.name for tool in first.tools}][:10]
        text = refused(await client.call_tool("enable_tools", {"names": writes}))
        assert "over its 8,000" in text and "call_tool" in text
        assert await client.list_tools() == first
        ok(await client.call_tool("enable_tools", {"names": ["get_bill"]}))
        ok(await client.call_tool("enable_tools", {"names": ["list_estimates"], "replace": True}))
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert names[-1] == "list_estimates" and "get_bill" not in names


async def test_over_a_streamable_http_session_enabled_tools_join_the_list_and_the_client_is_told(
        make_config, sandbox):
    """An agent whose own client answers approvals gets a session over HTTP (before 2026-07-28), and with it
    enable_tools; the notification comes on the session's event stream."""
    told = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            told.set()

    key = new_api_key()[0]
    loaded = make_config({"desk": agent(["*:*"], [ORG, OTHER_ORG], require_approval=["email_invoice"],
                                        approval="client", tool_list_bytes=10_000, api_keys=[key_hash(key)],
                                        catalog="whole")})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        with anyio.fail_after(60):
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http, \
                    Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode="legacy",
                           message_handler=on_message) as client:
                first = await client.list_tools()
                assert "enable_tools" in {tool.name for tool in first.tools}
                target = beyond(first)
                ok(await client.call_tool("enable_tools", {"names": [target]}))
                await told.wait()
                after = await client.list_tools()
    assert {tool.name for tool in after.tools} == {tool.name for tool in first.tools} | {target}
