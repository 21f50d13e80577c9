"""What an approval holds for (#21.1, #21.8): the person (or the agent's key) who asked, and what zbmcp read
from Zoho for the question. Replayed attacks: one person's approved call was taken by another person's
identical call; and an approval given while a customer's contact persons were the right ones let `send=true`
through after the address had been moved outside.

Over real HTTP on loopback with the SDK's own client, against the sandbox; the operator decides through the
inbox and reads the card in the console.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from typing import Any

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, agent, mcp_client, running, serving
from tests.console.conftest import OLIVIA, sign_in
from tests.test_approval_inbox import email_arguments, pending
from tests.test_recipients import OUTSIDE, a_new_invoice, move_acme_email
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.transports.http import HttpServer

KEY_A, KEY_B = new_api_key()[0], new_api_key()[0]
ACCEPT = types.ElicitResult(action="accept", content={"approve": True})


@contextlib.asynccontextmanager
async def connect(server: HttpServer, key: str, mode: str = "legacy") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode=mode) as client:
            yield client


def two_keys(make_config: Any) -> Any:
    """One agent, two API keys (two people's desks, or two deployments), each call approved in the console."""
    return make_config({"mailer": agent(["invoices:*"], require_approval=["email_invoice"],
                                        api_keys=[key_hash(KEY_A), key_hash(KEY_B)]),
                        "crm": agent(["contacts:*"])},
                       operators={"olivia": OLIVIA}, console={"hold_seconds": 0})


def error_type(result: types.CallToolResult) -> str | None:
    return (result.structured_content or {}).get("error", {}).get("type") if result.is_error else None


async def test_an_approval_is_taken_only_by_the_identical_call_of_whoever_asked(make_config, sandbox):
    async with running(two_keys(make_config), sandbox) as runtime, serving(runtime) as server, \
            connect(server, KEY_A) as desk_a, connect(server, KEY_B) as desk_b:
        arguments = await email_arguments(desk_a)
        await desk_a.call_tool("email_invoice", arguments)
        [held] = await pending(runtime.inbox)
        await runtime.inbox.decide(held.id, held.binding, "olivia", approve=True)
        other = await desk_b.call_tool("email_invoice", arguments)  # identical, from the other key
        waiting = await pending(runtime.inbox)
        own = await desk_a.call_tool("email_invoice", arguments)
        async with httpx2.AsyncClient() as http:
            await sign_in(http, server.url)
            card = html.unescape((await http.get(f"{server.url}/console/approvals/{waiting[0].id}")).text)
    assert error_type(other) == "ApprovalPending" and held.id not in other.content[0].text
    assert not own.is_error, own.content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]  # A's call, once
    key_a, key_b = (f"sha256:{key_hash(key).removeprefix('sha256:')[:16]}" for key in (KEY_A, KEY_B))
    assert held.asked_by == f"agent mailer (API key {key_a})"
    assert [h.asked_by for h in waiting] == [f"agent mailer (API key {key_b})"]
    assert f'class="asked-by">agent mailer (API key {key_b})<' in card
    assert KEY_A not in card and KEY_B not in card


async def test_an_approval_does_not_hold_once_the_contact_persons_it_showed_have_changed(make_config,
                                                                                          sandbox):
    async with running(two_keys(make_config), sandbox) as runtime, serving(runtime) as server, \
            connect(server, KEY_A) as desk, mcp_client(runtime, "crm") as crm:
        arguments = {"organization_id": ORG, **a_new_invoice(sandbox, send=True)}
        await desk.call_tool("create_invoice", arguments)
        [held] = await pending(runtime.inbox)
        await runtime.inbox.decide(held.id, held.binding, "olivia", approve=True)
        await move_acme_email(crm, sandbox)  # after the approval, before the call takes it
        retried = await desk.call_tool("create_invoice", arguments)
        [asked_again] = await pending(runtime.inbox)
        [before] = [h for h in await runtime.inbox.all() if h.id == held.id]
    assert held.emailed == ["jane.smith@acme.example (Jane Smith, primary contact person)"]
    assert error_type(retried) == "ApprovalPending" and held.id not in retried.content[0].text
    assert before.status == "changed"
    assert asked_again.emailed == [f"{OUTSIDE} (primary contact person)"]
    assert sandbox.outbox == [] and [r.route for r in sandbox.api_requests if r.method == "POST"] == []
    events = [r for r in runtime.audit.records if r.get("event") == "approval.changed"]
    assert len(events) == 1 and OUTSIDE in events[0]["sentence"]


async def test_a_persons_ticket_does_not_hold_once_the_contact_persons_it_showed_have_changed(
        make_config, sandbox):
    """The client channel on a 2026-07-28 client: the retry with the person's answer comes after the address
    moved; it is asked again, with the new address, rather than sent."""
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return ACCEPT

    loaded = make_config({"desk": agent(["invoices:*"], require_approval=["email_invoice"]),
                          "crm": agent(["contacts:*"])})
    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, "desk", mode="auto", elicitation_callback=person) as desk, \
            mcp_client(runtime, "crm") as crm:
        arguments = a_new_invoice(sandbox, send=True)
        first = await desk.session.call_tool("create_invoice", arguments, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult)
        await move_acme_email(crm, sandbox)
        retried = await desk.session.call_tool("create_invoice", arguments, allow_input_required=True,
                                               input_responses={"zbmcp-approval": ACCEPT},
                                               request_state=first.request_state)
    assert isinstance(retried, types.InputRequiredResult)  # asked again, nothing sent
    question = retried.input_requests["zbmcp-approval"].params.message
    assert OUTSIDE in question and "jane.smith@acme.example" not in question
    assert sandbox.outbox == []
