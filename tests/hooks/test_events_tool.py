"""Webhook events through a real MCP client: an agent reads the events of the modules and organizations its
grant lets it read, and nothing else; a cursor gives only what is new; a forged or repeated delivery changes
nothing it sees."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from tests.conftest import ORG, OTHER_ORG, AuditCapture, agent, mcp_client, running
from zbmcp.calls.runtime import Runtime
from zbmcp.hooks import HookIntake

SECRET = "Hook0Secret0Events42"
TOOL = "list_webhook_events"


def hook(module: str, organization: str = ORG) -> dict[str, Any]:
    return {"connection": "main", "organization": organization, "module": module, "secret": SECRET}


HOOKS = {"payments": hook("customerpayments"), "invoices": hook("invoices"),
         "elsewhere": hook("customerpayments", OTHER_ORG)}
AGENTS = {
    "collector": agent(["customerpayments:read"]),                       # payments in ORG only
    "sales": agent(["invoices:*"]),                                      # invoices, no payments
    "boss": agent(["*:read"], organizations=[ORG, OTHER_ORG]),           # everything it can read
    "writer": agent(["create_customer_payment"]),                        # writes payments, reads none
}


async def deliver(runtime: Runtime, name: str, record: dict[str, Any], *, secret: str = SECRET,
                  event: str = "created") -> httpx2.Response:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=HookIntake(runtime)),
                                  base_url="http://zbmcp.test") as http:
        return await http.post(f"/hooks/{name}?event={event}", content=json.dumps(record),
                               headers={"content-type": "application/json", "X-Zbmcp-Token": secret})


async def events(runtime: Runtime, agent_name: str, **arguments: Any) -> dict[str, Any]:
    async with mcp_client(runtime, agent_name) as client:
        result = await client.call_tool(TOOL, arguments)
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


async def tools_of(runtime: Runtime, agent_name: str) -> set[str]:
    async with mcp_client(runtime, agent_name) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


async def test_each_agent_sees_only_the_events_its_grant_lets_it_read(make_config, sandbox):
    audit = AuditCapture()
    async with running(make_config(AGENTS, hooks=HOOKS), sandbox, audit=audit) as runtime:
        assert (await deliver(runtime, "payments", {"payment": {"payment_id": "p1"}})).status_code == 200
        assert (await deliver(runtime, "invoices", {"invoice": {"invoice_id": "i1"}})).status_code == 200
        assert (await deliver(runtime, "elsewhere", {"payment": {"payment_id": "p2"}})).status_code == 200

        collector = await events(runtime, "collector")
        assert [(e["module"], e["record_id"]) for e in collector["events"]] == [("customerpayments", "p1")]
        sales = await events(runtime, "sales")
        assert [e["record_id"] for e in sales["events"]] == ["i1"]
        boss = await events(runtime, "boss")
        assert [e["record_id"] for e in boss["events"]] == ["p1", "i1", "p2"]
        assert "payload" not in boss["events"][0]

        assert TOOL not in await tools_of(runtime, "writer")  # it may write payments, not read them
        async with mcp_client(runtime, "writer") as client:
            refused = await client.call_tool(TOOL, {})
        assert refused.is_error
    calls = [r for r in audit.records if r.get("tool") == TOOL]
    assert [(r["agent"], r["decision"]) for r in calls] == [
        ("collector", "allowed"), ("sales", "allowed"), ("boss", "allowed"), ("writer", "denied")]


async def test_a_cursor_gives_only_what_is_new(make_config, sandbox):
    async with running(make_config(AGENTS, hooks=HOOKS), sandbox) as runtime:
        empty = await events(runtime, "boss")
        assert empty["events"] == []
        await deliver(runtime, "payments", {"payment": {"payment_id": "p1", "amount": 10}})
        first = await events(runtime, "boss", cursor=empty["next_cursor"], payloads=True)
        assert [e["record_id"] for e in first["events"]] == ["p1"]
        assert first["events"][0]["payload"] == {"payment": {"payment_id": "p1", "amount": 10}}
        assert (await events(runtime, "boss", cursor=first["next_cursor"]))["events"] == []

        for i in range(3):
            await deliver(runtime, "invoices", {"invoice": {"invoice_id": f"i{i}"}})
        await deliver(runtime, "payments", {"payment": {"payment_id": "p2"}})
        page = await events(runtime, "boss", cursor=first["next_cursor"], limit=2)
        assert [e["record_id"] for e in page["events"]] == ["i0", "i1"] and page["more"]
        rest = await events(runtime, "boss", cursor=page["next_cursor"], limit=10)
        assert [e["record_id"] for e in rest["events"]] == ["i2", "p2"] and not rest["more"]
        only = await events(runtime, "boss", cursor=first["next_cursor"], module="customerpayments",
                            organization_id=ORG)
        assert [e["record_id"] for e in only["events"]] == ["p2"]


async def test_a_forged_or_repeated_delivery_changes_nothing_an_agent_sees(make_config, sandbox):
    async with running(make_config(AGENTS, hooks=HOOKS), sandbox) as runtime:
        paid = {"payment": {"payment_id": "p1"}}
        assert (await deliver(runtime, "payments", paid)).status_code == 200
        assert (await deliver(runtime, "payments", paid)).json() == {"status": "repeated"}
        assert (await deliver(runtime, "payments", {"payment": {"payment_id": "forged"}},
                              secret="NotTheSecret123")).status_code == 401
        seen = await events(runtime, "collector")
        assert [e["record_id"] for e in seen["events"]] == ["p1"]


@pytest.mark.parametrize("arguments, field", [
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"limit": 0}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"module": "invoices"}, "module"),        # collector may not read invoices
    ({"organization_id": OTHER_ORG}, "organization_id"),
    ({"since": "yesterday"}, "since"),
])
async def test_bad_arguments_are_refused_naming_the_field(make_config, sandbox, arguments, field):
    async with running(make_config(AGENTS, hooks=HOOKS), sandbox) as runtime, \
            mcp_client(runtime, "collector", raise_exceptions=False) as client:
        result = await client.call_tool(TOOL, arguments)
    assert result.is_error
    assert result.content[0].text.startswith(f"{field}") or field in result.content[0].text


async def test_agents_of_a_config_without_hooks_see_no_events_tool(make_config, sandbox):
    async with running(make_config(AGENTS), sandbox) as runtime:
        assert TOOL not in await tools_of(runtime, "boss")
