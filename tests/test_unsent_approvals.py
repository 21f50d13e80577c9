"""A call that never reached Zoho: it says so on the record, and the person's approval it used is not spent.

Only a failure proven to come before any byte of the request was sent (here: Zoho's port refuses connections)
gives the approval back. Anything that may have reached Zoho (a reset or a timeout after sending, a 5xx)
spends it: a second send could double the write. Racing retries send at most once. An identical repeat is the
same call (docs/exactly-once.md): a second email on purpose has an idempotency_key of its own.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import anyio
import pytest
from mcp import Client, types

from tests.conftest import ORG, agent, environ, mcp_client, running, serving
from tests.test_approval_inbox import connect, email_arguments, emails_sent, mailer, pending
from tests.unreachable import SwitchableZoho
from zbmcp.sandbox import Fault

ACCEPT = types.ElicitResult(action="accept", content={"approve": True})
DECLINE = types.ElicitResult(action="decline")
EMAIL_ROUTE = "POST /invoices/{invoice_id}/email"
KEY, SECOND = "idempotency_key", "a second email, on purpose"  # an identical repeat is the same call


def error_type(result: types.CallToolResult) -> str:
    assert result.is_error and result.structured_content, result.content[0].text
    return str(result.structured_content["error"]["type"])


async def together(*calls: Any) -> list[types.CallToolResult]:
    """Start the calls at once; their answers, in the order given."""
    results: list[Any] = [None] * len(calls)

    async def one(index: int) -> None:
        results[index] = await calls[index]

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for index in range(len(calls)):
                tg.start_soon(one, index)
    return results


# -- the record ----------------------------------------------------------------------------------------------


async def test_a_write_that_could_not_connect_is_recorded_as_nothing_sent(
        make_config, sandbox, home, tmp_path):
    """The intent record said "is sending"; the outcome says plainly that nothing was,
    here and in `zbmcp audit`."""
    log = tmp_path / "audit.jsonl"
    async with SwitchableZoho(sandbox) as zoho:
        loaded = make_config({"bookkeeper": agent(["invoices:*"])}, base_url=zoho.base_url,
                             audit={"path": str(log)})
        async with running(loaded, sandbox, transport=None, audit=None) as runtime, \
                mcp_client(runtime, "bookkeeper") as client:
            arguments = {"customer_id": sandbox.store(ORG).contact_id("Acme Corporation"),
                         "line_items": [{"item_id": sandbox.store(ORG).item_id("Consulting"), "quantity": 1}]}
            await client.call_tool("list_invoices", {})  # the token, while Zoho is there
            await zoho.down()
            failed = await client.call_tool("create_invoice", arguments)
    assert error_type(failed) == "ZohoUnreachable" and "Nothing was sent" in failed.content[0].text
    assert failed.structured_content["error"]["rule"] == "could not connect to Zoho; nothing sent"
    shown = subprocess.run([sys.executable, "-m", "zbmcp", "audit", "--config", str(tmp_path / "zbmcp.yaml")],
                           capture_output=True, text=True, timeout=60,
                           env={**environ(sandbox, home), "PATH": "/usr/bin:/bin"})
    [row] = [line for line in shown.stdout.splitlines() if "create_invoice" in line]
    assert " failed " in row and "tried to create an invoice" in row
    assert "failed (could not connect to Zoho; nothing sent)" in row, row
    assert "sending" not in row


# -- approval: console ---------------------------------------------------------------------------------------


async def test_an_operators_approval_survives_a_call_that_could_not_connect_and_is_spent_once_sent(
        make_config, sandbox):
    async with SwitchableZoho(sandbox) as zoho:
        loaded = make_config({"mailer": mailer()}, base_url=zoho.base_url, console={"hold_seconds": 0})
        async with running(loaded, sandbox, transport=None) as runtime, serving(runtime) as server, \
                connect(server) as client:
            arguments = await email_arguments(client)
            await client.call_tool("email_invoice", arguments)
            [held] = await pending(runtime.inbox)
            await runtime.inbox.decide(held.id, held.binding, "olivia", approve=True)
            await zoho.down()
            unsent = await client.call_tool("email_invoice", arguments)
            await zoho.up()
            done = await client.call_tool("email_invoice", arguments)
            again = await client.call_tool("email_invoice", {**arguments, KEY: SECOND})
            [after] = [h for h in await runtime.inbox.all() if h.id == held.id]
    assert error_type(unsent) == "ZohoUnreachable"
    assert f"Approval {held.id} still holds for this exact call" in unsent.content[0].text
    assert not done.is_error, done.content[0].text  # the retry, without asking again
    # spent by the send: a second email on purpose is asked afresh
    assert error_type(again) == "ApprovalPending" and held.id not in again.content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]
    assert after.status == "used"
    calls = [r for r in runtime.audit.records if r.get("tool") == "email_invoice" and "call_id" in r]
    assert [r["decision"] for r in calls] == ["pending", "failed", "allowed", "pending"]
    assert calls[1]["rule"].startswith("could not connect to Zoho; nothing sent; approval "
                                       f"{held.id} still holds")
    assert calls[2]["rule"].startswith(f"approved by operator olivia in the console (approval {held.id})")


async def test_racing_retries_of_a_kept_approval_send_once(make_config, sandbox):
    async with SwitchableZoho(sandbox) as zoho:
        loaded = make_config({"mailer": mailer()}, base_url=zoho.base_url, console={"hold_seconds": 0})
        async with running(loaded, sandbox, transport=None) as runtime, serving(runtime) as server, \
                connect(server) as first, connect(server) as second:
            arguments = await email_arguments(first)
            await first.call_tool("email_invoice", arguments)
            [held] = await pending(runtime.inbox)
            await runtime.inbox.decide(held.id, held.binding, "olivia", approve=True)
            await zoho.down()
            unsent = await together(first.call_tool("email_invoice", arguments),
                                    second.call_tool("email_invoice", arguments))
            await zoho.up()
            # Both retries at once, the first one held inside Zoho while the second one arrives.
            release, entered = anyio.Event(), anyio.Event()
            sandbox.faults.add(Fault(kind="hold", route=EMAIL_ROUTE, times=1, release=release,
                                     entered=entered))
            results: list[types.CallToolResult] = []
            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    async def call(client: Client) -> None:
                        results.append(await client.call_tool("email_invoice", arguments))

                    tg.start_soon(call, first)
                    await entered.wait()
                    tg.start_soon(call, second)  # the same call: it waits for the first one's answer
                    await anyio.sleep(0.2)
                    release.set()
    assert {error_type(result) for result in unsent} <= {"ZohoUnreachable", "ApprovalPending"}
    assert "ZohoUnreachable" in {error_type(result) for result in unsent}
    assert [result.is_error for result in results] == [False, False]
    [sent] = [result for result in results if "replayed" not in result.structured_content]
    [replayed] = [result for result in results if "replayed" in result.structured_content]
    assert sent.structured_content["summary"].startswith("Emailed")
    assert replayed.structured_content["summary"] == sent.structured_content["summary"]
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]


@pytest.mark.parametrize("fault", [
    {"kind": "drop_after"},  # reset after Zoho acted
    {"kind": "drop_before"},  # reset after sending: whether Zoho acted is unknown
    {"kind": "error", "status": 500},
    {"kind": "error", "status": 502},
    {"kind": "latency", "delay_seconds": 2.0},  # no answer within the timeout
], ids=["reset-after-acting", "reset-after-sending", "500", "502", "timeout"])
async def test_an_approval_is_spent_by_anything_that_may_have_reached_zoho(make_config, sandbox, fault):
    loaded = make_config({"mailer": mailer()}, console={"hold_seconds": 0},
                         connection={"timeout_seconds": 0.5})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, connect(server) as client:
        arguments = await email_arguments(client)
        await client.call_tool("email_invoice", arguments)
        [held] = await pending(runtime.inbox)
        await runtime.inbox.decide(held.id, held.binding, "olivia", approve=True)
        sandbox.faults.add(Fault(route=EMAIL_ROUTE, times=1, **fault))
        unknown = await client.call_tool("email_invoice", arguments)
        repeat = await client.call_tool("email_invoice", arguments)  # the same call: never sent again
        again = await client.call_tool("email_invoice", {**arguments, KEY: SECOND})
    assert error_type(unknown) == "OutcomeUnknown" and "still holds" not in unknown.content[0].text
    assert error_type(repeat) == "Repeat" and "Nothing was sent again" in repeat.content[0].text
    assert error_type(again) == "ApprovalPending" and held.id not in again.content[0].text
    assert emails_sent(sandbox) <= 1 and len(sandbox.outbox) == (1 if fault["kind"] == "drop_after" else 0)


# -- approval: client (the person answers through the agent's own MCP client) --------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_persons_approval_survives_a_call_that_could_not_connect(make_config, sandbox, mode):
    asked: list[str] = []
    answer = [ACCEPT]

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return answer[0]

    async with SwitchableZoho(sandbox) as zoho:
        loaded = make_config({"desk": agent(["invoices:*"], require_approval=["email_invoice"])},
                             base_url=zoho.base_url)
        async with running(loaded, sandbox, transport=None) as runtime, \
                mcp_client(runtime, "desk", mode=mode, elicitation_callback=person) as first, \
                mcp_client(runtime, "desk", mode=mode, elicitation_callback=person) as second:
            arguments = await email_arguments(first)
            await zoho.down()
            unsent = await first.call_tool("email_invoice", arguments)
            await zoho.up()
            answer[0] = DECLINE  # from now on the person says no: only the kept approval can send
            retries = await together(first.call_tool("email_invoice", arguments),
                                     second.call_tool("email_invoice", arguments))
            after = await first.call_tool("email_invoice", {**arguments, KEY: SECOND})
    assert error_type(unsent) == "ZohoUnreachable"
    assert "The person's approval still holds for this exact call" in unsent.content[0].text
    # one went through, once; the other is the same call (exactly-once) and gets its answer
    assert [r.is_error for r in retries] == [False, False]
    assert sum("replayed" in r.structured_content for r in retries) == 1
    assert error_type(after) == "ApprovalRefused"  # spent by the send: a second email is asked, and declined
    assert len(asked) == 2
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]


async def test_a_kept_approval_lets_only_the_same_call_through(make_config, sandbox):
    """Kept for one exact call: a changed one (another recipient) or another agent is asked afresh."""
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return DECLINE if len(asked) > 1 else ACCEPT

    async with SwitchableZoho(sandbox) as zoho:
        desk = agent(["invoices:*"], require_approval=["email_invoice"])
        loaded = make_config({"desk": desk, "other": desk}, base_url=zoho.base_url)
        async with running(loaded, sandbox, transport=None) as runtime, \
                mcp_client(runtime, "desk", mode="legacy", elicitation_callback=person) as client, \
                mcp_client(runtime, "other", mode="legacy", elicitation_callback=person) as other:
            arguments = await email_arguments(client)
            await zoho.down()
            unsent = await client.call_tool("email_invoice", arguments)
            await zoho.up()
            changed = await client.call_tool("email_invoice",
                                             {**arguments, "to_mail_ids": ["x@evil.example"]})
            elsewhere = await other.call_tool("email_invoice", arguments)
            kept = await client.call_tool("email_invoice", arguments)
    assert error_type(unsent) == "ZohoUnreachable"
    assert error_type(changed) == "ApprovalRefused" and error_type(elsewhere) == "ApprovalRefused"
    assert not kept.is_error, kept.content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]


async def test_an_approval_held_back_by_zbmcps_own_limits_holds_after_a_restart(make_config, sandbox):
    """The daily budget refuses the approved call before it goes out: the approval is kept in
    the shared state, so once the budget allows it (here: raised, and zbmcp restarted) the same
    call goes through unasked."""
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return ACCEPT if len(asked) == 1 else DECLINE

    desk = {"desk": agent(["invoices:*"], require_approval=["email_invoice"])}
    tight = make_config(desk, connection={"limits": {"daily_budget": 1}})
    async with running(tight, sandbox) as runtime, \
            mcp_client(runtime, "desk", mode="legacy", elicitation_callback=person) as client:
        arguments = await email_arguments(client)  # spends the day's one call
        refused = await client.call_tool("email_invoice", arguments)
    roomy = make_config(desk, connection={"limits": {"daily_budget": 100}})
    async with running(roomy, sandbox) as runtime, \
            mcp_client(runtime, "desk", mode="legacy", elicitation_callback=person) as client:
        done = await client.call_tool("email_invoice", arguments)
        again = await client.call_tool("email_invoice", {**arguments, KEY: SECOND})
    assert error_type(refused) == "RateLimited" and "still holds" in refused.content[0].text
    assert not done.is_error, done.content[0].text
    assert error_type(again) == "ApprovalRefused" and len(asked) == 2
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]
