"""What `zbmcp claude-config --remote URL` puts in claude_desktop_config.json works: the mcp-remote bridge it
names (pinned in tests/node) signs a person in through zbmcp and carries stdio MCP to the remote /mcp.

Needs `npm ci --prefix tests/node --no-audit --no-fund` (CI does it); without it this test skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import ByteReceiveStream, Process

from tests.oauth_server.conftest import ALICE, Browser, connector, person, sign_in_and_consent
from zbmcp.cli.connectors import MCP_REMOTE, remote_config

NODE_TOOLS = Path(__file__).resolve().parent.parent / "node"
BRIDGE = NODE_TOOLS / "node_modules/mcp-remote/dist/proxy.js"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(not BRIDGE.is_file(), reason="mcp-remote is not installed: run "
                                                    "`npm ci --prefix tests/node --no-audit --no-fund`"),
]

AUTHORIZE = re.compile(r"(http://127\.0\.0\.1:\d+/authorize\?\S+)")


def pinned_version() -> str:
    package = json.loads((NODE_TOOLS / "package.json").read_text())
    return str(package["devDependencies"]["mcp-remote"])


def no_browser(folder: Path) -> dict[str, str]:
    """Environment in which the bridge's "open a browser" finds only a no-op (the test is the person)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    for name in ("xdg-open", "gio", "x-www-browser", "sensible-browser", "no-browser"):
        script = bin_dir / name
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "BROWSER": str(bin_dir / "no-browser"),
            "MCP_REMOTE_CONFIG_DIR": str(folder / "mcp-auth"), "NODE_NO_WARNINGS": "1"}


async def lines(stream: ByteReceiveStream, into: list[str], found: anyio.Event) -> None:
    buffer = b""
    async for chunk in stream:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            into.append(line.decode(errors="replace"))
            if AUTHORIZE.search(into[-1]):
                found.set()


async def exchange(process: Process, replies: list[dict[str, Any]],
                   message: dict[str, Any]) -> dict[str, Any]:
    """Send one JSON-RPC request on the bridge's stdin; its answer from stdout."""
    assert process.stdin is not None and process.stdout is not None
    await process.stdin.send((json.dumps(message) + "\n").encode())
    buffer = b""
    while True:
        buffer += await process.stdout.receive()
        for line in buffer.split(b"\n")[:-1]:
            reply = json.loads(line)
            if reply.get("id") == message["id"]:
                replies.append(reply)
                return dict(reply)


async def test_the_mcp_remote_bridge_claude_config_prints_signs_in_and_lists_tools(
        make_config, sandbox, tmp_path):
    async with connector(make_config, sandbox, {"bookkeeper": person(["invoices:read"], [ALICE])}) as zb:
        entry, _ = remote_config(zb.url)
        args = entry["mcpServers"]["zoho-books"]["args"]
        assert args[:2] == ["-y", MCP_REMOTE] and MCP_REMOTE.split("@")[1] in pinned_version()
        stderr: list[str] = []
        asked = anyio.Event()
        replies: list[dict[str, Any]] = []
        with anyio.fail_after(60):
            process = await anyio.open_process([str(NODE), str(BRIDGE), *args[2:], "--host", "127.0.0.1"],
                                               env=no_browser(tmp_path), cwd=tmp_path)
            try:
                async with anyio.create_task_group() as tg:
                    assert process.stderr is not None
                    tg.start_soon(lines, process.stderr, stderr, asked)
                    await asked.wait()
                    url = next(m.group(1) for line in stderr if (m := AUTHORIZE.search(line)))
                    browser = Browser()
                    try:
                        back = await sign_in_and_consent(browser, url, ALICE)  # ends at the bridge's callback
                    finally:
                        await browser.aclose()
                    await exchange(process, replies, {
                        "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                            "protocolVersion": "2025-06-18", "capabilities": {},
                            "clientInfo": {"name": "claude-desktop-stand-in", "version": "1"}}})
                    assert process.stdin is not None
                    await process.stdin.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
                    listed = await exchange(process, replies,
                                            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
                    tg.cancel_scope.cancel()
            finally:
                if process.returncode is None:
                    process.terminate()
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    assert back.status_code == 200, back.text[:300]
    assert sorted(t["name"] for t in listed["result"]["tools"]) \
        == ["get_invoice", "list_invoices"], "\n".join(stderr)
    assert [e["step"] for e in zb.events() if e["decision"] == "allowed"] \
        == ["register", "sign-in", "consent",
            "token"]
    assert zb.events("sign-in")[-1]["person"] == ALICE
