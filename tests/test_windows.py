"""The request window one organization's calls share, across every zbmcp process of the user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

from tests.conftest import agent, mcp_client, running


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


_HOLD_PLACES = """
import anyio, contextlib, json, os, sys
from pathlib import Path
{pid_one}
from zbmcp.errors import RateLimited
from zbmcp.state.local import LocalState
from zbmcp.zoho.limits import Pacer

async def main():
    pacer = Pacer(LocalState(Path(sys.argv[1])))
    gate = pacer.organization_gate("main", "10234695", per_minute=5, concurrency=50, daily_budget=None,
                                   max_wait=0)
    admitted = 0
    async with contextlib.AsyncExitStack() as held:
        sys.stdin.readline()  # both start together
        for _ in range(5):
            try:
                await held.enter_async_context(pacer.slot(gate))
                admitted += 1
            except RateLimited:
                pass
        # Keep the places until both have tried (each leaves a mark), then tell.
        (Path(sys.argv[1]) / f"tried-{{os.urandom(8).hex()}}").touch()
        with anyio.fail_after(20):
            while len(list(Path(sys.argv[1]).glob("tried-*"))) < 2:
                await anyio.sleep(0.01)
        print(json.dumps({{"pid": os.getpid(), "admitted": admitted}}), flush=True)
anyio.run(main)
"""


def test_two_pid_namespaces_sharing_a_folder_hold_the_limit(tmp_path: Path):
    """Two containers on one volume both run zbmcp as PID 1: places are told apart by random ids, not PIDs
    (keyed by PID, two such processes admitted 9 requests against a limit of 5)."""
    own_namespaces = os.geteuid() == 0 and shutil.which("unshare") is not None
    # Without the right to make PID namespaces, both processes are made to believe they are PID 1.
    script = textwrap.dedent(_HOLD_PLACES).format(
        pid_one="" if own_namespaces else "os.getpid = lambda: 1")
    prefix = ["unshare", "--pid", "--fork", "--kill-child"] if own_namespaces else []
    processes = [subprocess.Popen([*prefix, sys.executable, "-c", script, str(tmp_path / "state")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for p in processes:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        answers = [json.loads(p.communicate(timeout=30)[0]) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [a["pid"] for a in answers] == [1, 1]
    assert sum(a["admitted"] for a in answers) == 5
