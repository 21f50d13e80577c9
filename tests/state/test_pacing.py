"""The Pacer over a shared State, as replicas meet it: Zoho's "window full" on one replica holds the
organization on all of them. Both backends."""

from __future__ import annotations

import anyio

from tests.conftest import agent, mcp_client, running
from zbmcp.sandbox import Fault
from zbmcp.state import State
from zbmcp.zoho.client import RetryPolicy

HOLD = RetryPolicy(attempts=4, base_delay=0.5, max_delay=1.0)  # after Zoho's first 44: hold 0.5 x 2 = 1 s


async def test_a_429_on_one_replica_holds_the_organization_on_every_replica(
        state: State, make_config, sandbox):
    refusal = sandbox.faults.add(Fault(kind="rate_limit", route="GET /items", times=1))
    loaded = make_config({"a": agent(["list_items"])})
    answers = {}
    async with running(loaded, sandbox, state=state, retry=HOLD) as one, \
            running(loaded, sandbox, state=state) as two:
        async with mcp_client(one, "a") as first, mcp_client(two, "a") as second:

            async def told_429() -> None:
                answers["one"] = await first.call_tool("list_items", {})

            async def other_replica() -> None:
                while not refusal.fired:  # the moment Zoho has said 429 to the first replica
                    await anyio.sleep(0.005)
                answers["two"] = await second.call_tool("list_items", {})

            with anyio.fail_after(20):
                async with anyio.create_task_group() as group:
                    group.start_soon(told_429)
                    group.start_soon(other_replica)
    assert not answers["one"].is_error and not answers["two"].is_error
    statuses = [(r.status, r.at) for r in sandbox.api_requests]
    (said_429,) = [at for status, at in statuses if status == 429]
    later = [at for status, at in statuses if status == 200]
    # neither replica asked during the hold
    assert len(later) == 2 and all(at >= said_429 + 0.95 for at in later)
