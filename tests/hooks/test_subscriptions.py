"""Webhook events as MCP resources, through real MCP clients: a subscribed client is told when a delivery
comes in (resources/subscribe up to 2025-11-25, subscriptions/listen at 2026-07-28), only for what its grant
lets it read; and across two replicas on one Redis, a delivery to one reaches a client of the other."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from tests.conftest import ORG, OTHER_ORG, agent, mcp_client, running, serving
from tests.hooks.test_events_tool import SECRET, deliver, hook
from zbmcp.calls.event_watch import resource_uri
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.state import new_id
from zbmcp.state.redis import RedisState

PAYMENTS = resource_uri(ORG, "customerpayments")
INVOICES = resource_uri(ORG, "invoices")
HOOKS = {"payments": hook("customerpayments"), "invoices": hook("invoices")}
KEY = new_api_key()[0]
AGENTS = {
    "collector": agent(["customerpayments:read"], api_keys=[key_hash(KEY)]),
    "sales": agent(["invoices:read"]),
    "elsewhere": agent(["*:read"], organizations=[OTHER_ORG]),
}
WAIT = 10  # bounds every wait; the watch looks every 0.2 s (bench/ measures the delay)


class Updates:
    """The resources/updated notifications a legacy client received."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self.arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.uris.append(str(message.params.uri))
            self.arrived.set()


async def test_resources_list_and_read_within_the_grant(make_config, sandbox):
    async with running(make_config(AGENTS, hooks=HOOKS), sandbox) as runtime:
        await deliver(runtime, "payments", {"payment": {"payment_id": "p1", "amount": 5}})
        async with mcp_client(runtime, "collector") as client:
            listed = [str(r.uri) for r in (await client.list_resources()).resources]
            read = await client.read_resource(PAYMENTS)
        assert listed == [PAYMENTS]
        body = json.loads(read.contents[0].text)  # type: ignore[union-attr]
        assert [(e["record_id"], e["payload"]) for e in body["events"]] == [
            ("p1", {"payment": {"payment_id": "p1", "amount": 5}})]
        for name, uri in (("collector", INVOICES), ("sales", PAYMENTS), ("elsewhere", PAYMENTS),
                          ("collector", "zbmcp://events/../../etc")):
            async with mcp_client(runtime, name) as client:
                with pytest.raises(MCPError, match="not an events resource this agent may read"):
                    await client.read_resource(uri)
        async with mcp_client(runtime, "elsewhere") as client:
            assert (await client.list_resources()).resources == []


async def test_a_legacy_client_is_told_of_a_new_event(make_config, sandbox):
    updates = Updates()
    async with running(make_config(AGENTS, hooks=HOOKS), sandbox) as runtime, \
            mcp_client(runtime, "collector", mode="legacy", message_handler=updates) as client:
        assert client.server_capabilities.resources and client.server_capabilities.resources.subscribe
        with pytest.warns(MCPDeprecationWarning):  # removed at 2026-07-28; this client speaks 2025-11-25
            await client.session.subscribe_resource(PAYMENTS)
        await deliver(runtime, "invoices", {"invoice": {"invoice_id": "i1"}})  # not subscribed to
        await deliver(runtime, "payments", {"payment": {"payment_id": "p1"}})
        with anyio.fail_after(WAIT):
            await updates.arrived.wait()
        assert updates.uris == [PAYMENTS]
        with pytest.raises(MCPError, match="not an events resource"), pytest.warns(MCPDeprecationWarning):
            await client.session.subscribe_resource(INVOICES)  # collector may not read invoices


async def test_a_2026_client_listens_and_hears_only_what_it_may_read(make_config, sandbox):
    async with running(make_config(AGENTS, hooks=HOOKS), sandbox) as runtime:
        async with mcp_client(runtime, "sales") as client:
            with pytest.raises(MCPError, match="not an events resource"):
                async with client.listen(resource_subscriptions=[PAYMENTS]):
                    pass
        async with mcp_client(runtime, "collector") as client, \
                client.listen(resource_subscriptions=[PAYMENTS]) as subscription:
            await deliver(runtime, "payments", {"payment": {"payment_id": "p1"}})
            with anyio.fail_after(WAIT):
                event = await anext(aiter(subscription))
            assert event.uri == PAYMENTS  # type: ignore[union-attr]
            read = await client.read_resource(PAYMENTS)
            assert '"p1"' in read.contents[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_two_replicas_on_one_redis(make_config, sandbox, redis_url, mode):
    """A delivery to one replica reaches a client of the other, as a notification and in the events tool; a
    forged one and a repeat sent to the other change nothing."""
    prefix = f"test-{new_id()[:12]}:"
    loaded = make_config(AGENTS, hooks=HOOKS)
    states = [RedisState(redis_url, prefix=prefix), RedisState(redis_url, prefix=prefix)]
    try:
        async with running(loaded, sandbox, state=states[0]) as one, serving(one) as one_server, \
                running(loaded, sandbox, state=states[1]) as two, serving(two) as two_server:
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx2.AsyncClient(headers=headers) as http, \
                    Client(streamable_http_client(f"{two_server.url}/mcp", http_client=http),
                           mode=mode) as client:
                if mode == "auto":
                    async with client.listen(resource_subscriptions=[PAYMENTS]) as subscription:
                        await _deliver(one_server.url, "p1")
                        with anyio.fail_after(WAIT):
                            event = await anext(aiter(subscription))
                        assert event.uri == PAYMENTS  # type: ignore[union-attr]
                else:
                    await _deliver(one_server.url, "p1")
                result = await client.call_tool("list_webhook_events", {})
                assert [e["record_id"] for e in result.structured_content["events"]] == ["p1"]  # type: ignore[index]
                repeated = await _deliver(two_server.url, "p1")
                forged = await _deliver(two_server.url, "forged", secret="NotTheSecret123")
                assert repeated.json() == {"status": "repeated"} and forged.status_code == 401
                again = await client.call_tool("list_webhook_events", {})
                assert again.structured_content == result.structured_content
    finally:
        for state in states:
            await state.aclose()


async def _deliver(base: str, payment_id: str, *, secret: str = SECRET) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=base) as http:
        return await http.post("/hooks/payments", json={"payment": {"payment_id": payment_id}},
                               headers={"X-Zbmcp-Token": secret})
