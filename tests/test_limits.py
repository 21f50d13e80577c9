"""Issue #7: living within Zoho's limits, and surviving faults without losing or doubling a record."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import anyio
import httpx2
import pytest

from tests.conftest import ORG, SANDBOX_URL, AuditCapture, agent, mcp_client, running
from zbmcp.sandbox import Fault

AGENTS = [f"agent{i}" for i in range(10)]


def fast_limits(**overrides: Any) -> dict[str, Any]:
    return {"limits": {"requests_per_minute": 20, "window_seconds": 0.25, "max_wait_seconds": 30,
                       **overrides}}


async def test_a_burst_of_300_calls_from_10_agents_never_shows_an_agent_a_429(make_config, sandbox):
    sandbox.settings.requests_per_window = 20  # Zoho's 100 a minute, shrunk to 20 per quarter second
    sandbox.settings.window_seconds = 0.25
    loaded = make_config({name: agent(["list_items"]) for name in AGENTS}, connection=fast_limits())
    results: list[Any] = []
    async with running(loaded, sandbox) as runtime:

        async def agent_burst(name: str) -> None:
            async with mcp_client(runtime, name) as client:
                for _ in range(30):
                    results.append(await client.call_tool("list_items", {}))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for name in AGENTS:
                    group.start_soon(agent_burst, name)
    assert len(results) == 300
    assert [r.content[0].text for r in results if r.is_error] == []
    assert Counter(r.status for r in sandbox.api_requests) == {200: 300}  # Zoho never even had to say 429


async def test_the_daily_budget_is_explained_with_when_to_retry(make_config, sandbox, home):
    loaded = make_config({"a": agent(["list_items"])}, connection={"limits": {"daily_budget": 3}})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        for _ in range(3):
            assert not (await client.call_tool("list_items", {})).is_error
        spent = await client.call_tool("list_items", {})
    error = spent.structured_content["error"]
    assert spent.is_error and error["type"] == "RateLimited"
    assert "daily API budget of 3 calls" in error["message"] and "Nothing was sent" in error["message"]
    assert 0 < error["retry_after_seconds"] <= 86400
    assert len(sandbox.api_requests) == 3
    # The count survives a restart: it is kept under ZBMCP_HOME.
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        assert (await client.call_tool("list_items", {})).is_error
    assert len(sandbox.api_requests) == 3


async def test_zohos_rate_limit_headers_correct_the_daily_budget(make_config, sandbox):
    sandbox.settings.daily_budget = 1000
    loaded = make_config({"a": agent(["list_items"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        # Another integration spends 5 of the organization's calls: Zoho's headers on our answer count them.
        token = sandbox.mint_access_token(["ZohoBooks.fullaccess.all"])
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app)) as other:
            for _ in range(5):
                answer = await other.get(f"{SANDBOX_URL}/books/v3/items", params={"organization_id": ORG},
                                         headers={"Authorization": f"Zoho-oauthtoken {token}"})
                assert answer.status_code == 200
        assert not (await client.call_tool("list_items", {})).is_error
        gate = runtime.client.organization_gate(runtime.connections["main"], ORG)
        assert gate.daily_budget == 1000 and await runtime.pacer.day_used(gate) == 6


async def test_an_agent_quota_stops_that_agent_only(make_config, sandbox):
    loaded = make_config({
        "busy": agent(["list_items"], quota={"per_minute": 3}),
        "quiet": agent(["list_items"]),
    }, connection={"limits": {"max_wait_seconds": 0}})
    async with running(loaded, sandbox) as runtime:
        async with mcp_client(runtime, "busy") as busy:
            answers = [await busy.call_tool("list_items", {}) for _ in range(4)]
        async with mcp_client(runtime, "quiet") as quiet:
            other = await quiet.call_tool("list_items", {})
    assert [a.is_error for a in answers] == [False, False, False, True]
    error = answers[-1].structured_content["error"]
    assert "agent 'busy'" in error["message"] and error["retry_after_seconds"] > 0
    assert not other.is_error


@pytest.mark.parametrize("kind", ["latency", "error", "rate_limit", "drop_before", "drop_after", "malformed"])
async def test_reads_recover_from_injected_faults(make_config, sandbox, kind):
    fault = Fault(kind=kind, route="GET /invoices", times=2, delay_seconds=0.05, status=503)
    sandbox.faults.add(fault)
    loaded = make_config({"a": agent(["list_invoices"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        result = await client.call_tool("list_invoices", {})
    assert not result.is_error, result.content[0].text
    assert fault.fired == (1 if kind == "latency" else 2)  # a slow answer is still an answer


async def test_a_call_that_takes_too_long_times_out_with_a_clear_answer(make_config, sandbox):
    sandbox.faults.add(Fault(kind="latency", route="POST /contacts", delay_seconds=2))
    loaded = make_config({"a": agent(["create_contact"])}, connection={"timeout_seconds": 0.2})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        with anyio.fail_after(10):
            result = await client.call_tool("create_contact", {"contact_name": "Slow Ltd"})
    assert result.is_error and result.structured_content["error"]["type"] == "OutcomeUnknown"
    assert "list_contacts" in result.content[0].text  # how to check before trying again


async def test_writes_under_faults_leave_exactly_one_record_per_acknowledged_write(make_config, sandbox):
    faults = ["drop_before", "drop_after", "malformed", "error", "rate_limit", None, None, None]
    rng = random.Random(20261125)
    audit = AuditCapture()
    loaded = make_config({"a": agent(["create_contact", "list_contacts"])})
    acknowledged: list[str] = []
    names = [f"Customer {i:03d}" for i in range(60)]
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "a") as client:
        for name in names:
            kind = rng.choice(faults)
            if kind:
                sandbox.faults.add(Fault(kind=kind, route="POST /contacts", times=1, status=500))
            result = await client.call_tool("create_contact", {"contact_name": name})
            if not result.is_error:
                acknowledged.append(name)
            sandbox.faults.clear()
    recorded = Counter(c["contact_name"] for c in sandbox.store(ORG).contacts.values())
    assert all(recorded[name] == 1 for name in acknowledged)
    assert all(recorded[name] <= 1 for name in names)  # never a duplicate, acknowledged or not
    assert len(acknowledged) >= 20
    assert len(audit.records) == len(names)
