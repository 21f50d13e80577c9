"""Recipients as Zoho will use them (#21.1): before a call that emails through a field (`send=true`) is
decided, zbmcp reads from Zoho whom it will reach (the customer's contact persons), hands them to the rules as
`recipients`, and shows them in every approval. Replayed attack: an agent with contacts write access moved a
customer's email to an outside address, then `create_invoice send=true` mailed the invoice there.

Everything goes through the SDK's own MCP client against the sandbox.
"""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client, types

from tests.conftest import ORG, AuditCapture, agent, mcp_client, running
from zbmcp.calls import contact_guard
from zbmcp.sandbox import Fault

DECLINE = types.ElicitResult(action="decline")
OUTSIDE = "attacker@evil.example"
# docs/policy.md's rule, as documented: "applies to create_invoice with send=true too"
ACME_ONLY = {"deny": 'recipients.exists(r, !r.endsWith("@acme.example"))', "name": "acme-addresses-only",
             "tools": ["email_invoice"]}


def a_new_invoice(sandbox: Any, **extra: Any) -> dict[str, Any]:
    store = sandbox.store(ORG)
    return {"customer_id": store.contact_id("Acme Corporation"),
            "line_items": [{"item_id": store.item_id("Consulting"), "quantity": 1, "rate": 150}], **extra}


async def move_acme_email(client: Client, sandbox: Any, address: str = OUTSIDE) -> None:
    """The first half of the attack: Acme's only contact person now has the attacker's address."""
    moved = await client.call_tool("update_contact", {
        "contact_id": sandbox.store(ORG).contact_id("Acme Corporation"), "contact_name": "Acme Corporation",
        "contact_persons": [{"email": address}]})
    assert not moved.is_error, moved.content[0].text


def writes(sandbox: Any, before: int) -> list[str]:
    return [r.route for r in sandbox.api_requests[before:] if r.method != "GET"]


async def test_send_true_to_a_customer_whose_email_was_moved_outside_is_refused_by_the_documented_rule(
        make_config, sandbox):
    audit = AuditCapture()
    loaded = make_config({"bookkeeper": agent(["invoices:*", "contacts:*"], rules=[ACME_ONLY])})
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "bookkeeper") as client:
        await move_acme_email(client, sandbox)
        before = len(sandbox.api_requests)
        sent = await client.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
        plain = await client.call_tool("create_invoice", a_new_invoice(sandbox))  # no email: no recipients
    assert sent.is_error, sent.content[0].text
    assert sent.structured_content["error"]["rule"].startswith("rule acme-addresses-only")
    assert sandbox.outbox == [] and writes(sandbox, before) == ["POST /invoices"]  # the plain draft only
    assert not plain.is_error
    [read] = [r for r in audit.records if r["tool"] == "get_contact"]  # zbmcp's own read, on the record
    assert read["decision"] == "allowed" and read["sentence"].startswith("zbmcp's own read for call ")
    refused = next(r for r in audit.records if r["tool"] == "create_invoice")
    assert refused["decision"] == "denied" and refused["call_id"] in read["sentence"]


async def test_an_agent_that_cannot_read_contacts_is_still_decided_on_whom_zoho_will_email(make_config,
                                                                                             sandbox):
    """The resolution is zbmcp's own read: the agent's own tools include no contacts read, and another
    actor (here an agent that keeps the contacts) moved the address."""
    loaded = make_config({"bookkeeper": agent(["invoices:*"], rules=[ACME_ONLY]),
                          "crm": agent(["contacts:*"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as bookkeeper, \
            mcp_client(runtime, "crm") as crm:
        tools = {tool.name for tool in (await bookkeeper.list_tools()).tools}
        fine = await bookkeeper.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
        await move_acme_email(crm, sandbox)
        moved = await bookkeeper.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
    assert "get_contact" not in tools and "list_contacts" not in tools
    assert not fine.is_error, fine.content[0].text
    assert moved.is_error and "acme-addresses-only" in moved.content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["jane.smith@acme.example"]]


async def test_recipients_that_cannot_be_read_count_against_the_rules_that_test_them(make_config, sandbox):
    """Zoho could not say who the contact persons are: a rule about recipients cannot judge the call and
    refuses it; a rule that does not read them is unaffected; the question says who is unknown."""
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return DECLINE

    loaded = make_config({"guarded": agent(["invoices:*"], rules=[ACME_ONLY]),
                          "asking": agent(["invoices:*"], require_approval=["email_invoice"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "guarded") as guarded, \
            mcp_client(runtime, "asking", elicitation_callback=person) as asking:
        sandbox.faults.add(Fault(kind="error", status=503, route="GET /contacts/{contact_id}"))
        refused = await guarded.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
        drafted = await guarded.call_tool("create_invoice", a_new_invoice(sandbox))
        declined = await asking.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
    assert refused.is_error and "could not be evaluated" in refused.content[0].text
    assert ("it reads the recipients, and the call emails people zbmcp could not learn"
            in refused.content[0].text)
    assert not drafted.is_error  # nothing emailed: no recipients to learn
    assert declined.is_error and len(asked) == 1
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    assert f"Emails: unknown: the contact persons of {acme} could not be read from Zoho (" in asked[0]
    assert "zbmcp treats it as emailing anyone." in asked[0]
    assert f"Counterparty: {acme} (its name could not be read from Zoho: " in asked[0]
    assert sandbox.outbox == []


async def test_every_approval_of_send_true_shows_each_address_zoho_will_email(make_config, sandbox):
    asked: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return DECLINE

    bookkeeper = agent(["invoices:*", "contacts:*"], require_approval=["email_invoice"])
    loaded = make_config({"bookkeeper": bookkeeper})
    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, "bookkeeper", elicitation_callback=person) as client:
        await move_acme_email(client, sandbox)
        await client.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
    [question] = asked
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    assert (f"Emails: the contact persons Zoho has for Acme Corporation ({acme}), as read from Zoho for this "
            f"question: {OUTSIDE} (primary contact person).") in question
    assert "the addresses Zoho has for the customer" not in question
    assert sandbox.outbox == []


# -- the moments between reading whom Zoho emails and Zoho having the call -----------------------------------


async def test_an_address_cannot_be_moved_while_a_send_true_call_is_between_its_read_and_zoho(
        make_config, sandbox, monkeypatch):
    """The agent races: while its send=true call (checked against Acme's real address) is on its way to
    Zoho, it moves the address. The move waits for the call (here: gives up waiting), so the invoice goes
    where the rule saw it would."""
    monkeypatch.setattr(contact_guard, "WAIT_SECONDS", 0.2)  # the move gives up instead of waiting its turn
    loaded = make_config({"bookkeeper": agent(["invoices:*", "contacts:*"], rules=[ACME_ONLY])})
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold", route="POST /invoices", times=1, release=release, entered=entered))
    results: dict[str, Any] = {}
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        async def send() -> None:
            results["send"] = await client.call_tool("create_invoice", a_new_invoice(sandbox, send=True))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(send)
                await entered.wait()  # the invoice is inside Zoho, not yet handled
                results["move"] = await client.call_tool("update_contact", {
                    "contact_id": sandbox.store(ORG).contact_id("Acme Corporation"),
                    "contact_name": "Acme Corporation", "contact_persons": [{"email": OUTSIDE}]})
                release.set()
    assert not results["send"].is_error, results["send"].content[0].text
    assert results["move"].is_error and "nothing was sent to Zoho" in results["move"].content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["jane.smith@acme.example"]]
    assert "PUT /contacts/{contact_id}" not in [r.route for r in sandbox.api_requests]


async def test_an_address_moved_while_the_person_decides_is_not_emailed_on_their_yes(make_config, sandbox):
    """The person is shown Acme's real address; while they think, the agent moves it; their yes does not
    send the invoice to the new one."""
    asked: list[str] = []

    loaded = make_config({"bookkeeper": agent(["invoices:*"], require_approval=["email_invoice"]),
                          "crm": agent(["contacts:*"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "crm") as crm:
        async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
            asked.append(params.message)
            await move_acme_email(crm, sandbox)  # meanwhile
            return types.ElicitResult(action="accept", content={"approve": True})

        async with mcp_client(runtime, "bookkeeper", mode="legacy", elicitation_callback=person) as client:
            result = await client.call_tool("create_invoice", a_new_invoice(sandbox, send=True))
    assert "jane.smith@acme.example" in asked[0]
    assert result.is_error and result.structured_content["error"]["type"] == "ApprovalRefused"
    assert "changed before it could be sent (recipients" in result.content[0].text
    assert sandbox.outbox == [] and [r.route for r in sandbox.api_requests if r.method == "POST"] == []
