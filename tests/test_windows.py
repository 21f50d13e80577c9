"""The request window one organization's calls share, across every zbmcp process of the user."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

import anyio

from tests.conftest import agent, mcp_client, running
from zbmcp.zoho.windows import SharedWindow, SlidingWindow


async def test_two_servers_on_one_organization_pace_together(make_config, sandbox):
    # Two runtimes over one ZBMCP_HOME stand for two stdio servers a desktop started for two agents.
    sandbox.settings.requests_per_window = 10
    sandbox.settings.window_seconds = 0.25
    limits = {"limits": {"requests_per_minute": 10, "window_seconds": 0.25}}
    loaded = make_config({"a": agent(["list_items"]), "b": agent(["list_items"])}, connection=limits)
    failures: list[str] = []
    async with running(loaded, sandbox) as first, running(loaded, sandbox) as second:

        async def calls(runtime: Any, name: str) -> None:
            async with mcp_client(runtime, name) as client:
                for _ in range(30):
                    result = await client.call_tool("list_items", {})
                    if result.is_error:
                        failures.append(result.content[0].text)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(calls, first, "a")
                group.start_soon(calls, second, "b")
    assert failures == []
    assert Counter(r.status for r in sandbox.api_requests) == {200: 60}


def test_a_crashed_process_does_not_keep_its_places(tmp_path):
    path = tmp_path / "window.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    path.write_text(json.dumps({"a": [], "f": {f"{dead_pid}-0": 1e9 - 10, f"{dead_pid}-1": 1e9 - 10}, "h": 0}))
    window = SharedWindow(2, 60, path, stale_after=600, clock=lambda: 1e9)
    first, wait = window.try_begin()
    second, _ = window.try_begin()
    third, third_wait = window.try_begin()
    assert first and second and wait == 0  # the dead process's two places were freed
    assert third is None and third_wait > 0
    window.cancel(second)
    assert window.try_begin()[0] is not None


def test_an_answer_keeps_its_place_for_a_window_and_a_hold_shuts_it():
    now = [0.0]
    window = SlidingWindow(2, 10, lambda: now[0])
    one, _ = window.try_begin()
    two, _ = window.try_begin()
    assert window.try_begin()[0] is None  # two in flight fill it
    now[0] = 5.0
    window.end(one)
    window.end(two)
    ticket, wait = window.try_begin()
    assert ticket is None and 10 < wait <= 10.3  # answered at 5 s: free again a window after the answer
    now[0] = 15.3
    assert window.try_begin()[0] is not None
    window.hold(3)
    ticket, wait = window.try_begin()
    assert ticket is None and wait == 3
