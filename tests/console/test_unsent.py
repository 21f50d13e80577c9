"""An operator approves in the console; the agent's call cannot reach Zoho: the approval still holds, the
inbox says it waits for the call, and the audit viewer says plainly that nothing was sent."""

from __future__ import annotations

import html

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, agent, running, serving
from tests.console.conftest import MAILER_KEY, OLIVIA, csrf_in, sign_in
from tests.unreachable import SwitchableZoho
from zbmcp.core.credentials import key_hash


async def test_an_approval_given_in_the_console_outlives_a_call_zoho_never_got(
        make_config, sandbox, tmp_path):
    async with SwitchableZoho(sandbox) as zoho:
        loaded = make_config(
            {"bookkeeper": agent(["invoices:*"], require_approval=["email_invoice"],
                                 api_keys=[key_hash(MAILER_KEY)])},
            base_url=zoho.base_url, operators={"olivia": OLIVIA}, console={"hold_seconds": 0},
            audit={"path": str(tmp_path / "audit.jsonl")})
        async with running(loaded, sandbox, transport=None, audit=None) as runtime, \
                serving(runtime) as server:
            agent_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {MAILER_KEY}"})
            async with agent_http, Client(streamable_http_client(f"{server.url}/mcp", http_client=agent_http),
                                          mode="legacy") as bookkeeper, httpx2.AsyncClient() as operator:
                drafts = await bookkeeper.call_tool("list_invoices",
                                                    {"organization_id": ORG, "status": "draft"})
                arguments = {"organization_id": ORG, "to_mail_ids": ["ap@acme.example"],
                             "invoice_id": drafts.structured_content["invoices"][0]["invoice_id"]}
                waiting = await bookkeeper.call_tool("email_invoice", arguments)
                approval = waiting.structured_content["error"]["approval_id"]
                await sign_in(operator, server.url)
                page = await operator.get(f"{server.url}/console/approvals/{approval}")
                binding = html.unescape(page.text).split('name="binding" value="')[1].split('"')[0]
                decided = await operator.post(f"{server.url}/console/approvals/{approval}", data={
                    "csrf": csrf_in(page.text), "binding": binding, "decision": "approve"})
                await zoho.down()
                unsent = await bookkeeper.call_tool("email_invoice", arguments)
                inbox = html.unescape((await operator.get(f"{server.url}/console/approvals")).text)
                audit = html.unescape((await operator.get(f"{server.url}/console/audit")).text)
                await zoho.up()
                done = await bookkeeper.call_tool("email_invoice", arguments)
    assert decided.status_code == 303
    assert unsent.is_error and "Could not connect to Zoho" in unsent.content[0].text
    assert f"Approval {approval} still holds for this exact call" in unsent.content[0].text
    assert "approved, waiting for the call" in inbox
    assert ('agent "bookkeeper" tried to email an invoice for organization 10234695 (eu): failed (could not '
            "connect to Zoho; nothing sent; approval") in audit
    assert not done.is_error, done.content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]
