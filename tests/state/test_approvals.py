"""One approval, one action: a ticket a person answered is honoured once across replicas and restarts (with or
without http.approval_secret), on both State backends."""

from __future__ import annotations

from typing import Any

from mcp import types

from tests.conftest import agent, mcp_client, running
from tests.redis_server import RedisServer
from zbmcp.state import State
from zbmcp.state.local import LocalState
from zbmcp.state.redis import RedisState

APPROVE = types.ElicitResult(action="accept", content={"approve": True})


def reopened(state: State) -> State:
    """The same State as a restarted process opens it."""
    if isinstance(state, LocalState):
        return LocalState(state.root)
    assert isinstance(state, RedisState)
    return RedisState(state.url, prefix=state.prefix)


async def approve_me(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return APPROVE


async def asked(runtime: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Emailing a draft invoice, which a person must approve: its arguments, and the retry saying yes."""
    async with mcp_client(runtime, "bookkeeper") as client:
        invoices = (await client.call_tool("list_invoices", {"status": "draft"})).structured_content
    arguments = {"invoice_id": invoices["invoices"][0]["invoice_id"], "to_mail_ids": ["ap@acme.example"]}
    async with mcp_client(runtime, "bookkeeper", mode="auto", elicitation_callback=approve_me) as client:
        question = await client.session.call_tool("email_invoice", arguments, allow_input_required=True)
    assert isinstance(question, types.InputRequiredResult)
    return arguments, {"input_responses": {"zbmcp-approval": APPROVE},
                       "request_state": question.request_state, "allow_input_required": True}


async def test_an_answered_ticket_is_honoured_once_across_replicas_and_restarts(
        state: State, make_config, sandbox):
    loaded = make_config({"bookkeeper": agent(["invoices:*"], require_approval=["email_invoice"])},
                         # no approval_secret: the key is shared through the State
                         state={"backend": "local"})
    async with running(loaded, sandbox, state=state) as asking, \
            running(loaded, sandbox, state=state) as answering:
        arguments, retry = await asked(asking)
        async with mcp_client(answering, "bookkeeper", mode="auto",
                              elicitation_callback=approve_me) as client:
            sent = await client.session.call_tool("email_invoice", arguments, **retry)  # another replica
        async with mcp_client(asking, "bookkeeper", mode="auto", elicitation_callback=approve_me) as client:
            replayed = await client.session.call_tool("email_invoice", arguments, **retry)
    restarted = reopened(state)
    try:
        async with running(loaded, sandbox, state=restarted) as runtime:
            async with mcp_client(runtime, "bookkeeper", mode="auto",
                                  elicitation_callback=approve_me) as client:
                after_restart = await client.session.call_tool("email_invoice", arguments, **retry)
    finally:
        await restarted.aclose()
    assert isinstance(sent, types.CallToolResult) and not sent.is_error, sent
    # not sent again: the same call within minutes is answered with the first one's answer (exactly-once)
    for again in (replayed, after_restart):
        assert isinstance(again, types.CallToolResult) and again.structured_content
        assert again.structured_content["replayed"] and again.structured_content["summary"] \
            == sent.structured_content["summary"]
    assert len(sandbox.outbox) == 1


async def test_a_used_ticket_stays_used_after_redis_restarts_without_persistence(
        make_config, sandbox, own_redis: RedisServer):
    loaded = make_config({"bookkeeper": agent(["invoices:*"], require_approval=["email_invoice"])},
                         state={"backend": "redis", "url": own_redis.url, "encryption_key": "k" * 40})
    async with running(loaded, sandbox) as runtime:
        arguments, retry = await asked(runtime)
        async with mcp_client(runtime, "bookkeeper", mode="auto", elicitation_callback=approve_me) as client:
            sent = await client.session.call_tool("email_invoice", arguments, **retry)
            own_redis.stop()  # it kept nothing on disk: every record, the used ticket's too, is gone
            own_redis.start()
            replayed = await client.session.call_tool("email_invoice", arguments, **retry)
    assert isinstance(sent, types.CallToolResult) and not sent.is_error, sent
    assert isinstance(replayed, types.InputRequiredResult)  # asked again, not sent again
    assert len(sandbox.outbox) == 1
