"""Issue #4 through a real MCP client: what each agent sees and may do, approvals, dry run, the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import types

from tests.conftest import ORG, OTHER_ORG, AuditCapture, agent, mcp_client, running
from zbmcp.audit.log import read_calls
from zbmcp.audit.query import parse_since
from zbmcp.cli.audit_view import format_table, select_records

APPROVE = types.ElicitResult(action="accept", content={"approve": True})
DECLINE = types.ElicitResult(action="decline")


def answering(answer: types.ElicitResult, asked: list[str]):
    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return answer

    return callback


async def listed(runtime, name: str) -> set[str]:
    async with mcp_client(runtime, name) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


async def first_invoice(runtime) -> str:
    async with mcp_client(runtime, "boss") as client:
        rows = (await client.call_tool("list_invoices", {"organization_id": ORG, "status": "draft"})
                ).structured_content["invoices"]
    return rows[0]["invoice_id"]


@pytest.fixture
def two_agents(make_config):
    return make_config({
        "reporting": agent(["*:read"]),
        "bookkeeper": agent(["invoices:*", "contacts:read", "list_items"], exclude=["delete_invoice"],
                            require_approval=["email_invoice"]),
        "nobody": agent([]),
        "boss": agent(["*:*"], [ORG, OTHER_ORG]),
    })


async def test_each_agent_sees_exactly_what_its_rules_allow(two_agents, sandbox):
    async with running(two_agents, sandbox) as runtime:
        reporting = await listed(runtime, "reporting")
        bookkeeper = await listed(runtime, "bookkeeper")
        nobody = await listed(runtime, "nobody")
    # `*:read` without `catalog: whole`: the hand-written reads, none generated from Zoho's OpenAPI files
    assert reporting == {s.name for s in runtime.specs.values() if s.access == "read" and not s.generated}
    assert bookkeeper == ({"list_invoices", "get_invoice", "create_invoice", "update_invoice",
                           "mark_invoice_sent", "mark_invoice_void", "mark_invoice_draft", "email_invoice",
                           "list_contacts", "get_contact", "list_items"})
    assert nobody == set()


async def test_read_only_beats_every_selector(make_config, sandbox):
    loaded = make_config({"ro": agent(["*:*"], read_only=True)})
    async with running(loaded, sandbox) as runtime:
        assert all(runtime.specs[name].access == "read" for name in await listed(runtime, "ro"))


async def test_hidden_tools_and_foreign_organizations_are_refused_before_any_request(two_agents, sandbox):
    audit = AuditCapture()
    async with running(two_agents, sandbox, audit=audit) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:
        excluded = await client.call_tool("delete_invoice", {"invoice_id": "460000000000001"})
        unselected = await client.call_tool("create_contact", {"contact_name": "Evil"})
        other_case = await client.call_tool("LIST_INVOICES", {})
        elsewhere = await client.call_tool("list_invoices", {"organization_id": OTHER_ORG})
    assert sandbox.api_requests == []
    assert all(r.is_error for r in (excluded, unselected, other_case, elsewhere))
    assert "excluded by `exclude: delete_invoice`" in excluded.content[0].text
    assert "not selected by the agent's `tools`" in unselected.content[0].text
    assert "case-sensitive" in other_case.content[0].text
    assert f"may not touch organization {OTHER_ORG}" in elsewhere.content[0].text
    assert [r["rule"] for r in audit.records] == [
        "excluded by `exclude: delete_invoice`",
        "not selected by the agent's `tools` (everything is denied unless selected)",
        "unknown tool",
        "organizations",
    ]
    assert {r["decision"] for r in audit.records} == {"denied"}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_an_approved_email_is_sent_after_the_person_says_yes(two_agents, sandbox, mode):
    asked: list[str] = []
    async with running(two_agents, sandbox) as runtime:
        invoice_id = await first_invoice(runtime)
        async with mcp_client(runtime, "bookkeeper", mode=mode,
                              elicitation_callback=answering(APPROVE, asked)) as c:
            result = await c.call_tool("email_invoice",
                                       {"invoice_id": invoice_id, "to_mail_ids": ["a@acme.example"]})
    assert not result.is_error, result.content[0].text
    assert len(asked) == 1 and "bookkeeper" in asked[0] and invoice_id in asked[0]
    assert len(sandbox.outbox) == 1


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_declined_approval_sends_nothing(two_agents, sandbox, mode):
    asked: list[str] = []
    async with running(two_agents, sandbox) as runtime:
        invoice_id = await first_invoice(runtime)
        before = len(sandbox.api_requests)
        async with mcp_client(runtime, "bookkeeper", mode=mode,
                              elicitation_callback=answering(DECLINE, asked)) as c:
            result = await c.call_tool("email_invoice",
                                       {"invoice_id": invoice_id, "to_mail_ids": ["a@acme.example"]})
    assert result.is_error and "did not approve" in result.content[0].text
    # only zbmcp's own reads of the invoice, for the question (once per call: twice for a 2026-07-28
    # client, which calls again with the answer), reached Zoho
    assert {r.route for r in sandbox.api_requests[before:]} == {"GET /invoices/{invoice_id}"}
    assert len(asked) == 1 and sandbox.outbox == []


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_without_a_client_that_can_ask_approval_fails_closed(two_agents, sandbox, mode):
    async with running(two_agents, sandbox) as runtime:
        invoice_id = await first_invoice(runtime)
        before = len(sandbox.api_requests)
        async with mcp_client(runtime, "bookkeeper", mode=mode) as client:
            # The model cannot approve itself by passing an argument: it is refused as unknown.
            forged = await client.call_tool("email_invoice", {
                "invoice_id": invoice_id, "to_mail_ids": ["a@acme.example"], "approve": True})
            plain = await client.call_tool("email_invoice",
                                           {"invoice_id": invoice_id, "to_mail_ids": ["a@acme.example"]})
    assert forged.is_error and plain.is_error
    assert "cannot ask" in plain.content[0].text
    assert len(sandbox.api_requests) == before and sandbox.outbox == []


async def test_a_forged_or_reused_approval_does_not_approve_another_request(two_agents, sandbox):
    async with running(two_agents, sandbox) as runtime:
        invoice_id = await first_invoice(runtime)
        asked: list[str] = []
        async with mcp_client(runtime, "bookkeeper", mode="auto",
                              elicitation_callback=answering(APPROVE, asked)) as c:
            arguments = {"invoice_id": invoice_id, "to_mail_ids": ["a@acme.example"]}
            first = await c.session.call_tool("email_invoice", arguments, allow_input_required=True)
            assert isinstance(first, types.InputRequiredResult)
            answer = {"zbmcp-approval": APPROVE}
            forged = await c.session.call_tool("email_invoice", arguments, input_responses=answer,
                                               request_state="forged", allow_input_required=True)
            switched = await c.session.call_tool("email_invoice",
                                                 {**arguments, "to_mail_ids": ["x@evil.example"]},
                                                 input_responses=answer, request_state=first.request_state,
                                                 allow_input_required=True)
    # Neither was taken as approval: zbmcp asked again, and nothing was emailed.
    assert isinstance(forged, types.InputRequiredResult) and isinstance(switched, types.InputRequiredResult)
    assert sandbox.outbox == []


async def test_dry_run_answers_with_the_exact_request_and_sends_nothing(make_config, sandbox):
    audit = AuditCapture()
    loaded = make_config({"rehearsal": agent(["invoices:*"], dry_run=True)})
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "rehearsal") as client:
        read = await client.call_tool("list_invoices", {})
        reads = len(sandbox.api_requests)
        lines = [{"item_id": "460000000000009", "quantity": 3}]
        planned = await client.call_tool("create_invoice",
                                         {"customer_id": "460000000000001", "line_items": lines})
    assert not read.is_error and reads == 1  # reads still run
    assert len(sandbox.api_requests) == reads  # the write never reached the sandbox
    assert planned.structured_content == {"dry_run": True, "request": {
        "method": "POST", "url": "http://sandbox.test/books/v3/invoices", "query": {"organization_id": ORG},
        "body": {"customer_id": "460000000000001", "line_items": lines}}}
    assert "Zoho-oauthtoken" not in planned.content[0].text
    assert audit.records[-1]["decision"] == "dry_run"


async def test_every_call_leaves_exactly_one_audit_record_in_plain_english(make_config, sandbox):
    audit = AuditCapture()
    loaded = make_config({"bookkeeper": agent(["invoices:*", "list_items"], exclude=["delete_invoice"])},
                         audit={"argument_values": ["invoice_id"]})
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "bookkeeper") as client:
        items = (await client.call_tool("list_items", {})).structured_content["items"]
        await client.call_tool("get_invoice", {"invoice_id": "1"})  # Zoho says 1002
        await client.call_tool("delete_invoice", {"invoice_id": "1"})  # denied by exclude
        await client.call_tool("get_invoice", {"invoice_id": "x/y"})  # invalid arguments
    records = audit.records
    assert [r["decision"] for r in records] == ["allowed", "failed", "denied", "denied"]
    assert records[0]["sentence"] == (
        f'agent "bookkeeper" listed {len(items)} items for organization {ORG} (eu): allowed, 200 in '
        f'{records[0]["duration_ms"]} ms')
    assert records[1]["http_status"] == 404 and records[1]["zoho_code"] == 1002
    assert records[1]["argument_values"] == {"invoice_id": "1"}  # the config asked for this one
    assert records[0]["argument_values"] == {} and records[0]["arguments"] == []
    for record in records:
        assert {"time", "agent", "tool", "scope", "access", "organization", "region", "decision", "rule",
                "http_status", "zoho_code", "duration_ms", "arguments", "sentence"} <= set(record)
        assert record["agent"] == "bookkeeper" and record["region"] == "eu"


async def test_no_secret_reaches_the_audit_log_or_stderr(make_config, sandbox, tmp_path, capfd):
    path = tmp_path / "audit.jsonl"
    loaded = make_config({"bookkeeper": agent(["*:*"])},
                         audit={"path": str(path), "argument_values": ["invoice_id"]})
    async with running(loaded, sandbox, audit=None) as runtime:
        runtime.audit.path = path
        async with mcp_client(runtime, "bookkeeper") as client:
            await client.call_tool("list_invoices", {})
            sandbox.expire_access_tokens()
            await client.call_tool("list_contacts", {})
            await client.call_tool("get_invoice", {"invoice_id": "../etc"})
        access_tokens = list(sandbox.tokens._access)
    captured = capfd.readouterr()
    text = path.read_text() + captured.err + captured.out
    secrets = [sandbox.credentials.client_secret, sandbox.credentials.refresh_token, *access_tokens]
    assert len(access_tokens) >= 2
    # two reads sent: intent + outcome
    assert len(read_calls(path)) == 3 and path.read_text().count("\n") == 5
    for secret in secrets:
        assert secret not in text


def test_the_audit_command_filters_by_agent_and_time(tmp_path):
    records = [
        {"time": "2026-11-25T09:00:00.000Z", "agent": "a", "tool": "list_items", "decision": "allowed",
         "sentence": "agent \"a\" listed 4 items"},
        {"time": "2026-11-25T11:00:00.000Z", "agent": "b", "tool": "create_invoice", "decision": "denied",
         "sentence": "agent \"b\" tried to create an invoice"},
    ]
    since = parse_since("2026-11-25T10:00")
    assert [r["agent"] for r in select_records(records, None, since)] == ["b"]
    assert [r["agent"] for r in select_records(records, "a", None)] == ["a"]
    table = format_table(records)
    assert "listed 4 items" in table and "tried to create an invoice" in table
