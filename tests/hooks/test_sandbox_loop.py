"""The whole loop offline (issue #26's "done when"): an agent records a payment through zbmcp in the sandbox;
the sandbox's workflow rule fires its webhook, signed, at zbmcp's /hooks/payments; a subscribed MCP client is
told, and the payment is in the events of an agent allowed to read payments, not of one that is not. The
same across two replicas on one Redis: the webhook reaches one, the client is on the other."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG, agent, running, serving
from zbmcp.calls.event_watch import resource_uri
from zbmcp.calls.runtime import Runtime
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.sandbox import Sandbox
from zbmcp.state import State, new_id
from zbmcp.state.local import LocalState
from zbmcp.state.redis import RedisState
from zbmcp.transports.http import HttpServer

SECRET = "Loop0Payments0Secret9"
PAYMENTS = resource_uri(ORG, "customerpayments")
COLLECTOR, SALES = new_api_key()[0], new_api_key()[0]
AGENTS = {
    "collector": agent(["customerpayments:*", "list_invoices"], api_keys=[key_hash(COLLECTOR)]),
    "sales": agent(["invoices:read"], api_keys=[key_hash(SALES)]),
}
HOOKS = {"payments": {"connection": "main", "organization": ORG, "module": "customerpayments",
                      "secret": SECRET, "verify": "signature"}}


@contextlib.asynccontextmanager
async def replicas(make_config: Any, sandbox: Sandbox, states: list[State]) -> AsyncIterator[
        list[tuple[Runtime, HttpServer]]]:
    loaded = make_config(AGENTS, hooks=HOOKS)
    async with contextlib.AsyncExitStack() as stack:
        opened = []
        for state in states:
            runtime = await stack.enter_async_context(running(loaded, sandbox, state=state))
            opened.append((runtime, await stack.enter_async_context(serving(runtime))))
        yield opened


@contextlib.asynccontextmanager
async def agent_client(server: HttpServer, key: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http, \
            Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client:
        yield client


async def register_webhook(sandbox: Sandbox, url: str) -> None:
    """What an admin does in Zoho: a webhook for payments, called by a workflow rule, with the secret."""
    token = sandbox.mint_access_token(["ZohoBooks.settings.CREATE"])
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app)) as http:
        made = await http.post("http://sandbox.test/books/v3/settings/webhooks",
                               params={"organization_id": ORG},
                               headers={"Authorization": f"Zoho-oauthtoken {token}"},
                               json={"entity": "customerpayments", "url": url, "secret": SECRET,
                                     "additional_parameters": [{"param_name": "event",
                                                                "param_value": "created"}]})
    assert made.status_code == 201, made.text


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.parametrize("backend", ["local", "redis"])
async def test_a_payment_recorded_in_the_sandbox_reaches_the_agents_allowed_to_see_it(
        make_config, sandbox, tmp_path, request, backend):
    if backend == "local":
        states: list[State] = [LocalState(tmp_path / "state")]
    else:
        prefix = f"test-{new_id()[:12]}:"
        url = request.getfixturevalue("redis_url")
        states = [RedisState(url, prefix=prefix), RedisState(url, prefix=prefix)]
    try:
        async with replicas(make_config, sandbox, states) as served, sandbox.webhooks.running():
            (_, taking), (watched, serving_client) = served[0], served[-1]
            await register_webhook(sandbox, f"{taking.url}/hooks/payments")
            async with agent_client(serving_client, COLLECTOR) as collector, \
                    collector.listen(resource_subscriptions=[PAYMENTS]) as subscription:
                invoice = (await call(collector, "list_invoices", organization_id=ORG, status="unpaid"))[
                    "invoices"][0]
                payment = (await call(collector, "create_customer_payment", organization_id=ORG,
                                      customer_id=invoice["customer_id"], payment_mode="cash", amount=10,
                                      date=invoice["date"], invoices=[{"invoice_id": invoice["invoice_id"],
                                                                       "amount_applied": 10}]))["payment"]
                with anyio.fail_after(10):
                    event = await anext(aiter(subscription))
                assert event.uri == PAYMENTS  # type: ignore[union-attr]
                seen = await call(collector, "list_webhook_events", payloads=True)
            [received] = seen["events"]
            assert received["record_id"] == payment["payment_id"] and received["event"] == "created"
            assert received["payload"]["payment"]["amount"] == 10
            async with agent_client(serving_client, SALES) as sales:
                assert "list_webhook_events" not in {t.name for t in (await sales.list_tools()).tools}
                assert (await sales.list_resources()).resources == []
            [attempt] = sandbox.webhooks.attempts
            assert attempt.status == 200  # taken at once, signed: no retry
            # a forged delivery and a repeat, to either replica, change nothing
            body = json.dumps({"payment": {**received["payload"]["payment"]}}).encode()
            async with httpx2.AsyncClient() as http:
                for server in (taking, serving_client):
                    forged = await http.post(f"{server.url}/hooks/payments?event=created", content=body,
                                             headers={"content-type": "application/json",
                                                      "X-Zoho-Webhook-Signature": "ab" * 32})
                    assert forged.status_code == 401
            async with agent_client(serving_client, COLLECTOR) as collector:
                assert (await call(collector, "list_webhook_events"))["events"][0]["id"] == received["id"]
                assert len((await call(collector, "list_webhook_events"))["events"]) == 1
            assert watched is not None
    finally:
        for state in states:
            await state.aclose()
