"""Issue 21.3: no agent can starve the others. One agent held idle `GET /mcp` streams until max_connections
was full, and every other agent and /healthz got 503 (so a load balancer took the replica out). Now each agent
has its own caps on open streams and calls in progress, answered 429 past them, and /healthz keeps room of its
own; over real loopback sockets."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import httpx2
import pytest

from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, agent, running, serving
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.sandbox import Fault
from zbmcp.transports.http import HttpServer

MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
STREAM = {"Accept": "text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
CAPS = {"max_connections": 12, "max_sessions_per_agent": 1, "max_streams_per_agent": 3,
        "max_calls_per_agent": 2}


@pytest.fixture
def keys() -> dict[str, str]:
    return {name: new_api_key()[0] for name in ("greedy", "other")}


@pytest.fixture
def two_agents(make_config, keys):
    def make(**http: Any):
        return make_config(readers(keys), http=http)
    return make


def readers(keys: dict[str, str]) -> dict[str, Any]:
    return {name: agent(["invoices:read"], api_keys=[key_hash(key)]) for name, key in keys.items()}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def list_invoices(server: HttpServer, key: str) -> types.CallToolResult:
    async with httpx2.AsyncClient(headers=auth(key), timeout=10) as http, \
            Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client:
        return await client.call_tool("list_invoices", {"organization_id": ORG})


async def test_one_agents_idle_streams_leave_the_others_and_healthz_served(two_agents, sandbox, keys):
    loaded = two_agents(**CAPS)
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, \
            contextlib.AsyncExitStack() as streams:
        greedy = httpx2.AsyncClient(base_url=server.url, timeout=10,
                                    limits=httpx2.Limits(max_connections=50))
        await streams.enter_async_context(greedy)
        opened = []
        with anyio.fail_after(30):
            for _ in range(CAPS["max_connections"] + 2):  # the attack: streams until the server is full
                stream = await streams.enter_async_context(
                    greedy.stream("GET", "/mcp", headers={**STREAM, **auth(keys["greedy"])}))
                if stream.status_code != 200:
                    await stream.aread()
                opened.append(stream)
            other = await list_invoices(server, keys["other"])
            async with httpx2.AsyncClient(base_url=server.url, timeout=10) as http:
                healthz = await http.get("/healthz")
    statuses = [stream.status_code for stream in opened]
    assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {429}, statuses
    refusal = opened[3]
    assert "max_streams_per_agent" in refusal.json()["error_description"]
    assert "'greedy' already has 3 event streams open" in refusal.json()["error_description"]
    assert not other.is_error and other.structured_content["invoices"]
    assert healthz.status_code == 200


async def test_one_agents_calls_in_progress_are_capped_and_the_others_still_call(two_agents, sandbox, keys):
    loaded = two_agents(**CAPS)
    release = anyio.Event()  # the agent's first two calls wait at Zoho until released
    holding = sandbox.faults.add(Fault(kind="hold", route="GET /invoices", times=2, release=release))
    held: list[types.CallToolResult] = []
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                async def hold() -> None:
                    held.append(await list_invoices(server, keys["greedy"]))

                tg.start_soon(hold)
                tg.start_soon(hold)
                while holding.fired < 2:
                    await anyio.sleep(0.01)
                async with httpx2.AsyncClient(base_url=server.url) as http:
                    third = await http.post("/mcp", json={}, headers={**MCP_ACCEPT, **auth(keys["greedy"])})
                    other = await list_invoices(server, keys["other"])
                    healthz = await http.get("/healthz")
                release.set()
    assert third.status_code == 429 and third.headers["retry-after"]
    assert "'greedy' already has 2 calls in progress on this server (http.max_calls_per_agent)" \
        in third.json()["error_description"]
    assert not other.is_error and healthz.status_code == 200
    assert [result.is_error for result in held] == [False, False]  # the held calls finish normally


async def test_requests_beyond_max_connections_get_503_and_healthz_still_answers(make_config, sandbox):
    """Many agents, each within its share, can fill the replica: then new work gets 503 (this replica is
    full), and /healthz still answers, from room of its own."""
    keys = {f"agent{i}": new_api_key()[0] for i in range(4)}
    loaded = make_config(readers(keys), http=CAPS)
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, \
            contextlib.AsyncExitStack() as streams:
        statuses = []
        with anyio.fail_after(30):
            for key in keys.values():
                http = await streams.enter_async_context(httpx2.AsyncClient(base_url=server.url, timeout=10))
                for _ in range(3):
                    stream = await streams.enter_async_context(
                        http.stream("GET", "/mcp", headers={**STREAM, **auth(key)}))
                    statuses.append(stream.status_code)
            async with httpx2.AsyncClient(base_url=server.url) as http:
                full = await http.post("/mcp", json={}, headers={**MCP_ACCEPT, **auth(keys["agent0"])})
                healthz = await http.get("/healthz")
    assert statuses == [200] * 12
    assert full.status_code == 503 and "http.max_connections" in full.json()["error_description"]
    assert healthz.status_code == 200
