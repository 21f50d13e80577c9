"""`zbmcp serve --sandbox --transport http --oauth`: the remote-connector experience with no Zoho account, as
docs/connectors.md tells people to try it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import anyio
import httpx2
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import assert_demo_listing, said_port
from tests.oauth_server.conftest import ALICE, MALLORY, Browser, SdkClient, sign_in_and_consent


async def test_serve_sandbox_with_oauth_lets_a_sandbox_person_sign_in_from_a_client(tmp_path):
    command = [sys.executable, "-m", "zbmcp", "serve", "--sandbox", "--transport", "http", "--oauth",
               "--port", "0"]
    env = {**os.environ, "ZBMCP_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    lines: list[str] = []
    with anyio.fail_after(60):
        async with await anyio.open_process(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            env=env) as process:
            assert process.stderr is not None
            stderr = BufferedByteReceiveStream(process.stderr)
            while not any("serving MCP on" in line for line in lines):
                lines.append((await stderr.receive_until(b"\n", 65536)).decode())
            port = said_port("".join(lines), after="connect a client to ")
            url = f"http://127.0.0.1:{port}"
            browser = Browser()
            sdk = SdkClient(url, ALICE, browser)
            async with httpx2.AsyncClient(auth=sdk.provider(), timeout=10) as http:
                async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
                    tools = (await client.list_tools()).tools
            outsider = Browser()
            # the same app, another person
            refused = await sign_in_and_consent(outsider, browser.history[0], MALLORY)
            await browser.aclose()
            await outsider.aclose()
            process.send_signal(signal.SIGTERM)
            await process.wait()
    output = "".join(lines)
    assert f"connect a client to {url}/mcp" in output and "password `sandbox`" in output
    assert_demo_listing(tool.name for tool in tools)  # agent demo
    assert refused.status_code == 403
    assert "Traceback" not in output
