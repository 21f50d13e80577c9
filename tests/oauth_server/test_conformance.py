"""The official MCP conformance suite's authorization-server scenarios (@modelcontextprotocol/conformance,
pinned in tests/node, on its own Node 22) against zbmcp's OAuth server: the metadata document,
and a whole authorization-code grant (the suite prints the authorization URL for a person; a
sandbox person answers it)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.oauth_server.conftest import ALICE, Browser, connector, person, sign_in_and_consent

NODE_TOOLS = Path(__file__).resolve().parent.parent / "node"
NODE_22 = NODE_TOOLS / "node_modules" / "node" / "bin" / "node"
SUITE = NODE_TOOLS / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"

pytestmark = pytest.mark.skipif(
    not (NODE_22.is_file() and SUITE.is_file()),
    reason="the MCP conformance suite and Node 22 are not installed: run "
           "`npm ci --prefix tests/node --no-audit --no-fund`")


def _unused_port() -> int:
    """A port nothing listens on now. The suite binds its callback port itself and takes no socket, so this
    one is picked, released and bound later: a neighbour binding port 0 meanwhile could, rarely, get it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_conformance_suite_passes_zbmcps_authorization_server(make_config, sandbox, tmp_path):
    callback_port = _unused_port()
    results = tmp_path / "results"
    async with connector(make_config, sandbox, {"bookkeeper": person(["invoices:read"], [ALICE])}) as zb:
        async with httpx2.AsyncClient(timeout=10) as http:
            registered = await http.post(f"{zb.url}/register", json={
                "client_name": "MCP conformance suite", "token_endpoint_auth_method": "none",
                "redirect_uris": [f"http://127.0.0.1:{callback_port}/callback"]})
        client_id = registered.json()["client_id"]
        command = [str(NODE_22), str(SUITE), "authorization", "--url", zb.url, "--client-id", client_id,
                   "--resource", zb.url, "--port", str(callback_port), "-o", str(results)]
        with anyio.fail_after(90):
            async with await anyio.open_process(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, cwd=NODE_TOOLS) as suite:
                assert suite.stdout is not None
                output = BufferedByteReceiveStream(suite.stdout)
                lines: list[str] = []
                while not lines or not lines[-1].startswith(f"{zb.url}/authorize?"):
                    lines.append((await output.receive_until(b"\n", 65536)).decode().strip())
                browser = Browser()  # the person the suite asks to open that URL
                answer = await sign_in_and_consent(browser, lines[-1], ALICE)
                await browser.aclose()
                rest = b""
                async for chunk in output:
                    rest += chunk
                code = await suite.wait()
    transcript = "\n".join(lines) + rest.decode()
    assert answer.status_code == 200 and "OK" in answer.text  # the suite's own callback page
    by_scenario = {path.parent.name.split("-20")[0]: json.loads(path.read_text())
                   for path in results.rglob("checks.json")}
    assert set(by_scenario) == {"authorization-server-authorization-server-metadata-endpoint",
                                "authorization-server-authorization-code-grant"}, transcript
    statuses = {check["id"]: check["status"] for checks in by_scenario.values() for check in checks}
    assert "authorization-code-grant" in statuses and set(statuses.values()) == {"SUCCESS"}, statuses
    assert code == 0, transcript
