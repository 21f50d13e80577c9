"""Issue #13 as a user meets it: several zbmcp processes (stdio servers a desktop started, replicas of a
fleet) share one organization's limits, one agent's quota and one Zoho token, on either State backend."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import agent, config_text, environ
from zbmcp.sandbox.server import SandboxServer
from zbmcp.state import new_id

STATE_KEY = "test-state-key-" + "x" * 32


def state_section(backend: str, request: pytest.FixtureRequest) -> dict[str, Any] | None:
    if backend == "local":
        return None
    return {"backend": "redis", "url": request.getfixturevalue("redis_url"),
            "key_prefix": f"t-{new_id()[:10]}:", "encryption_key": STATE_KEY}


@pytest.mark.parametrize("backend", ["local", "redis"])
async def test_six_stdio_servers_started_together_share_one_refresh_and_one_quota(
        backend, request, sandbox, home, tmp_path):
    """Six servers for one agent start at once. Zoho lets a refresh token mint about ten access
    tokens per ten minutes: they must mint one between them (not one each). And the agent's quota
    of 3 a minute is 3 in all."""
    with SandboxServer(sandbox) as server:
        path = tmp_path / "zbmcp.yaml"
        path.write_text(config_text(
            sandbox, {"a": agent(["list_items"], quota={"per_minute": 3})}, base_url=server.base_url,
            connection={"token_store": None, "limits": {"max_wait_seconds": 0}},
            audit={"path": str(tmp_path / "audit.jsonl")}, state=state_section(backend, request)))
        params = StdioServerParameters(command=sys.executable,
                                       env={**environ(sandbox, home), "PATH": "/usr/bin:/bin"},
                                       args=["-m", "zbmcp", "serve", "--config", str(path), "--agent", "a"])
        results: list[Any] = []
        with anyio.fail_after(90):
            async with contextlib.AsyncExitStack() as servers:
                clients = []
                for _ in range(6):
                    clients.append(await servers.enter_async_context(Client(params)))

                async def call(client: Client) -> None:
                    results.append(await client.call_tool("list_items", {}))

                async with anyio.create_task_group() as group:  # all at once, none with a token yet
                    for client in clients:
                        group.start_soon(call, client)
    refreshes = [t for t in sandbox.token_requests if t.grant_type == "refresh_token"]
    assert [t.outcome for t in refreshes] == ["ok"]
    assert sorted(r.is_error for r in results) == [False] * 3 + [True] * 3
    refused = [r.content[0].text for r in results if r.is_error]
    assert all("The limit of 3 calls a minute for agent 'a' is reached" in text for text in refused), refused
    assert len(sandbox.api_requests) == 3
