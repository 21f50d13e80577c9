"""Issue #10 through a real MCP client against the sandbox: only declared arguments reach Zoho, a field that
emails takes on the email tool's rules, argument rules ask or deny, the approval question shows every
recipient, and every audit record names the rule that decided and the config's revision."""

from __future__ import annotations

import hashlib
from io import StringIO
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import types

from tests.conftest import ORG, AuditCapture, agent, mcp_client, running
from zbmcp.cli.doctor import doctor
from zbmcp.cli.listing import print_tools
from zbmcp.calls.catalog import load_manifests

APPROVE = types.ElicitResult(action="accept", content={"approve": True})
DECLINE = types.ElicitResult(action="decline")

# The README's bookkeeper: drafts invoices; a person approves each email.
BOOKKEEPER = agent(["invoices:*", "contacts:read", "list_items"], exclude=["delete_invoice"],
                   require_approval=["email_invoice"])


def answering(answer: types.ElicitResult, asked: list[str]):
    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return answer

    return callback


def a_new_invoice(sandbox, **extra: Any) -> dict[str, Any]:
    view = sandbox.store(ORG)
    return {"customer_id": view.contact_id("Acme Corporation"),
            "line_items": [{"item_id": view.item_id("Consulting"), "quantity": 3, "rate": 150}], **extra}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_send_true_asks_the_bookkeepers_person_and_a_no_sends_nothing(make_config, sandbox, mode):
    audit = AuditCapture()
    loaded = make_config({"bookkeeper": BOOKKEEPER})
    asked: list[str] = []
    async with running(loaded, sandbox, audit=audit) as runtime:
        before = len(sandbox.api_requests)
        async with mcp_client(runtime, "bookkeeper", mode=mode,
                              elicitation_callback=answering(DECLINE, asked)) as c:
            declined = await c.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
    assert declined.is_error and "did not approve" in declined.content[0].text
    assert len(asked) == 1 and "create_invoice" in asked[0] and "Effect: send = true" in asked[0]
    assert "jane.smith@acme.example (Jane Smith" in asked[0]  # whom Zoho would email, read from Zoho
    # only zbmcp's own reads (the customer, the organization's currency) reached Zoho, no write
    assert {r.method for r in sandbox.api_requests[before:]} == {"GET"} and sandbox.outbox == []
    assert audit.records[-1]["decision"] == "denied"
    assert audit.records[-1]["rule"].startswith("require_approval: email_invoice (create_invoice with send")
    assert audit.records[-1]["config_revision"] == loaded.revision


async def test_send_true_approved_emails_the_invoice_and_marks_it_sent(make_config, sandbox):
    audit = AuditCapture()
    loaded = make_config({"bookkeeper": BOOKKEEPER})
    async with running(loaded, sandbox, audit=audit) as runtime:
        async with mcp_client(runtime, "bookkeeper", elicitation_callback=answering(APPROVE, [])) as client:
            created = await client.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
    assert not created.is_error, created.content[0].text
    invoice = created.structured_content["invoice"]
    assert invoice["status"] == "sent"
    [email] = sandbox.outbox
    assert email.document_id == invoice["invoice_id"] and email.to == ["jane.smith@acme.example"]
    record = audit.records[-1]
    assert record["decision"] == "allowed" and record["effects"] == ["emails"]
    assert record["rule"].endswith("(approved by a person)") and record["config_revision"] == loaded.revision


async def test_an_agent_that_may_not_email_is_refused_send_true(make_config, sandbox):
    audit = AuditCapture()
    loaded = make_config({"drafter": agent(["invoices:*", "create_estimate"], exclude=["email_invoice"])})
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "drafter") as client:
        before = len(sandbox.api_requests)
        refused = await client.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
        estimate = await client.call_tool("create_estimate", a_new_invoice(sandbox, send=True))
        draft = await client.call_tool("create_invoice", a_new_invoice(sandbox))
    assert refused.is_error and estimate.is_error and not draft.is_error
    assert "may not use email_invoice" in refused.content[0].text \
        and "Leave send out" in refused.content[0].text
    assert "may not use email_estimate" in estimate.content[0].text
    assert len(sandbox.api_requests) == before + 1 and sandbox.outbox == []  # only the draft reached Zoho
    assert refused.structured_content["error"]["rule"] == ("effects: send emails like email_invoice, which "
                                                          "the agent may not use")
    assert [r["decision"] for r in audit.records] == ["denied", "denied", "allowed"]


@pytest.mark.parametrize(
    ("arguments", "field", "closest"),
    [
        ({"place_of_supply": "TN"}, "place_of_supply", None),  # a real Zoho field that zbmcp does not offer
        ({"Send": True}, "Send", "send"),  # case tricks name another field
        ({"line_items": [{"item_id": "460000000000009", "rate": 1, "Send": True}]}, "line_items[0].Send",
         None),
        ({"line_items": [{"item_id": "460000000000009", "rate": 1, "time_entry_ids": ["1"]}]},
         "line_items[0].time_entry_ids", None),
        ({"organization_id ": ORG}, "organization_id ", "organization_id"),
        ({"send=true&x": 1}, "send=true&x", None),  # query smuggling in a name
        ({"batch_payments": [{"amount": 1}]}, "batch_payments", None),
    ],
)
async def test_an_undeclared_field_is_refused_naming_the_accepted_ones_and_nothing_is_sent(
        make_config, sandbox, arguments, field, closest):
    audit = AuditCapture()
    loaded = make_config({"all": agent(["*:*"])})
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "all") as client:
        before = len(sandbox.api_requests)
        result = await client.call_tool("create_invoice", {**a_new_invoice(sandbox), **arguments})
    assert result.is_error and len(sandbox.api_requests) == before
    error = result.structured_content["error"]
    assert error["type"] == "InvalidArguments" and error["fields"] == [field]
    takes = result.content[0].text.split("it takes: ", 1)[1]
    if closest:
        assert takes.startswith(closest + ", ")
    assert audit.records[-1]["decision"] == "denied" \
        and audit.records[-1]["config_revision"] == loaded.revision


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"send": "true"}, "send"),  # a string is not a boolean
        ({"send": 1}, "send"),
        ({"line_items": [{"item_id": "460000000000009", "rate": "1; DROP"}]}, "line_items[0].rate"),
        ({"line_items": [{"item_id": "460000000000009", "rate": 1, "discount": "10 %"}]},
         "line_items[0].discount"),
    ],
)
async def test_a_declared_field_with_the_wrong_shape_is_refused(make_config, sandbox, arguments, field):
    loaded = make_config({"all": agent(["*:*"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "all") as client:
        before = len(sandbox.api_requests)
        result = await client.call_tool("create_invoice", {**a_new_invoice(sandbox), **arguments})
    assert result.is_error and result.structured_content["error"]["fields"] == [field]
    assert len(sandbox.api_requests) == before and sandbox.outbox == []


async def test_list_filters_beyond_the_schema_reach_zoho_and_unknown_ones_do_not(make_config, sandbox):
    loaded = make_config({"reader": agent(["*:read"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "reader") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        found = await client.call_tool("list_invoices",
                                       {"invoice_number_startswith": "INV-00000", "per_page": 2})
        before = len(sandbox.api_requests)
        unknown = await client.call_tool("list_invoices", {"invoice_number_startwith": "INV"})
        smuggled = await client.call_tool("list_invoices", {"status": "draft&organization_id=20987654"})
    assert "invoice_number_startswith" not in tools["list_invoices"].input_schema["properties"]
    assert not found.is_error and len(found.structured_content["invoices"]) == 2
    assert sandbox.api_requests[before - 1].query["invoice_number_startswith"] == "INV-00000"
    assert unknown.is_error and "it takes: invoice_number_startswith" in unknown.content[0].text
    assert smuggled.is_error and smuggled.structured_content["error"]["fields"] == ["status"]
    assert len(sandbox.api_requests) == before


async def test_an_email_approval_with_a_5000_character_body_still_shows_every_recipient(make_config, sandbox):
    loaded = make_config({"bookkeeper": BOOKKEEPER})
    asked: list[str] = []
    recipients = {"to_mail_ids": ["ap@acme.example"],
                  "cc_mail_ids": ["cfo@outside.example", "x@elsewhere.example"]}
    async with running(loaded, sandbox) as runtime:
        invoice_id = sandbox.store(ORG).invoice_id("INV-000001")
        async with mcp_client(runtime, "bookkeeper",
                              elicitation_callback=answering(DECLINE, asked)) as client:
            # the long body comes first, as it did when an email to two outside addresses was approved unseen
            await client.call_tool("email_invoice",
                                   {"body": "Please pay. " + "x" * 5000, "invoice_id": invoice_id,
                                    "subject": "Invoice", **recipients})
    [question] = asked
    for address in ["ap@acme.example", "cfo@outside.example", "x@elsewhere.example"]:
        assert address in question
    assert invoice_id in question and "organization 10234695" in question
    assert len(question) <= 2000 and "more characters)" in question
    assert sandbox.outbox == []


RULES = agent(["bills:*", "customerpayments:*", "list_invoices"], rules=[
    {"approve": "amount > 5000.0", "name": "big-amounts",
     "tools": ["create_bill", "create_customer_payment"]},
    {"deny": "amount > 50000", "name": "partner-signs", "reason": "above 50,000 a partner signs"},
])


def a_bill(sandbox, rate: float) -> dict[str, Any]:
    view = sandbox.store(ORG)
    return {"vendor_id": view.contact_id("Office Supplies Co"), "bill_number": f"B-{rate}",
            "line_items": [{"account_id": view.account_id("Office Supplies"), "rate": rate, "quantity": 1}]}


async def test_an_amount_rule_asks_or_denies_and_the_audit_names_the_rule_and_the_revision(
        make_config, sandbox):
    audit = AuditCapture()
    loaded = make_config({"payables": RULES})
    asked: list[str] = []
    async with running(loaded, sandbox, audit=audit) as runtime:
        async with mcp_client(runtime, "payables", elicitation_callback=answering(APPROVE, asked)) as client:
            small = await client.call_tool("create_bill", a_bill(sandbox, 4000))
            big = await client.call_tool("create_bill", a_bill(sandbox, 6000))
            before = len(sandbox.api_requests)
            huge = await client.call_tool("create_bill", a_bill(sandbox, 60000))
    assert not small.is_error and not big.is_error, big.content[0].text
    assert huge.is_error and "above 50,000 a partner signs" in huge.content[0].text
    assert len(sandbox.api_requests) == before  # the denied bill never reached Zoho
    [question] = asked  # only the 6,000 bill was asked about
    assert "Amount: 6,000.00 GBP." in question and "rule big-amounts" in question
    assert "Counterparty: Office Supplies Co (" in question  # the vendor's name, read from Zoho
    small_record, big_record, huge_record = [r for r in audit.records if r["tool"] == "create_bill"]
    assert small_record["rule"] == "tools: bills:*"
    assert big_record["rule"] == "rule big-amounts (approve: amount > 5000.0) (approved by a person)"
    assert huge_record["decision"] == "denied"
    assert huge_record["rule"] == "rule partner-signs (deny: amount > 50000)"
    assert {r["config_revision"] for r in audit.records} == {loaded.revision}
    assert loaded.revision == hashlib.sha256(Path(loaded.source.file).read_bytes()).hexdigest()[:16]


async def test_a_declined_amount_approval_records_nothing(make_config, sandbox):
    loaded = make_config({"payables": RULES})
    async with running(loaded, sandbox) as runtime:
        bills_before = dict(sandbox.store(ORG).bills)
        async with mcp_client(runtime, "payables", elicitation_callback=answering(DECLINE, [])) as client:
            result = await client.call_tool("create_bill", a_bill(sandbox, 6000))
    assert result.is_error and result.structured_content["error"]["rule"].startswith("rule big-amounts")
    assert sandbox.store(ORG).bills == bills_before


async def test_an_agent_with_no_tools_is_said_so_by_the_tools_command_and_doctor(make_config, sandbox):
    loaded = make_config({"later": agent([]), "reporting": agent(["*:read"])})
    out = StringIO()
    # the command reads granted scopes from the State with an event loop of its own: run it as the CLI would
    await anyio.to_thread.run_sync(lambda: print_tools(loaded, "later", as_json=False, out=out))
    assert f"sees 0 of {len(load_manifests())} tools" in out.getvalue() \
        and "empty `tools` list" in out.getvalue()
    async with running(loaded, sandbox) as runtime:
        healthy, lines = await doctor(loaded, runtime)
    assert healthy  # allowed: an agent kept for later
    assert any(line.startswith("WARN Agent 'later' has an empty `tools` list") for line in lines)
    assert f"(revision {loaded.revision})" in lines[0]
