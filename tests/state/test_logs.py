"""The State's logs (append, read_log): one contract, both backends. Webhook deliveries live in them, so the
properties that matter are the ones a flood or a retry would test: numbers that only grow, a unique key
taken once, a bound that holds, entries that expire."""

from __future__ import annotations

import anyio
import pytest

from tests.state.sizes import stored_bytes
from tests.timing import within
from zbmcp.state import State

SHORT_TTL = 0.3


async def test_entries_come_back_in_order_after_a_cursor(state: State):
    first = await state.append("events.a", {"n": 1}, ttl=60, most=10)
    second = await state.append("events.a", "two", ttl=60, most=10)
    third = await state.append("events.a", b"\x00three", ttl=60, most=10)
    assert first is not None and second is not None and third is not None
    assert first < second < third
    assert await state.read_log("events.a") == [(first, {"n": 1}), (second, "two"), (third, b"\x00three")]
    assert await state.read_log("events.a", after=first) == [(second, "two"), (third, b"\x00three")]
    assert await state.read_log("events.a", after=third) == []
    assert await state.read_log("events.a", limit=1) == [(first, {"n": 1})]
    assert await state.read_log("events.a", limit=2, newest=True) == [(second, "two"), (third, b"\x00three")]
    assert await state.read_log("events.other") == []


async def test_one_number_is_a_cursor_over_several_logs(state: State):
    a = await state.append("events.a", "a", ttl=60, most=10)
    b = await state.append("events.b", "b", ttl=60, most=10)
    assert a is not None and b is not None and b > a
    assert await state.read_log("events.a", after=a) == []
    assert await state.read_log("events.b", after=a) == [(b, "b")]


async def test_a_unique_key_is_taken_once_however_many_try_at_once(state: State):
    won: list[int] = []

    async def deliver() -> None:
        number = await state.append("events.hook", {"payment": 1}, ttl=60, most=100, unique="delivery-1")
        if number is not None:
            won.append(number)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(deliver)
    assert len(won) == 1
    assert [number for number, _ in await state.read_log("events.hook")] == won
    other = await state.append("events.other", "same key, another log", ttl=60, most=10, unique="delivery-1")
    assert other is not None


async def test_entries_and_their_unique_keys_expire(state: State):
    async def kept_once() -> None:
        assert await state.append("events.short", "x", ttl=SHORT_TTL, most=10, unique="k") is not None
        assert await state.append("events.short", "x", ttl=SHORT_TTL, most=10, unique="k") is None

    await within(SHORT_TTL, kept_once)
    await anyio.sleep(SHORT_TTL + 0.1)
    assert await state.read_log("events.short") == []
    again = await state.append("events.short", "x", ttl=SHORT_TTL, most=10, unique="k")
    assert again is not None
    assert await state.read_log("events.short") == [(again, "x")]


async def test_a_flood_keeps_the_newest_and_cannot_grow_the_state(state: State):
    body = "x" * 2000
    for i in range(20):
        await state.append("events.flood", {"i": i, "body": body}, ttl=600, most=5, unique=f"d{i}")
    kept = await state.read_log("events.flood")
    assert [value["i"] for _, value in kept if isinstance(value, dict)] == [15, 16, 17, 18, 19]
    size = await stored_bytes(state)
    for i in range(20, 220):
        await state.append("events.flood", {"i": i, "body": body}, ttl=600, most=5, unique=f"d{i}")
    assert await stored_bytes(state) <= size * 1.5  # 200 more deliveries, no more room taken
    # a dropped entry's unique key goes with it: only the bound, not the key, kept it out
    assert await state.append("events.flood", {"i": 0}, ttl=600, most=5, unique="d0") is not None


@pytest.mark.parametrize("bad", [dict(ttl=0, most=5), dict(ttl=60, most=0), dict(ttl=60, most=None)])
async def test_a_log_entry_needs_a_ttl_and_a_bound(state: State, bad: dict[str, object]):
    with pytest.raises(ValueError):
        await state.append("events.a", "x", **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await state.append("Bad Name", "x", ttl=60, most=5)
