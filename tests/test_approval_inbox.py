"""Approvals a person really gives: a hosted agent's call that needs approval is held for an operator
(`approval: console`, the default over HTTP), and nothing the agent sends over MCP can approve it.

Everything goes through real HTTP on loopback with the SDK's own client, against the sandbox.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, agent, running, serving
from zbmcp.calls.inbox import ApprovalInbox, DecisionRefused, HeldCall
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.state import State, new_id
from zbmcp.state.local import LocalState
from zbmcp.state.redis import RedisState
from zbmcp.transports.http import HttpServer

ACCEPT = types.ElicitResult(action="accept", content={"approve": True})
KEY = new_api_key()[0]


def mailer(**options: Any) -> dict[str, Any]:
    """An agent that may email invoices, each one approved by a person; no `approval:` set, so over HTTP an
    operator approves in the console."""
    return agent(["invoices:*"], require_approval=["email_invoice"], api_keys=[key_hash(KEY)], **options)


@contextlib.asynccontextmanager
async def connect(server: HttpServer, *, mode: str = "legacy", **options: Any) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode=mode,
                          **options) as client:
            yield client


async def email_arguments(client: Client, to: str = "ap@acme.example") -> dict[str, Any]:
    listed = await client.call_tool("list_invoices", {"organization_id": ORG, "status": "draft"})
    return {"organization_id": ORG, "invoice_id": listed.structured_content["invoices"][0]["invoice_id"],
            "to_mail_ids": [to]}


async def pending(inbox: ApprovalInbox, count: int = 1) -> list[HeldCall]:
    """The held calls, once there are `count` of them (waits on the inbox's changes, bounded)."""
    with anyio.fail_after(10):
        while True:
            changed = inbox.changes()
            waiting = [held for held in await inbox.all() if held.status == "pending"]
            if len(waiting) >= count:
                return waiting
            await changed.wait()


async def decided_while_held(client: Client, arguments: dict[str, Any], inbox: ApprovalInbox, operator: str,
                             approve: bool, decide_with: ApprovalInbox | None = None) -> types.CallToolResult:
    """The agent calls and waits; meanwhile the operator decides (through `decide_with`, another replica's
    inbox, if given). Returns the agent's answer."""
    results: list[types.CallToolResult] = []
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            async def agent_call() -> None:
                results.append(await client.call_tool("email_invoice", arguments))

            tg.start_soon(agent_call)
            [held] = await pending(inbox)
            deciding = decide_with or inbox
            [seen] = [h for h in await deciding.all() if h.status == "pending"]
            assert seen.id == held.id
            await deciding.decide(seen.id, seen.binding, operator, approve=approve)
    return results[0]


def emails_sent(sandbox) -> int:
    return sum(1 for request in sandbox.api_requests if request.path.endswith("/email"))


async def test_a_hosted_agent_cannot_approve_its_own_call_by_any_mcp_message(make_config, sandbox):
    loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 0})
    elicited: list[str] = []

    async def self_approving(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        elicited.append(params.message)  # the agent's own code answering "accept" to anything it is asked
        return ACCEPT

    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with connect(server, mode="auto", elicitation_callback=self_approving) as modern, \
                connect(server, mode="legacy", elicitation_callback=self_approving) as legacy:
            arguments = await email_arguments(modern)
            first = await modern.session.call_tool("email_invoice", arguments, allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult)
            assert not first.input_requests  # nothing for the client to answer: an operator decides
            ticket = await runtime.approvals.issue("mailer", runtime.specs["email_invoice"], arguments)
            attempts = [
                # an elicitation "accept" with zbmcp's own request_state
                dict(input_responses={"zbmcp-approval": ACCEPT}, request_state=first.request_state),
                # a genuine signed ticket of the client channel, with an accept
                dict(input_responses={"zbmcp-approval": ACCEPT}, request_state=ticket),
                # accepts under any key, with a made-up state
                dict(input_responses={"approval": ACCEPT, "approve": ACCEPT}, request_state="approved"),
            ]
            answers = [await modern.session.call_tool("email_invoice", arguments, allow_input_required=True,
                                                      **attempt) for attempt in attempts]
            # an argument that says so: an undeclared argument, refused before anything else
            in_arguments = await legacy.call_tool("email_invoice", {**arguments, "approve": True})
            legacy_call = await legacy.call_tool("email_invoice", arguments)
            forged_legacy = await legacy.session.call_tool("email_invoice", arguments,
                                                           input_responses={"zbmcp-approval": ACCEPT})
        held = await pending(runtime.inbox)

    assert all(isinstance(answer, types.InputRequiredResult) for answer in answers)
    assert in_arguments.is_error and "approve" in in_arguments.content[0].text
    assert in_arguments.structured_content["error"]["type"] == "InvalidArguments"
    for answer in (legacy_call, forged_legacy):
        assert answer.is_error and answer.structured_content["error"]["type"] == "ApprovalPending"
        assert f"Waiting for approval {held[0].id}" in answer.content[0].text
    assert elicited == []  # zbmcp never asked the agent's client: there was nothing to forge an answer to
    assert emails_sent(sandbox) == 0 and sandbox.outbox == []
    assert len(held) == 1 and held[0].agent == "mailer" and held[0].recipients == ["ap@acme.example"]


async def test_an_approved_call_runs_once_and_the_audit_names_the_operator(make_config, sandbox):
    loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 0})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with connect(server) as client:
            arguments = await email_arguments(client)
            waiting = await client.call_tool("email_invoice", arguments)
            [held] = await pending(runtime.inbox)
            await runtime.inbox.decide(held.id, held.binding, "olivia", approve=True)
            done = await client.call_tool("email_invoice", arguments)
            again = await client.call_tool("email_invoice", arguments)  # a repeat: the first call's answer
            # the same decision cannot send twice: a second email on purpose is asked afresh
            second = await client.call_tool("email_invoice", {**arguments, "idempotency_key": "second email"})
    assert waiting.is_error and not done.is_error, done.content[0].text
    assert not again.is_error and "replayed" in again.structured_content
    assert second.is_error and second.structured_content["error"]["type"] == "ApprovalPending"
    assert held.id not in second.content[0].text  # a new approval, asked afresh
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]
    records = runtime.audit.records
    call = [r for r in records if r.get("tool") == "email_invoice" and r.get("decision") == "allowed"
            and "replay_of" not in r]
    assert len(call) == 1 and call[0]["rule"] \
        == (f"approved by operator olivia in the console (approval {held.id}); "
            "asked by require_approval: email_invoice")
    assert call[0]["config_revision"] == loaded.revision  # and which config asked (#10)
    events = [(r["event"], r["decision"]) for r in records if "event" in r]
    assert ("approval.requested", "pending") in events and ("approval.decided", "approved") in events


async def test_a_held_call_completes_when_the_operator_approves_while_it_waits(make_config, sandbox):
    loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 30})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with connect(server, mode="auto") as client:
            arguments = await email_arguments(client)
            result = await decided_while_held(client, arguments, runtime.inbox, "olivia", approve=True)
    assert not result.is_error, result.content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_denied_call_sends_nothing_and_the_agent_is_told(make_config, sandbox, mode):
    loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 30})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with connect(server, mode=mode) as client:
            arguments = await email_arguments(client)
            denied = await decided_while_held(client, arguments, runtime.inbox, "olivia", approve=False)
    assert denied.is_error and "Operator olivia denied email_invoice" in denied.content[0].text
    assert emails_sent(sandbox) == 0 and sandbox.outbox == []
    record = runtime.audit.records[-1]
    assert record["decision"] == "denied" and record["rule"].startswith("denied by operator olivia")


async def test_a_decision_for_one_call_never_lets_a_changed_call_through(make_config, sandbox):
    loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 0})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with connect(server) as client:
            arguments = await email_arguments(client)
            await client.call_tool("email_invoice", arguments)
            [held] = await pending(runtime.inbox)
            with pytest.raises(DecisionRefused, match="not the one this page showed"):
                await runtime.inbox.decide(held.id, "0" * 64, "olivia", approve=True)
            await runtime.inbox.decide(held.id, held.binding, "olivia", approve=True)
            with pytest.raises(DecisionRefused, match="already decided by olivia"):
                await runtime.inbox.decide(held.id, held.binding, "mallory", approve=False)
            switched = await client.call_tool("email_invoice",
                                              {**arguments, "to_mail_ids": ["x@evil.example"]})
            original = await client.call_tool("email_invoice", arguments)
    assert switched.is_error and switched.structured_content["error"]["type"] == "ApprovalPending"
    assert not original.is_error
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]


async def test_every_call_that_waits_for_an_operator_is_on_the_record(make_config, sandbox):
    """Not only the first call that opened the request: each call answered "waiting" (an agent polling, an
    agent trying to forge an approval) has its own record, naming the approval it waits on."""
    loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 0})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with connect(server) as legacy, connect(server, mode="auto") as modern:
            arguments = await email_arguments(legacy)
            await legacy.call_tool("email_invoice", arguments)
            await legacy.call_tool("email_invoice", arguments)
            await modern.session.call_tool("email_invoice", arguments, allow_input_required=True,
                                           input_responses={"zbmcp-approval": ACCEPT},
                                           request_state="approved")
        [held] = await pending(runtime.inbox)
    calls = [r for r in runtime.audit.records if r.get("tool") == "email_invoice" and "call_id" in r]
    assert [r["decision"] for r in calls] == ["pending"] * 3
    assert len({r["call_id"] for r in calls}) == 3
    assert all(f"waiting for approval {held.id}" in r["rule"]
               and "require_approval: email_invoice" in r["rule"]
               for r in calls)
    assert "waiting for approval" in calls[0]["sentence"]
    assert emails_sent(sandbox) == 0


@pytest.mark.parametrize("backend", ["local", "redis"])
async def test_replicas_sharing_the_state_honour_each_others_decisions_once(
        make_config, sandbox, tmp_path: Path, backend, request):
    """Two replicas, each with its own connection to one shared state (a folder on one machine, or one Redis):
    a call held on one is released by a decision taken on the other, once."""
    loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 30})
    if backend == "local":
        stores: list[State] = [LocalState(tmp_path / "shared"), LocalState(tmp_path / "shared")]
    else:
        prefix = f"test-{new_id()[:12]}:"
        stores = [RedisState(request.getfixturevalue("redis_url"), prefix=prefix) for _ in range(2)]
    try:
        async with running(loaded, sandbox, state=stores[0]) as first, \
                running(loaded, sandbox, state=stores[1]) as second, \
                serving(first) as first_server, connect(first_server, mode="auto") as client:
            arguments = await email_arguments(client)
            result = await decided_while_held(client, arguments, first.inbox, "olivia", approve=True,
                                              decide_with=second.inbox)
            [held] = [h for h in await first.inbox.all() if h.agent == "mailer"]
            with pytest.raises(DecisionRefused):
                await first.inbox.decide(held.id, held.binding, "mallory", approve=True)
    finally:
        for store in stores:
            await store.aclose()
    assert held.status == "used" and held.operator == "olivia"
    assert not result.is_error, result.content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]


async def test_over_stdio_the_agents_own_client_still_asks_by_default(make_config, sandbox):
    """A person's desktop client is its own approver: stdio keeps elicitation unless `approval: console`."""
    from tests.conftest import mcp_client

    loaded = make_config({"desk": agent(["invoices:*"], require_approval=["email_invoice"]),
                          "held": agent(["invoices:*"], require_approval=["email_invoice"],
                                        approval="console")},
                         console={"hold_seconds": 0})
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return ACCEPT

    async with running(loaded, sandbox) as runtime:
        async with mcp_client(runtime, "desk", mode="legacy", elicitation_callback=person) as desk:
            arguments = await email_arguments(desk)
            sent = await desk.call_tool("email_invoice", arguments)
        async with mcp_client(runtime, "held", mode="legacy", elicitation_callback=person) as held:
            waiting = await held.call_tool("email_invoice", arguments)
    assert not sent.is_error and len(asked) == 1
    assert waiting.is_error and waiting.structured_content["error"]["type"] == "ApprovalPending"
    assert len(sandbox.outbox) == 1


@contextlib.asynccontextmanager
async def chat_webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A chat channel's incoming webhook on loopback: (its URL, the messages it received)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    received: list[dict[str, Any]] = []
    arrived = anyio.Event()

    async def hook(request: Request) -> JSONResponse:
        received.append(await request.json())
        arrived.set()
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/services/T000/B000/secret-token", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           log_config=None))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}/services/T000/B000/secret-token", received
        finally:
            server.should_exit = True


async def test_a_pending_approval_is_announced_to_the_webhook_and_its_url_never_logged(make_config, sandbox,
                                                                                        caplog):
    caplog.set_level(logging.INFO)
    async with chat_webhook() as (url, received):
        loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 0, "webhook_url": url,
                                                            "public_url": "https://zbmcp.example.com"})
        async with running(loaded, sandbox) as runtime, serving(runtime) as server, connect(server) as client:
            arguments = await email_arguments(client)
            await client.call_tool("email_invoice", arguments)
            await client.call_tool("email_invoice", arguments)  # a retry: the same approval, announced once
            [held] = await pending(runtime.inbox)
    [message] = received
    assert message["approval"] == held.id
    assert f"https://zbmcp.example.com/console/approvals/{held.id}" in message["text"]
    assert 'mailer wants to email invoice in organization' in message["text"]
    unreachable = make_config({"mailer": mailer()}, console={"hold_seconds": 0,
                                                             "webhook_url": "http://127.0.0.1:9/hooks/secret-token"})
    async with running(unreachable, sandbox) as runtime, serving(runtime) as server, \
            connect(server) as client:
        answer = await client.call_tool("email_invoice", await email_arguments(client, to="ar@acme.example"))
    # the call is still held and answered
    assert answer.structured_content["error"]["type"] == "ApprovalPending"
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("zbmcp"))
    # (the CLI keeps httpx2 quiet)
    assert "could not announce approval" in ours and "secret-token" not in ours
