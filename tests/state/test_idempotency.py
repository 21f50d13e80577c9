"""Idempotency keys in the State: one contract, both backends (files, and a real redis-server)."""

from __future__ import annotations

import anyio
import pytest

from zbmcp.state import State
from zbmcp.state.idempotency import (
    KEEP_SECONDS,
    LEASES,
    Claim,
    claim_key,
    complete,
    release,
    renew,
)

SHORT = 0.2


async def test_the_first_claim_wins_and_a_repeat_gets_its_answer(state: State):
    first = await claim_key(state, "k", "fp", "call-1", wait=1)
    assert first.kind == "first" and first.entry.call_id == "call-1"
    await complete(state, first, status="done", answer={"content": [{"type": "text", "text": "INV-1"}]},
                   outcome="allowed")
    again = await claim_key(state, "k", "fp", "call-2", wait=1)
    assert again.kind == "done"
    assert again.entry.call_id == "call-1" and again.entry.answer == {"content": [{"type": "text",
                                                                                    "text": "INV-1"}]}
    assert again.entry.outcome == "allowed"
    assert (await claim_key(state, "k", "other fp", "call-3", wait=1)).kind == "conflict"
    assert (await claim_key(state, "other key", "fp", "call-4", wait=1)).kind == "first"


async def test_of_many_concurrent_claimers_one_goes_ahead_and_the_others_get_its_answer(state: State):
    claims: list[Claim] = []

    async def claim(i: int) -> None:
        claims.append(await claim_key(state, "k", "fp", f"call-{i}", wait=5))

    async def holder_finishes() -> None:
        with anyio.fail_after(5):
            while not any(c.kind == "first" for c in claims):
                await anyio.sleep(0.01)
        first = next(c for c in claims if c.kind == "first")
        await complete(state, first, status="done", answer={"n": 1}, outcome="allowed")

    async with anyio.create_task_group() as group:
        for i in range(10):
            group.start_soon(claim, i)
        group.start_soon(holder_finishes)
    kinds = sorted(c.kind for c in claims)
    assert kinds == ["done"] * 9 + ["first"]
    winner = next(c for c in claims if c.kind == "first").entry.call_id
    assert {c.entry.call_id for c in claims} == {winner}


async def test_a_repeat_waits_while_the_first_runs_then_hears_it_still_runs(state: State):
    first = await claim_key(state, "k", "fp", "call-1", wait=1)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(renew, state, first.entry.owner)
            waited = await claim_key(state, "k", "fp", "call-2", wait=SHORT)
            group.cancel_scope.cancel()
    assert waited.kind == "running" and waited.entry.call_id == "call-1"


async def test_a_holder_that_stops_renewing_leaves_an_abandoned_claim_never_a_free_key(state: State):
    await claim_key(state, "k", "fp", "call-1", wait=1, lease=SHORT)
    await anyio.sleep(SHORT + 0.1)  # the holder died: nothing renews its lease
    with anyio.fail_after(5):
        found = await claim_key(state, "k", "fp", "call-2", wait=5)
    assert found.kind == "abandoned" and found.entry.call_id == "call-1"


async def test_a_renewed_lease_outlives_its_first_term(state: State):
    # Tenths, not hundredths: the holder renews every third of its lease, and a busy machine (the suite on two
    # cores beside other work) can stall a renewal for a few tenths.
    lease = 0.6
    first = await claim_key(state, "k", "fp", "call-1", wait=1, lease=lease)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: renew(state, first.entry.owner, lease=lease))
        await anyio.sleep(lease * 3)
        assert await state.get(LEASES, first.entry.owner) == "alive"
        assert (await claim_key(state, "k", "fp", "call-2", wait=0)).kind == "running"
        group.cancel_scope.cancel()


async def test_an_unknown_outcome_is_kept_and_the_lease_ends(state: State):
    first = await claim_key(state, "k", "fp", "call-1", wait=1)
    await complete(state, first, status="unknown", answer=None, outcome="unknown")
    assert await state.get(LEASES, first.entry.owner) is None
    again = await claim_key(state, "k", "fp", "call-2", wait=1)
    assert again.kind == "unknown" and again.entry.call_id == "call-1"


async def test_a_released_key_is_free_for_the_next_call_even_with_other_arguments(state: State):
    first = await claim_key(state, "k", "fp", "call-1", wait=1)
    await release(state, first)
    second = await claim_key(state, "k", "fp-fixed", "call-2", wait=1)
    assert second.kind == "first" and second.entry.call_id == "call-2"


async def test_a_release_never_frees_a_claim_that_another_call_holds(state: State):
    first = await claim_key(state, "k", "fp", "call-1", wait=1)
    await release(state, first)
    second = await claim_key(state, "k", "fp", "call-2", wait=1)
    await release(state, first)  # late, from the first call: must not free the second's claim
    assert (await claim_key(state, "k", "fp", "call-3", wait=0)).kind == "running"
    assert second.kind == "first"


async def test_keys_are_kept_a_day_at_least_and_expire_after_their_time(state: State):
    assert KEEP_SECONDS >= 24 * 3600
    first = await claim_key(state, "k", "fp", "call-1", wait=1)
    await complete(state, first, status="done", answer={"n": 1}, outcome="allowed", keep=SHORT)
    await anyio.sleep(SHORT + 0.1)
    assert (await claim_key(state, "k", "fp", "call-2", wait=1)).kind == "first"


async def test_an_answer_too_large_to_keep_keeps_the_call_id(state: State):
    first = await claim_key(state, "k", "fp", "call-1", wait=1)
    await complete(state, first, status="done", answer={"text": "x" * (2 << 20)}, outcome="allowed")
    again = await claim_key(state, "k", "fp", "call-2", wait=1)
    assert again.kind == "done" and again.entry.answer is None and again.entry.call_id == "call-1"


@pytest.mark.parametrize("value", [b"raw", "text", {"status": "weird"}, {"call_id": "x"}])
async def test_a_record_that_is_not_a_claim_is_never_taken_for_one(state: State, value):
    await state.put("idempotency", "k", value, ttl=60)
    with anyio.fail_after(5):
        found = await claim_key(state, "k", "fp", "call-1", wait=0.1)
    assert found.kind == "first" and found.entry.call_id == "call-1"  # zbmcp's own claim replaces it
