"""Replays and resolutions (issue #25) are outcomes of the one call record: an operator sees them on the
console's audit page, and `zbmcp audit` shows the first call with what became of it."""

from __future__ import annotations

import html
import subprocess
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, environ, running, serving
from tests.console.conftest import MAILER_KEY, sign_in
from zbmcp.audit.log import AuditLog
from zbmcp.sandbox import Fault


async def test_a_resolved_call_and_its_replay_are_on_the_audit_page_and_in_zbmcp_audit(
        console_config, sandbox, home, tmp_path):
    loaded = console_config()
    sandbox.faults.add(Fault(kind="drop_after", route="POST /invoices", times=1))
    store = sandbox.store(ORG)
    arguments = {"organization_id": ORG, "customer_id": store.contact_id("Acme Corporation"),
                 "line_items": [{"item_id": store.item_id("Consulting"), "quantity": 1}],
                 "idempotency_key": "acme-1"}
    async with running(loaded, sandbox, audit=AuditLog(loaded.audit_path)) as runtime, \
            serving(runtime) as server:
        agent_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {MAILER_KEY}"})
        async with agent_http, Client(streamable_http_client(f"{server.url}/mcp", http_client=agent_http),
                                      mode="legacy") as agent:
            lost = await agent.call_tool("create_invoice", arguments)
            found = await agent.call_tool("create_invoice", arguments)
            again = await agent.call_tool("create_invoice", arguments)
        async with httpx2.AsyncClient() as http:
            assert (await sign_in(http, server.url)).status_code == 303
            page = html.unescape((await http.get(f"{server.url}/console/audit")).text)
    first = lost.structured_content["error"]["call_id"]
    assert not found.is_error and not again.is_error
    assert f"resolved: written (found {found.structured_content['invoice']['invoice_number']}" in page
    assert f"resolved call {first}: written; nothing sent" in page
    assert f"replayed call {first} (same key); nothing sent" in page
    shown = subprocess.run([sys.executable, "-m", "zbmcp", "audit", "--config", str(tmp_path / "zbmcp.yaml")],
                           capture_output=True, text=True, timeout=60,
                           env={**environ(sandbox, home), "PATH": "/usr/bin:/bin"})
    assert shown.returncode == 0, shown.stderr
    rows = [line for line in shown.stdout.splitlines() if "create_invoice" in line]
    assert len(rows) == 3  # the first call, with what became of it, and its two repeats
    assert sum("resolved: written" in row for row in rows) == 1, rows
