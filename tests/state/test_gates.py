"""Gates in the State (windows, concurrency slots as expiring leases, day counts, holds): one contract, both
backends. Short windows stand for Zoho's minute."""

from __future__ import annotations

import time

import anyio

from tests.timing import within
from zbmcp.state import State, new_id
from zbmcp.state.gates import Admission, GateLimits, GateUpdate

WINDOW = 0.4
LONG_WINDOW = 30.0  # for the tests that never wait it out: a busy machine's stalls cannot reach its end
LEASE = 30.0
SLACK = 0.01  # the State's clock (Redis's TIME) and this process's, read a moment apart


def org(**limits: object) -> GateLimits:
    return GateLimits(key="org:main:10234695", **limits)  # type: ignore[arg-type]


async def fill(state: State, gates: list[GateLimits], count: int) -> list[str]:
    tickets = []
    for _ in range(count):
        ticket = new_id()
        assert (await state.admit(gates, ticket, lease=LEASE)).admitted
        tickets.append(ticket)
    return tickets


async def finish(state: State, gates: list[GateLimits], tickets: list[str]) -> None:
    for ticket in tickets:
        await state.finish(gates, ticket, [GateUpdate()] * len(gates))


async def test_a_request_holds_its_place_until_a_window_after_its_answer(state: State):
    gates = [org(per_window=3, window=WINDOW)]
    tickets = await fill(state, gates, 3)
    refused = await state.admit(gates, new_id(), lease=LEASE)
    # only answers free it
    assert refused == Admission(False, refused.wait, 0, "window") and refused.wait <= 0.05
    started = time.monotonic()
    await finish(state, gates, tickets)
    refused = await state.admit(gates, new_id(), lease=LEASE)
    took = time.monotonic() - started  # a busy machine's stalls shorten the wait by as much, no more
    assert not refused.admitted and WINDOW - took - SLACK <= refused.wait <= WINDOW
    await anyio.sleep(refused.wait + 0.02)
    assert (await state.admit(gates, new_id(), lease=LEASE)).admitted


async def test_concurrency_slots_are_shared_and_come_back_when_answered(state: State):
    gates = [org(concurrency=2)]
    first, _ = await fill(state, gates, 2)
    busy = await state.admit(gates, new_id(), lease=LEASE)
    assert not busy.admitted and busy.reason == "busy"
    await finish(state, gates, [first])
    assert (await state.admit(gates, new_id(), lease=LEASE)).admitted


async def test_a_crashed_holders_lease_ends_and_its_request_counts_as_answered_then(state: State):
    gates: list[GateLimits] = []
    started = 0.0

    async def died_in_flight() -> None:
        nonlocal gates, started
        gates = [GateLimits(key=f"org:main:{new_id()[:8]}", per_window=2, window=LONG_WINDOW, concurrency=1)]
        started = time.monotonic()
        assert (await state.admit(gates, "dies-in-flight", lease=0.2)).admitted  # never finished: it died
        assert (await state.admit(gates, new_id(), lease=LEASE)).reason == "busy"

    await within(0.2, died_in_flight)
    await anyio.sleep(0.25)
    ticket = new_id()
    assert (await state.admit(gates, ticket, lease=LEASE)).admitted  # the slot is back after the lease
    await finish(state, gates, [ticket])
    # ... but the dead request's window place lasts a window from its lease's end: Zoho may have counted it.
    refused = await state.admit(gates, new_id(), lease=LEASE)
    took = time.monotonic() - started
    assert not refused.admitted and refused.reason == "window"
    assert LONG_WINDOW + 0.2 - took - SLACK <= refused.wait <= LONG_WINDOW + 0.2 - 0.25 + SLACK


async def test_a_dead_request_keeps_its_window_place_even_if_nothing_asks_for_a_while(state: State):
    gates = [org(per_window=1, window=LONG_WINDOW)]
    started = time.monotonic()
    assert (await state.admit(gates, "dies-in-flight", lease=0.2)).admitted
    await anyio.sleep(0.6)  # quiet: no admission settles the ended lease until now
    refused = await state.admit(gates, new_id(), lease=LEASE)
    took = time.monotonic() - started
    # a window from the lease's end, not from now that it is settled (which would leave LONG_WINDOW)
    assert not refused.admitted and refused.reason == "window"
    assert LONG_WINDOW + 0.2 - took - SLACK <= refused.wait <= LONG_WINDOW + 0.2 - 0.6 + SLACK


async def test_all_gates_admit_together_or_none_takes_a_place(state: State):
    organization = org(per_window=5, window=WINDOW)
    agent = GateLimits(key="agent:busy", per_window=1, window=WINDOW)
    await fill(state, [organization, agent], 1)
    refused = await state.admit([organization, agent], new_id(), lease=LEASE)
    assert not refused.admitted and refused.blocking == 1 and refused.reason == "window"
    await fill(state, [organization], 4)  # the refused call took no place in the organization's window
    assert not (await state.admit([organization], new_id(), lease=LEASE)).admitted


async def test_the_days_count_stops_at_the_budget_and_follows_zohos_count(state: State):
    gates = [org(daily_budget=3)]
    tickets = await fill(state, gates, 2)
    await state.finish(gates, tickets[0], [GateUpdate(day_used=1)])  # lower than ours: ignored
    assert await state.day_used("org:main:10234695") == 2
    await state.finish(gates, tickets[1], [GateUpdate(day_used=3)])  # other integrations' calls count too
    assert await state.day_used("org:main:10234695") == 3
    spent = await state.admit(gates, new_id(), lease=LEASE)
    assert spent == Admission(False, 0.0, 0, "day", 3)
    assert await state.day_used("org:other:1") == 0


async def test_a_hold_shuts_the_gate_for_everyone(state: State):
    gates = [org(per_window=100, window=WINDOW)]
    (ticket,) = await fill(state, gates, 1)
    started = time.monotonic()
    await state.finish(gates, ticket, [GateUpdate(hold=0.3)])
    held = await state.admit(gates, new_id(), lease=LEASE)
    took = time.monotonic() - started
    assert not held.admitted and held.reason == "held" and 0.3 - took - SLACK <= held.wait <= 0.3
    await anyio.sleep(held.wait + 0.02)
    assert (await state.admit(gates, new_id(), lease=LEASE)).admitted


async def test_concurrent_admissions_never_exceed_the_limit(state: State):
    gates = [org(per_window=7, window=30.0)]
    admitted: list[bool] = []

    async def one() -> None:
        admitted.append((await state.admit(gates, new_id(), lease=LEASE)).admitted)

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(one)
    assert admitted.count(True) == 7
