"""An independent client: the MCP Inspector CLI (Node, @modelcontextprotocol/inspector, pinned in tests/node)
lists and calls zbmcp's tools over stdio and over Streamable HTTP and SSE with a Bearer key, in both eras.

Needs `npm ci --prefix tests/node --no-audit --no-fund` (CI does it); without it these tests skip.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import ORG, agent, assert_demo_listing, running, serving
from zbmcp.core.credentials import key_hash, new_api_key

NODE_TOOLS = Path(__file__).parent / "node"
INSPECTOR = NODE_TOOLS / "node_modules/@modelcontextprotocol/inspector/clients/launcher/build"
NODE = NODE_TOOLS / "node_modules/node/bin/node"  # Node 22, pinned there: the Inspector needs 22.19 or newer

pytestmark = pytest.mark.skipif(
    not (INSPECTOR.is_dir() and NODE.is_file()),
    reason="the MCP Inspector and Node 22 are not installed: run `npm ci --prefix tests/node "
           "--no-audit --no-fund`")


async def inspector(tmp_path: Path, *arguments: str) -> tuple[int, Any, str]:
    """Run the Inspector CLI; its exit code, its JSON answer (stdout) and its stderr."""
    env = {**os.environ, "MCP_STORAGE_DIR": str(tmp_path / "inspector"),  # not ~/.mcp-inspector
           "MCP_INSPECTOR_SECRET_STORE": "memory", "NODE_NO_WARNINGS": "1"}
    env.pop("MCP_CATALOG_PATH", None)
    command = [str(NODE), str(INSPECTOR / "index.js"), "--cli", "--format", "json", *arguments]
    with anyio.fail_after(60):
        done = await anyio.run_process(command, env=env, check=False)
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    return done.returncode, json.loads(stdout) if stdout.strip() else None, stderr


STDIO_SANDBOX = [sys.executable, "-m", "zbmcp", "serve", "--sandbox"]


async def test_the_inspector_lists_tools_over_stdio(tmp_path):
    code, answer, stderr = await inspector(tmp_path, *STDIO_SANDBOX, "--method", "tools/list")
    assert code == 0, stderr
    tools = {tool["name"]: tool for tool in answer["result"]["tools"]}
    assert_demo_listing(tools)
    unlisted = ["delete_invoice", "mark_invoice_sent"]
    if not set(unlisted) <= set(tools):  # docs/context.md: described as a listing would show them
        code, answer, stderr = await inspector(tmp_path, *STDIO_SANDBOX, "--method", "tools/call",
                                               "--tool-name", "describe_tools",
                                               "--tool-args-json", json.dumps({"names": unlisted}))
        assert code == 0, stderr
        tools |= {tool["name"]: tool for tool in answer["result"]["structuredContent"]["tools"]}
    # A hint left out means MCP's default: destructiveHint true, readOnlyHint false, openWorldHint true.
    assert tools["delete_invoice"]["annotations"].get("destructiveHint", True) is True
    assert tools["mark_invoice_sent"]["annotations"]["destructiveHint"] is False
    assert tools["list_invoices"]["annotations"] == {"title": "List invoices", "readOnlyHint": True,
                                                     "openWorldHint": False}
    assert tools["list_invoices"]["_meta"] == {"zbmcp/scope": "ZohoBooks.invoices.READ"}


async def test_the_inspector_calls_a_tool_over_stdio_in_the_2026_era(tmp_path):
    code, answer, stderr = await inspector(
        tmp_path, "--protocol-era", "modern", *STDIO_SANDBOX, "--method", "tools/call",
        "--tool-name", "list_invoices",
        "--tool-args-json", json.dumps({"organization_id": ORG, "per_page": 2}))
    assert code == 0, stderr
    result = answer["result"]
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    assert result["structuredContent"]["summary"].startswith("Listed 2 invoices")
    assert len(result["structuredContent"]["invoices"]) == 2


@pytest.fixture
def keyed(make_config):
    alice, bob = new_api_key()[0], new_api_key()[0]
    loaded = make_config({"alice": agent(["invoices:read"], api_keys=[key_hash(alice)]),
                           "bob": agent(["contacts:read"], api_keys=[key_hash(bob)])})
    return loaded, alice, bob


@pytest.mark.parametrize(("path", "era"), [("/mcp", "legacy"), ("/mcp", "modern"), ("/sse", "legacy")])
async def test_the_inspector_lists_and_calls_over_http_with_a_bearer_key(keyed, sandbox, tmp_path, path, era):
    loaded, alice, bob = keyed
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        url = server.url + path
        as_alice = ["--protocol-era", era, url, "--header", f"Authorization: Bearer {alice}"]
        as_bob = ["--protocol-era", era, url, "--header", f"Authorization: Bearer {bob}"]
        listed = await inspector(tmp_path, *as_alice, "--method", "tools/list")
        called = await inspector(tmp_path, *as_bob, "--method", "tools/call", "--tool-name", "list_contacts",
                                 "--tool-args-json", json.dumps({"organization_id": ORG, "per_page": 1}))
        refused = await inspector(tmp_path, *as_bob, "--method", "tools/call", "--tool-name", "list_invoices",
                                  "--tool-args-json", json.dumps({"organization_id": ORG}))
    code, answer, stderr = listed
    assert code == 0, stderr
    assert {tool["name"] for tool in answer["result"]["tools"]} == {"list_invoices", "get_invoice"}
    code, answer, stderr = called
    assert code == 0, stderr
    assert answer["result"]["structuredContent"]["summary"].startswith("Listed 1 contact ")
    code, answer, stderr = refused
    assert code != 0 and "tool_not_found" in stderr  # bob's key does not even show alice's tool
    assert [(r["agent"], r["tool"]) for r in runtime.audit.records] == [("bob", "list_contacts")]


@pytest.mark.parametrize("key", [None, "zbmcp_not-a-key-anyone-was-given"])
async def test_the_inspector_without_a_valid_key_is_told_to_authenticate(keyed, sandbox, tmp_path, key):
    loaded, _, _ = keyed
    header = ["--header", f"Authorization: Bearer {key}"] if key else []
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        code, answer, stderr = await inspector(tmp_path, server.url + "/mcp", *header,
                                               "--method", "tools/list")
    assert code != 0 and answer is None
    assert json.loads(stderr)["error"]["code"] == "auth_required"  # what it makes of the 401
    # a key that is no agent's is on the record (docs/hosting.md), a missing one is not
    assert [r["event"] for r in runtime.audit.records] == (["mcp.refused"] if key else [])
