"""What an operator reads on a held call's page, over real HTTP on loopback."""

from __future__ import annotations

import html

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, running, serving
from tests.console.conftest import MAILER_KEY, sign_in


async def test_a_create_that_sends_says_who_zoho_will_email_not_recipients_none(console_config, sandbox):
    """`send: true` names no address: Zoho emails the customer's contact persons. "Recipients: none" beside
    "emails someone" would read as if nobody outside were emailed."""
    loaded = console_config()
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        agent_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {MAILER_KEY}"})
        async with agent_http, Client(streamable_http_client(f"{server.url}/mcp", http_client=agent_http),
                                      mode="legacy") as agent:
            store = sandbox.store(ORG)
            waiting = await agent.call_tool("create_invoice", {
                "organization_id": ORG, "customer_id": store.contact_id("Acme Corporation"), "send": True,
                "line_items": [{"item_id": store.item_id("Consulting"), "quantity": 1, "rate": 150}]})
        approval = waiting.structured_content["error"]["approval_id"]
        async with httpx2.AsyncClient() as http:
            await sign_in(http, server.url)
            page = html.unescape((await http.get(f"{server.url}/console/approvals/{approval}")).text)
    assert 'class="recipients">the addresses Zoho has for the customer (the call names none)<' in page
    assert "emails the addresses Zoho has for the customer" in page
    assert sandbox.outbox == []
