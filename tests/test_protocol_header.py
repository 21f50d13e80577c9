"""A bad `MCP-Protocol-Version` header gets a 400 whose message names the header, the value and the versions
zbmcp speaks, whichever protocol era the client is in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS

from tests.conftest import running, serving
from zbmcp.calls.demo import DEMO_AGENT, demo_config

MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}
MODERN_LIST_TOOLS = {"jsonrpc": "2.0", "id": 8, "method": "tools/list", "params": {"_meta": {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {}}}}


@contextlib.asynccontextmanager
async def sandbox_http(sandbox: Any, home: Path) -> AsyncIterator[httpx2.AsyncClient]:
    async with running(demo_config(sandbox, home=home), sandbox) as runtime, \
            serving(runtime, keyless_agent=DEMO_AGENT) as server, \
            httpx2.AsyncClient(base_url=server.url, headers=MCP_ACCEPT) as client:
        yield client


@pytest.mark.parametrize("version", ["bogus", "2025-13-45", "2099-01-01", "1" * 500])
async def test_an_older_client_with_an_unknown_version_is_told_which_header_and_what_to_send(
        sandbox, version, tmp_path):
    async with sandbox_http(sandbox, tmp_path) as http:
        answer = await http.post("/mcp", json=LIST_TOOLS, headers={"MCP-Protocol-Version": version})
        body = answer.json()
        assert answer.status_code == 400 and body["id"] == 7
        message = body["error"]["message"]
        assert message.startswith("Unsupported MCP-Protocol-Version header '" + version[:30])
        assert "2025-11-25" in message and "2026-07-28" in message and len(message) < 400
        assert body["error"]["data"] == {"supported": list(KNOWN_PROTOCOL_VERSIONS), "requested": version}


async def test_a_stream_request_with_an_unknown_version_is_told_too(sandbox, tmp_path):
    async with sandbox_http(sandbox, tmp_path) as http:
        answer = await http.get("/mcp", headers={"MCP-Protocol-Version": "bogus",
                                                 "Accept": "text/event-stream"})
        assert answer.status_code == 400 \
            and "MCP-Protocol-Version header 'bogus'" in answer.json()["error"]["message"]


async def test_a_2026_client_whose_header_disagrees_with_its_envelope_is_told_by_the_sdk(sandbox, tmp_path):
    async with sandbox_http(sandbox, tmp_path) as http:
        answer = await http.post("/mcp", json=MODERN_LIST_TOOLS, headers={"MCP-Protocol-Version": "bogus"})
        body = answer.json()
        assert answer.status_code == 400 and body["id"] == 8
        assert "mcp-protocol-version header" in body["error"]["message"].lower()


async def test_known_versions_and_no_header_go_through(sandbox, tmp_path):
    async with sandbox_http(sandbox, tmp_path) as http:
        for headers in ({}, {"MCP-Protocol-Version": "2025-11-25"}):
            answer = await http.post("/mcp", json=LIST_TOOLS, headers=headers)
            assert answer.status_code == 200, answer.text


async def test_an_oversized_body_with_an_unknown_version_is_refused_without_reading_it_all(sandbox, tmp_path):
    async with sandbox_http(sandbox, tmp_path) as http:
        huge = {**LIST_TOOLS, "params": {"padding": "x" * (2 << 20)}}
        answer = await http.post("/mcp", json=huge, headers={"MCP-Protocol-Version": "bogus"})
        assert answer.status_code == 413
