"""What strangers can make the State hold is bounded: a namespace capped at `most` records, and budgets that
count events in a sliding window, all or none, storing nothing for what they refuse. Both backends."""

from __future__ import annotations

import anyio
import pytest

from tests.state.sizes import stored_bytes
from tests.timing import within
from zbmcp.state import State


async def test_a_capped_namespace_keeps_the_newest_records_and_drops_those_nearest_to_expiry(state: State):
    for i in range(12):
        await state.put("capped", f"k{i}", {"n": i}, ttl=600, most=5)
    assert await state.items("capped") == {f"k{i}": {"n": i} for i in range(7, 12)}
    assert await state.get("capped", "k0") is None and await state.take("capped", "k6") is None
    await state.put("capped", "forever", "kept", ttl=None, most=5)  # nearest to expiry goes first
    await state.put("capped", "k12", {"n": 12}, ttl=600, most=5)
    assert sorted(await state.items("capped")) == ["forever", "k10", "k11", "k12", "k9"]
    await state.put("capped", "k11", {"n": 11.5}, ttl=600, most=5)  # replacing one drops nothing
    assert len(await state.items("capped")) == 5
    with pytest.raises(ValueError, match="most"):
        await state.put("capped", "k", "v", ttl=60, most=0)


async def test_a_budget_counts_up_to_its_limit_in_a_window_then_says_how_long_to_wait(state: State):
    window = 0.6
    answers: list[float] = []
    address, runs = "", iter(range(1, 255))

    async def spent() -> None:
        nonlocal answers, address
        address = f"203.0.113.{next(runs)}"  # afresh each run
        answers = [await state.spend("hits", [(address, 3)], window=window) for _ in range(4)]
        assert answers[:3] == [0.0, 0.0, 0.0]
        assert 0 < answers[3] <= window

    await within(window, spent)
    assert await state.spend("hits", [("198.51.100.7", 3)], window=window) == 0.0  # another key, its own
    await anyio.sleep(answers[3])
    assert await state.spend("hits", [(address, 3)], window=window) == 0.0
    with pytest.raises(ValueError, match="limit"):
        await state.spend("hits", [("k", 0)], window=window)


async def test_budgets_are_spent_all_or_none(state: State):
    everyone = ("all", 4)
    assert await state.spend("hits", [("a", 2), everyone], window=60) == 0.0
    assert await state.spend("hits", [("a", 2), everyone], window=60) == 0.0
    # a is spent: its third try is refused, and does not take from everyone's budget
    for _ in range(5):
        assert await state.spend("hits", [("a", 2), everyone], window=60) > 0
    assert await state.spend("hits", [("b", 2), everyone], window=60) == 0.0
    assert await state.spend("hits", [("c", 2), everyone], window=60) == 0.0
    assert await state.spend("hits", [("d", 2), everyone], window=60) > 0  # everyone's is spent now


async def test_of_many_concurrent_spenders_only_the_limit_get_through(state: State):
    counted: list[float] = []

    async def spend() -> None:
        counted.append(await state.spend("hits", [("racer", 5)], window=60))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(spend)
    assert counted.count(0.0) == 5


async def test_refused_events_store_nothing(state: State):
    assert await state.spend("hits", [("all", 1)], window=60) == 0.0
    before = await stored_bytes(state)
    for i in range(300):  # a flood from ever new addresses, refused by the budget they share
        assert await state.spend("hits", [(f"2001:db8::{i:x}", 5), ("all", 1)], window=60) > 0
    assert await stored_bytes(state) <= before
