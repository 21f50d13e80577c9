"""Names and money in every question a person answers (#22.5): the approval question and the console card show
the counterparty's name, the document's number, customer and total, and the amount with its currency, read
from Zoho (the sandbox) as zbmcp's own reads; a read that fails shows the id, says so, and holds nothing up.
"""

from __future__ import annotations

import html
from typing import Any

import httpx2
from mcp import types

from tests.conftest import ORG, agent, mcp_client, running, serving
from tests.console.conftest import OLIVIA, sign_in
from tests.test_approval_binding import KEY_A, connect
from tests.test_approval_inbox import pending
from zbmcp.core.credentials import key_hash
from zbmcp.sandbox import Fault

ACCEPT = types.ElicitResult(action="accept", content={"approve": True})


def answering(asked: list[str]) -> Any:
    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return ACCEPT

    return person


async def test_emailing_an_invoice_asks_about_its_number_customer_and_total(make_config, sandbox):
    asked: list[str] = []
    loaded = make_config({"desk": agent(["invoices:*"], require_approval=["email_invoice"])})
    invoice = sandbox.store(ORG).invoices[sandbox.store(ORG).invoice_id("INV-000001")]
    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, "desk", elicitation_callback=answering(asked)) as client:
        sent = await client.call_tool("email_invoice", {"invoice_id": invoice["invoice_id"],
                                                        "to_mail_ids": ["ap@acme.example"]})
    assert not sent.is_error, sent.content[0].text
    [question] = asked
    total = f"{invoice['total']:,.2f}"
    assert (f"Document: invoice INV-000001 ({invoice['invoice_id']}) for {invoice['customer_name']}, total "
            f"{total} GBP.") in question
    assert "Emails: to ap@acme.example." in question


async def test_a_name_that_cannot_be_read_shows_the_id_says_so_and_holds_nothing_up(make_config, sandbox):
    asked: list[str] = []
    loaded = make_config({"desk": agent(["invoices:*"], require_approval=["email_invoice"])})
    invoice_id = sandbox.store(ORG).invoice_id("INV-000001")
    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, "desk", elicitation_callback=answering(asked)) as client:
        sandbox.faults.add(Fault(kind="error", status=503, route="GET /invoices/{invoice_id}"))
        sent = await client.call_tool("email_invoice", {"invoice_id": invoice_id,
                                                        "to_mail_ids": ["ap@acme.example"]})
    assert not sent.is_error, sent.content[0].text  # approved and sent, the name unread
    [question] = asked
    assert f"Document: invoice {invoice_id} (it could not be read from Zoho: " in question
    assert "INV-000001" not in question
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]


async def test_the_console_card_names_the_customer_the_document_and_the_money(make_config, sandbox):
    mailer = agent(["invoices:*"], require_approval=["email_invoice", "create_invoice"],
                   api_keys=[key_hash(KEY_A)])
    loaded = make_config({"mailer": mailer},
                         operators={"olivia": OLIVIA}, console={"hold_seconds": 0})
    store = sandbox.store(ORG)
    invoice = store.invoices[store.invoice_id("INV-000001")]
    acme = store.contact_id("Acme Corporation")
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, \
            connect(server, KEY_A) as client, httpx2.AsyncClient() as http:
        await client.call_tool("email_invoice", {"organization_id": ORG, "invoice_id": invoice["invoice_id"],
                                                 "to_mail_ids": ["ap@acme.example"]})
        await client.call_tool("create_invoice", {
            "organization_id": ORG, "customer_id": acme,
            "line_items": [{"item_id": store.item_id("Consulting"), "quantity": 2, "rate": 1250.25}]})
        held = {h.tool: h for h in await pending(runtime.inbox, 2)}
        await sign_in(http, server.url)
        cards = {tool: html.unescape((await http.get(f"{server.url}/console/approvals/{h.id}")).text)
                 for tool, h in held.items()}
    total = f"{invoice['total']:,.2f}"
    assert (f'class="document">invoice INV-000001 ({invoice["invoice_id"]}) for Acme Corporation, total '
            f"{total} GBP<") in cards["email_invoice"]
    assert 'class="recipients">to ap@acme.example<' in cards["email_invoice"]
    assert f'class="counterparty">Acme Corporation ({acme})<' in cards["create_invoice"]
    assert 'class="amount">2,500.50 GBP<' in cards["create_invoice"]
    assert sandbox.outbox == []


async def test_an_agent_calling_again_while_it_waits_spends_none_of_zohos_calls(make_config, sandbox):
    """The card's names are read once, when the approval opens: a waiting agent's retries read nothing."""
    loaded = make_config({"mailer": agent(["invoices:*"], require_approval=["email_invoice"],
                                          api_keys=[key_hash(KEY_A)])}, console={"hold_seconds": 0})
    invoice_id = sandbox.store(ORG).invoice_id("INV-000001")
    arguments = {"organization_id": ORG, "invoice_id": invoice_id, "to_mail_ids": ["ap@acme.example"]}
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, \
            connect(server, KEY_A) as client:
        await client.call_tool("email_invoice", arguments)
        opened = len(sandbox.api_requests)
        for _ in range(3):
            await client.call_tool("email_invoice", arguments)
        [held] = await pending(runtime.inbox)
    assert [r.route for r in sandbox.api_requests[:opened]] == ["GET /invoices/{invoice_id}"]
    assert len(sandbox.api_requests) == opened and held.document is not None
