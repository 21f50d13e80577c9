"""Issue #11: the hosted server under hostile clients, over real loopback sockets. One agent cannot exhaust
the sessions of others; slow senders are cut off; connections are capped; idle event streams are ended."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import anyio
import httpx2
import pytest

from tests.conftest import ORG, AuditCapture, agent, running, serving
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.sandbox import Fault
from zbmcp.transports.shares import HEALTH_ROOM

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "probe", "version": "1"}},
}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def keys() -> dict[str, str]:
    return {name: new_api_key()[0] for name in ("alice", "carol", "bob")}


def agents(keys: dict[str, str]) -> dict[str, Any]:
    """alice and carol have approvals answered by their own clients (`approval: client`: their older clients
    get sessions, for elicitation); bob has none."""
    return {
        "alice": agent(["invoices:*"], require_approval=["email_invoice"], approval="client",
                       api_keys=[key_hash(keys["alice"])]),
        "carol": agent(["invoices:*"], require_approval=["email_invoice"], approval="client",
                       api_keys=[key_hash(keys["carol"])]),
        "bob": agent(["invoices:read"], api_keys=[key_hash(keys["bob"])]),
    }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_one_agent_cannot_exhaust_the_sessions_of_others(make_config, sandbox, keys):
    loaded = make_config(agents(keys), http={"max_sessions_per_agent": 2})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, \
            httpx2.AsyncClient(base_url=server.url) as http, contextlib.AsyncExitStack() as streams:
        alice = [await http.post("/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, **auth(keys["alice"])})
                 for _ in range(3)]
        carol = await http.post("/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, **auth(keys["carol"])})
        alice_streams = [await streams.enter_async_context(http.stream("GET", "/sse",
                                                                       headers=auth(keys["alice"])))
                         for _ in range(2)]
        alice_third = await http.get("/sse", headers=auth(keys["alice"]))
        carol_stream = await streams.enter_async_context(http.stream("GET", "/sse",
                                                                     headers=auth(keys["carol"])))
        healthy = await http.get("/healthz")
    assert [r.status_code for r in alice] == [200, 200, 429]
    refusal = alice[2].json()
    assert refusal["error"] == "too_many_sessions" \
        and "max_sessions_per_agent" in refusal["error_description"]
    # carol is untouched by alice's clients
    assert carol.status_code == 200 and carol.headers["mcp-session-id"]
    assert [s.status_code for s in alice_streams] == [200, 200] and alice_third.status_code == 429
    assert carol_stream.status_code == 200
    assert healthy.status_code == 200  # the replica stays in rotation: it is alice that has too many


async def test_a_client_too_slow_to_send_its_headers_or_body_is_cut_off(make_config, sandbox, keys):
    audit = AuditCapture()
    loaded = make_config(agents(keys), http={"header_timeout_seconds": 0.3, "body_timeout_seconds": 0.3})
    async with running(loaded, sandbox, audit=audit) as runtime, serving(runtime) as server:
        slow_headers = await _cut_off_after(server.port, b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow_body = await _cut_off_after(server.port, (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {keys['bob']}\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            "Content-Length: 1000\r\n\r\n{\"jsonrpc\": ").encode())
        silent = await _cut_off_after(server.port, b"")
        async with httpx2.AsyncClient(base_url=server.url) as http:
            prompt = await http.get("/healthz")
    for waited in (slow_headers, slow_body, silent):
        assert 0.25 <= waited < 5
    assert prompt.status_code == 200 and audit.lines == []


async def _cut_off_after(port: int, sent: bytes) -> float:
    """Send part of a request, then wait: seconds until the server closes the connection."""
    started = time.monotonic()
    async with await anyio.connect_tcp("127.0.0.1", port) as connection:
        if sent:
            await connection.send(sent)
        with anyio.fail_after(10):
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
                while await connection.receive():
                    pass
    return time.monotonic() - started


async def test_connections_beyond_the_cap_get_503_until_some_close(make_config, sandbox, keys):
    """Sockets that never send a request count too: beyond max_connections and the room kept for /healthz
    (HEALTH_ROOM), the server refuses at once (requests in progress are capped below it: test_fair_share)."""
    loaded = make_config(agents(keys), http={"max_connections": 6, "max_sessions_per_agent": 1,
                                             "max_streams_per_agent": 1, "max_calls_per_agent": 1})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, \
            httpx2.AsyncClient(base_url=server.url) as http:
        idle = [await anyio.connect_tcp("127.0.0.1", server.port) for _ in range(6 + HEALTH_ROOM)]
        try:
            crowded = await http.get("/healthz")
        finally:
            for connection in idle:
                await connection.aclose()
        with anyio.fail_after(10):
            while (answer := await http.get("/healthz")).status_code == 503:
                await anyio.sleep(0.01)  # the server notices the closed connections
    assert crowded.status_code == 503 and answer.status_code == 200


async def test_idle_event_streams_are_ended_but_not_while_a_call_is_due_on_them(make_config, sandbox, keys):
    loaded = make_config(agents(keys), http={"idle_seconds": 0.4})
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold", route="GET /invoices", times=1, release=release, entered=entered))
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, \
            httpx2.AsyncClient(base_url=server.url, timeout=10) as http:
        with anyio.fail_after(10):
            # A legacy /sse stream that nothing happens on is ended.
            idle_sse = await _stream_lifetime(http, "/sse", auth(keys["bob"]))
            # A stateful session's GET stream, likewise; the session itself stays usable meanwhile.
            opened = await http.post("/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, **auth(keys["alice"])})
            session = {"mcp-session-id": opened.headers["mcp-session-id"],
                       "mcp-protocol-version": "2025-11-25"}
            idle_get = await _stream_lifetime(http, "/mcp", {**auth(keys["alice"]), **session,
                                                             "Accept": "text/event-stream"})
            busy = await _call_over_sse_outlasting_idle(http, keys["bob"], entered, release)
    assert 0.35 <= idle_sse < 5 and 0.35 <= idle_get < 5
    assert busy["result"]["structuredContent"]["invoices"]  # the answer came, on a stream idle far longer


async def _stream_lifetime(http: httpx2.AsyncClient, path: str, headers: dict[str, str]) -> float:
    started = time.monotonic()
    async with http.stream("GET", path, headers=headers) as stream:
        assert stream.status_code == 200
        async for _ in stream.aiter_bytes():
            pass  # ends when the server ends the stream
    return time.monotonic() - started


async def _call_over_sse_outlasting_idle(http: httpx2.AsyncClient, key: str, entered: anyio.Event,
                                         release: anyio.Event) -> dict[str, Any]:
    import json

    async with http.stream("GET", "/sse", headers=auth(key)) as stream:
        lines = stream.aiter_lines()
        endpoint = await _data_of(lines, "endpoint")
        post = {**auth(key), "Content-Type": "application/json"}
        await http.post(endpoint, json=INITIALIZE, headers=post)
        await _data_of(lines, "message")
        await http.post(endpoint, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                        headers=post)
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "list_invoices", "arguments": {"organization_id": ORG}}}
        await http.post(endpoint, json=call, headers=post)
        await entered.wait()
        await anyio.sleep(1.0)  # well past idle_seconds, with the call's answer still due on this stream
        release.set()
        return json.loads(await _data_of(lines, "message"))


async def _data_of(lines: Any, event: str) -> str:
    current = None
    async for line in lines:
        if line.startswith("event:"):
            current = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and current == event:
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"the stream ended before a {event!r} event")
