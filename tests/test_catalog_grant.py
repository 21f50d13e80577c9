"""An upgrade never widens a grant: zbmcp loads the whole catalog (hand-written and generated tools), but a
wildcard or module selector in an agent's `tools` picks the generated ones only for an agent with
`catalog: whole`; a tool named exactly is granted either way (docs/policy.md).

Through the SDK's own MCP client against the server, the sandbox answering as Zoho.
"""

from __future__ import annotations

import os
import sys

import anyio
from mcp import Client, StdioServerParameters, types

from tests.conftest import ORG, agent, mcp_client, running
from zbmcp.calls.catalog import load_manifests

SPECS = load_manifests()
BULK = ("email_invoices", "bulk_invoice_reminder")  # generated invoice tools that email many customers


def text(result: types.CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


async def reachable(client: Client) -> set[str]:
    """Every tool the agent can find, whether listed or in reach through find_tools."""
    listed = {tool.name for tool in (await client.list_tools()).tools}
    if "find_tools" not in listed:
        return listed
    found = await client.call_tool("find_tools", {"query": "email invoices reminder", "limit": 50})
    assert not found.is_error, text(found)
    assert found.structured_content is not None
    return listed | {row["name"] for row in found.structured_content["tools"]}


async def test_a_module_grant_written_for_the_hand_tools_does_not_gain_the_generated_bulk_emails(
        make_config, sandbox):
    assert all(SPECS[name].generated and SPECS[name].module == "invoices" for name in BULK)
    # enough tools for a small budget, so that the meta tools are there to try too
    loaded = make_config({"clerk": agent(["invoices:*", "*:read"], tool_list_bytes=8_000)})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        tools = await reachable(client)
        assert "call_tool" in tools
        assert "email_invoice" in tools and not set(BULK) & tools
        for name in BULK:
            refused = await client.call_tool(name, {"invoice_ids": "1"})
            assert refused.is_error and name in text(refused)
            via = await client.call_tool("call_tool", {"name": name, "arguments": {"invoice_ids": "1"}})
            assert via.is_error and name in text(via)
    assert all(record["decision"] != "allowed" for record in runtime.audit.records
               if record.get("tool") in BULK)


async def test_with_catalog_whole_the_module_grant_includes_the_generated_tools(make_config, sandbox):
    loaded = make_config({"clerk": agent(["invoices:*", "*:read"], catalog="whole", tool_list_bytes=8_000)})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        tools = await reachable(client)
    assert set(BULK) <= tools and "email_invoice" in tools
    assert set(runtime.policies["clerk"].visible) == {n for n, s in SPECS.items()
                                                      if s.module == "invoices" or s.read_only}


async def test_naming_a_generated_tool_grants_that_tool_alone(make_config, sandbox):
    loaded = make_config({"books": agent(["list_journals", "list_invoices"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "books") as client:
        listed = await client.list_tools()
        assert sorted(tool.name for tool in listed.tools) == ["list_invoices", "list_journals"]
        answer = await client.call_tool("list_journals", {})
        assert not answer.is_error, text(answer)
        assert answer.structured_content is not None and "journals" in answer.structured_content
    assert runtime.audit.records[-1]["tool"] == "list_journals"


async def test_the_sandbox_demo_agent_reaches_a_generated_tool_through_call_tool(tmp_path):
    params = StdioServerParameters(command=sys.executable, args=["-m", "zbmcp", "serve", "--sandbox"],
                                   env={**os.environ, "ZBMCP_HOME": str(tmp_path)}, cwd=str(tmp_path))
    with anyio.fail_after(60):
        async with Client(params) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            assert "call_tool" in listed and "list_journals" not in listed
            found = await client.call_tool("find_tools", {"query": "journals"})
            assert found.structured_content is not None
            assert "list_journals" in [row["name"] for row in found.structured_content["tools"]]
            answer = await client.call_tool("call_tool", {"name": "list_journals",
                                                          "arguments": {"organization_id": ORG}})
    assert not answer.is_error, text(answer)
    assert answer.structured_content is not None and "journals" in answer.structured_content
