"""Keyless HTTP on the sandbox: any client on this machine works at once, and nobody else ever does.

An attacker's tries: bind it to every interface, to a name that resolves elsewhere, reach it from another
host, rebind a web page's own name to 127.0.0.1, post to it from another origin, or use it with a real config.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import assert_demo_listing, running, serving
from zbmcp.cli import main
from zbmcp.calls.demo import DEMO_AGENT, demo_config
from zbmcp.errors import ConfigError
from zbmcp.transports.http import HttpServer
from zbmcp.transports.http_app import HttpApp

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "probe", "version": "1"}}}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@contextlib.asynccontextmanager
async def keyless(sandbox: Any, home: Path) -> AsyncIterator[tuple[Any, HttpServer]]:
    async with running(demo_config(sandbox, home=home), sandbox) as runtime, \
            serving(runtime, keyless_agent=DEMO_AGENT) as server:
        yield runtime, server


@pytest.mark.parametrize(("transport", "mode"), [("http", "auto"), ("http", "legacy"), ("sse", "legacy")])
async def test_a_client_without_a_key_is_the_sandbox_agent(sandbox, transport, mode, tmp_path):
    async with keyless(sandbox, tmp_path) as (runtime, server):
        with anyio.fail_after(30):
            if transport == "http":
                async with httpx2.AsyncClient() as http, \
                        Client(streamable_http_client(f"{server.url}/mcp", http_client=http),
                               mode=mode) as client:
                    tools = (await client.list_tools()).tools
                    listed = await client.call_tool("list_organizations", {})
            else:
                async with Client(sse_client(f"{server.url}/sse"), mode=mode) as client:
                    tools = (await client.list_tools()).tools
                    listed = await client.call_tool("list_organizations", {})
    assert_demo_listing(tool.name for tool in tools)
    assert not listed.is_error
    assert [(r["agent"], r["tool"]) for r in runtime.audit.records] == [(DEMO_AGENT, "list_organizations")]


async def test_keyless_still_refuses_rebinding_cross_site_posts_and_web_forms(sandbox, tmp_path):
    async with keyless(sandbox, tmp_path) as (runtime, server), \
            httpx2.AsyncClient(base_url=server.url) as http:
        port = server.port

        async def status(path: str = "/mcp", content_type: str = "application/json", **headers: str) -> int:
            if path == "/sse":
                async with http.stream("GET", path, headers=headers) as response:
                    return response.status_code
            return (await http.post(path, content=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
                                    headers={**MCP_ACCEPT, "Content-Type": content_type,
                                             **headers})).status_code

        answers = {
            "a rebound name": await status(Host=f"evil.example:{port}"),
            "a rebound name on /sse": await status("/sse", Host=f"evil.example:{port}"),
            "a name that starts like loopback": await status(Host=f"127.0.0.1.evil.example:{port}"),
            "a name that starts like localhost": await status(Host=f"localhost.evil.example:{port}"),
            "loopback and its port, then another name": await status(Host=f"127.0.0.1:{port}@evil.example"),
            "the same on /sse": await status("/sse", Host=f"localhost:{port}@evil.example"),
            "a port that is not a number": await status(Host=f"127.0.0.1:{port}.evil.example"),
            "another origin": await status(Origin="http://evil.example"),
            "an origin that starts like loopback": await status(Origin=f"http://127.0.0.1:{port}@evil.example"),
            "another origin on /sse": await status("/sse", Origin="http://evil.example"),
            "an opaque origin (sandboxed frame, file://)": await status(Origin="null"),
            "a web form's content type": await status(content_type="text/plain"),
        }
    assert answers == {
        "a rebound name": 421, "a rebound name on /sse": 421, "a name that starts like loopback": 421,
        "a name that starts like localhost": 421, "another origin": 403, "another origin on /sse": 403,
        "loopback and its port, then another name": 421, "the same on /sse": 421,
        "a port that is not a number": 421, "an origin that starts like loopback": 403,
        "an opaque origin (sandboxed frame, file://)": 403, "a web form's content type": 400,
    }
    assert runtime.audit.records == [] and sandbox.api_requests == []


async def test_a_local_proxy_that_forwards_someone_else_is_refused(sandbox, tmp_path):
    # A reverse proxy on this machine, exposing the port: its requests come from
    # loopback, on behalf of others.
    async with keyless(sandbox, tmp_path) as (runtime, server), \
            httpx2.AsyncClient(base_url=server.url) as http:
        forwarded = await http.post("/mcp", json=INITIALIZE, headers={**MCP_ACCEPT,
                                                                       "X-Forwarded-For": "203.0.113.9"})
        direct = await http.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
    assert (forwarded.status_code, direct.status_code) == (401, 200)


@pytest.mark.parametrize("peer", ["192.0.2.7", "10.0.0.1", "::ffff:192.0.2.7", "2001:db8::1"])
async def test_a_peer_that_is_not_this_machine_is_refused_even_if_it_reaches_the_socket(sandbox, peer,
                                                                                       tmp_path):
    # What a misconfigured port forward or a wrongly bound socket would let through, seen from the app.
    async with running(demo_config(sandbox, home=tmp_path), sandbox) as runtime:
        app = HttpApp(runtime, transport="both", keyless_agent=DEMO_AGENT)
        transport = httpx2.ASGITransport(app=app, client=(peer, 40000))
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            mcp = await http.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
            sse = await http.get("/sse")
    assert (mcp.status_code, sse.status_code) == (401, 401)
    assert runtime.audit.records == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com", "127.0.0.1.nip.io",
                                  "localhost.example.com", "127.1"])
def test_the_command_refuses_keyless_mode_off_loopback_before_it_listens(host, capsys):
    assert main(["serve", "--sandbox", "--transport", "http", "--host", host, "--port", "0"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"{host} is not one" in err and "--key-env" in err and "serving" not in err


def test_a_socket_that_does_not_listen_on_loopback_is_refused_for_keyless_mode(sandbox):
    class Bound:  # what getsockname says for a socket bound to every interface
        def getsockname(self) -> tuple[str, int]:
            return ("0.0.0.0", 8000)

    with pytest.raises(ConfigError, match="listens on 0.0.0.0"):
        HttpServer(None, sock=Bound(), keyless_agent=DEMO_AGENT)  # type: ignore[arg-type]


@pytest.mark.parametrize(("arguments", "env", "says"), [
    (["--sandbox", "--transport", "http", "--key-env", "DEMO_KEY"], {},
     "DEMO_KEY: that environment variable is not set"),
    (["--sandbox", "--transport", "http", "--key-env", "DEMO_KEY"], {"DEMO_KEY": "hunter2"}, "too short"),
    (["--sandbox", "--transport", "http", "--key-env", "DEMO_KEY"], {"DEMO_KEY": " " + "k" * 30},
     "white space"),
    (["--sandbox", "--key-env", "DEMO_KEY"], {"DEMO_KEY": "k" * 30}, "for the HTTP transports"),
    (["--config", "zbmcp.yaml", "--transport", "http", "--key-env", "DEMO_KEY"], {"DEMO_KEY": "k" * 30},
     "is for `serve --sandbox`"),
])
def test_a_key_from_the_environment_must_be_set_long_enough_and_for_the_sandbox(arguments, env, says, capsys,
                                                                                 monkeypatch):
    monkeypatch.delenv("DEMO_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *arguments]) == 1
    out, err = capsys.readouterr()
    assert says in err and out == ""
    assert all(value not in err for value in env.values())  # the key itself is never printed
