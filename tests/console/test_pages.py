"""What an operator reads on a held call's page, over real HTTP on loopback."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, running, serving
from tests.console.conftest import MAILER_KEY, sign_in
from zbmcp.audit.log import AuditLog, read_calls
from zbmcp.console import audit_viewer as console_app


async def test_a_create_that_sends_shows_whom_zoho_will_email_by_name_and_the_money(console_config, sandbox):
    """`send: true` names no address: Zoho emails the customer's contact persons, so zbmcp reads them from
    Zoho and the card shows each one, with the customer's name and the amount in its currency."""
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
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    assert 'class="recipients">jane.smith@acme.example (Jane Smith, primary contact person)<' in page
    assert "emails jane.smith@acme.example (Jane Smith, primary contact person)" in page
    assert f'class="counterparty">Acme Corporation ({acme})<' in page
    assert 'class="amount">150.00 GBP<' in page
    assert sandbox.outbox == []


SENTENCE = re.compile(r'<td class="sentence">(.*?)</td>', re.S)
OLDER = re.compile(r'id="older" href="([^"]+)"')


def shown(page: str) -> list[str]:
    return [html.unescape(cell) for cell in SENTENCE.findall(page)]


async def test_the_event_filter_shows_one_kind_of_record_on_every_page_and_live(console_config, sandbox,
                                                                                  monkeypatch):
    """An operator looks for the console's sign-ins, the approvals, or only the tool calls: each row of that
    kind, none of another, on the first page, on older pages and as new records arrive."""
    monkeypatch.setattr(console_app, "AUDIT_PAGE", 2)  # a few records make several pages
    loaded = console_config()
    audit = AuditLog(loaded.audit_path)
    async with running(loaded, sandbox, audit=audit) as runtime, serving(runtime) as server:
        agent_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {MAILER_KEY}"})
        async with agent_http, Client(streamable_http_client(f"{server.url}/mcp", http_client=agent_http),
                                      mode="legacy") as agent:
            store = sandbox.store(ORG)
            await agent.call_tool("list_invoices", {"organization_id": ORG})
            await agent.call_tool("create_invoice", {
                "organization_id": ORG, "customer_id": store.contact_id("Acme Corporation"), "send": True,
                "line_items": [{"item_id": store.item_id("Consulting"), "quantity": 1, "rate": 150}]})
            async with httpx2.AsyncClient() as http, httpx2.AsyncClient() as stranger:
                guessed = await sign_in(stranger, server.url, name="oscar", secret="a guess")
                assert guessed.status_code == 401
                assert (await sign_in(http, server.url)).status_code == 303

                async def every_page(query: str) -> list[str]:
                    rows, url = [], f"{server.url}/console/audit?{query}"
                    for _ in range(50):
                        page = (await http.get(url)).text
                        rows += shown(page)
                        older = OLDER.search(page)
                        if older is None:
                            return rows
                        url = server.url + html.unescape(older.group(1))
                    raise AssertionError("the pages never ended")

                kinds = {query: await every_page(query) for query in
                         ("event=call", "event=console", "event=console.sign_in&decision=denied",
                          "event=approval", "event=oauth")}
                first = (await http.get(f"{server.url}/console/audit", params={"event": "console"})).text
                cursor = re.search(r'data-cursor="(\d+)"', first).group(1)  # type: ignore[union-attr]
                assert 'data-live-append="/console/audit/live?event=console"' in first
                assert '<option value="console" selected>' in first
                await agent.call_tool("list_invoices", {"organization_id": ORG})
                guessed = await sign_in(stranger, server.url, name="oscar", secret="another")
                assert guessed.status_code == 401
                live = await http.get(f"{server.url}/console/audit/live",
                                      params={"event": "console", "after": cursor})
                wrong = await http.get(f"{server.url}/console/audit", params={"event": "oauth.Token"})
    records = read_calls(loaded.audit_path)  # type: ignore[arg-type]

    def sentences(keep: Any) -> list[str]:
        return [str(r["sentence"]) for r in reversed(records) if keep(r)]

    calls = sentences(lambda r: "event" not in r)
    # the agent's three calls, and zbmcp's own reads of the customer and its currency for the send=true
    assert len(calls) == 5 and kinds["event=call"] == calls[1:]  # the last came after the pages were read
    assert sum(call.startswith("zbmcp's own read for call ") for call in calls) == 2
    sign_ins = sentences(lambda r: str(r.get("event", "")).startswith("console."))
    assert len(sign_ins) == 3 and kinds["event=console"] == sign_ins[1:]
    assert kinds["event=console.sign_in&decision=denied"] == [sign_ins[-1]] and "oscar" in sign_ins[-1]
    approvals = sentences(lambda r: str(r.get("event", "")).startswith("approval."))
    assert approvals and kinds["event=approval"] == approvals
    assert kinds["event=oauth"] == []
    assert shown(live.text) == [sign_ins[0]] and "oscar" in sign_ins[0]
    assert wrong.status_code == 200 and "event: 'oauth.Token' is not a kind of audit record" in html.unescape(
        wrong.text)
