"""A start loads what tools/list needs and nothing more (issue #27): `zbmcp serve` over stdio, until it has
answered tools/list, imports nothing of Redis, the console, the OAuth server, webhooks, the HTTP transport,
templates, OAuth or JSON Schema libraries, cryptography beyond the MCP SDK's own, nor an HTTP client's
connection stack (built on the first call), and of CEL only the engine, for a config with rules. Each of
those loads when a feature is used, and a call's token refresh needs no OAuth library. Timings are bench/'s;
this guards what can be guarded without a clock.

The server runs under a real MCP client; in its process, what the minimal MCP server loads (the SDK's
low-level server over stdio, httpx2, anyio: bench/minimal_server.py) is imported first, and everything
imported after it is traced to the module that imported it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from tests.conftest import agent, config_text, environ
from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.server import SandboxServer

PROBE = """
import atexit, builtins, json, runpy, sys

out = sys.argv[1]
import anyio, httpx2, mcp.server.lowlevel, mcp.server.stdio  # what the minimal server loads
sdk = set(sys.modules)
brought_by = {}
real_import = builtins.__import__


def traced_import(name, globals=None, locals=None, fromlist=(), level=0):
    before = set(sys.modules)
    try:
        return real_import(name, globals, locals, fromlist, level)
    finally:
        importer = (globals or {}).get("__name__", "?")
        for new in set(sys.modules) - before:
            brought_by.setdefault(new, importer)


def dump():
    with open(out, "w") as file:
        json.dump({name: brought_by.get(name, "?") for name in set(sys.modules) - sdk}, file)


builtins.__import__ = traced_import
atexit.register(dump)
sys.argv = ["zbmcp", *sys.argv[2:]]
runpy.run_module("zbmcp", run_name="__main__", alter_sys=True)
"""

# Loaded only when the feature that needs them is used.
NOT_AT_START = ("redis", "authlib", "jsonschema", "jinja2", "cryptography", "httpcore2", "h11", "truststore",
                "celpy", "typer", "rich", "prompt_toolkit", "pygments",
                "zbmcp.console", "zbmcp.oauth_server", "zbmcp.hooks", "zbmcp.state.redis",
                "zbmcp.transports.http", "zbmcp.transports.http_app", "zbmcp.transports.http_guard",
                "zbmcp.transports.uvicorn_internals", "zbmcp.audit.query", "zbmcp.audit.verify")


async def started_and_listed(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
                             call: str | None = None) -> dict[str, str]:
    """The modules `zbmcp ARGS` imported beyond the minimal server's, up to its tools/list answer (and the
    answer to `call`, a tool called with no arguments) and exit, each with the module that imported it."""
    out = tmp_path / "modules.json"
    server = StdioServerParameters(command=sys.executable, args=["-c", PROBE, str(out), *args],
                                   env={**os.environ, "ZBMCP_HOME": str(tmp_path / "home"), **(env or {})})
    with anyio.fail_after(60):
        async with Client(server) as client:
            assert (await client.list_tools()).tools
            if call is not None:
                answer = await client.call_tool(call, {})
                assert not answer.is_error, answer.content
    loaded: dict[str, str] = json.loads(out.read_text())
    return loaded


def early(loaded: dict[str, str]) -> list[str]:
    """What loaded too early, each with the chain of imports that brought it."""
    found = []
    for name in sorted(loaded):
        if any(name == prefix or name.startswith(prefix + ".") for prefix in NOT_AT_START):
            chain, current = [name], name
            while (current := loaded.get(current, "?")) in loaded and current not in chain:
                chain.append(current)
            found.append(" <- ".join([*chain, current]))
    return found


async def test_serve_sandbox_loads_nothing_tools_list_does_not_need_not_even_the_sandbox(tmp_path):
    loaded = await started_and_listed(tmp_path, "serve", "--sandbox")
    assert "zbmcp.calls.server" in loaded  # it ran
    assert early(loaded) == []
    assert [name for name in loaded if name.startswith("zbmcp.sandbox.")] == ["zbmcp.sandbox.defaults"]


async def test_serve_sandbox_makes_the_sandbox_for_the_first_call(tmp_path):
    loaded = await started_and_listed(tmp_path, "serve", "--sandbox", call="list_organizations")
    assert "zbmcp.sandbox.sandbox" in loaded


async def test_serve_with_a_config_loads_only_the_cel_engine_for_its_rules_and_no_http_stack(tmp_path):
    sandbox = Sandbox()
    config = tmp_path / "zbmcp.yaml"
    bookkeeper = agent(["list_invoices", "get_invoice", "create_invoice", "list_contacts", "email_invoice"],
                       rules=[{"approve": "amount > 5000.0", "tools": ["create_invoice"]}])
    config.write_text(config_text(sandbox, {"bookkeeper": bookkeeper}, base_url="http://127.0.0.1:9"))
    loaded = await started_and_listed(tmp_path, "serve", "--config", str(config), "--agent", "bookkeeper",
                                      env=environ(sandbox, tmp_path / "home"))
    assert "cel.cel" in loaded  # the rule was compiled at start-up, as it must be: a bad one stops it
    assert early(loaded) == []


async def test_a_first_call_refreshes_the_token_without_an_oauth_library(tmp_path):
    sandbox = Sandbox()
    config = tmp_path / "zbmcp.yaml"
    with SandboxServer(sandbox) as zoho:
        config.write_text(config_text(sandbox, {"reporting": agent(["list_invoices"])},
                                      base_url=zoho.base_url))
        loaded = await started_and_listed(tmp_path, "serve", "--config", str(config), "--agent", "reporting",
                                          env=environ(sandbox, tmp_path / "home"), call="list_invoices")
    assert [t.grant_type for t in sandbox.token_requests] == ["refresh_token"]  # the call needed a token
    assert [name for name in loaded if name == "authlib" or name.startswith("authlib.")] == []
