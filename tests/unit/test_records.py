"""The record store behind console sessions and the approval inbox: one contract, both implementations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from zbmcp.records import MemoryRecords, Records, SqliteRecords


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
def records(request, clock: Clock, tmp_path: Path) -> Iterator[Records]:
    if request.param == "memory":
        yield MemoryRecords(clock)
        return
    store = SqliteRecords(tmp_path / "records.sqlite3", clock)
    yield store
    store.close()


async def test_a_record_is_read_until_it_expires(records: Records, clock: Clock):
    await records.put("sessions", "a", {"operator": "olivia"}, ttl=60)
    assert await records.get("sessions", "a") == {"operator": "olivia"}
    assert await records.get("other", "a") is None  # namespaces do not mix
    clock.now += 61
    assert await records.get("sessions", "a") is None
    assert await records.items("sessions") == {}


async def test_take_gives_a_record_to_exactly_one_caller(records: Records, clock: Clock):
    await records.put("decision", "call", {"approved": True}, ttl=60)
    assert await records.take("decision", "call") == {"approved": True}
    assert await records.take("decision", "call") is None
    await records.put("decision", "late", {"approved": True}, ttl=60)
    clock.now += 61
    assert await records.take("decision", "late") is None  # an expired decision is no decision


async def test_put_if_absent_lets_the_first_writer_win_until_the_record_expires(records: Records, clock: Clock):
    assert await records.put_if_absent("decided", "A", {"operator": "olivia"}, ttl=60)
    assert not await records.put_if_absent("decided", "A", {"operator": "mallory"}, ttl=60)
    assert await records.get("decided", "A") == {"operator": "olivia"}
    clock.now += 61
    assert await records.put_if_absent("decided", "A", {"operator": "mallory"}, ttl=60)
    await records.delete("decided", "A")
    assert await records.items("decided") == {}


async def test_processes_sharing_a_file_take_a_record_once(tmp_path: Path):
    """Two stores on one file stand for two processes (a stdio server and `zbmcp console`)."""
    stores = [SqliteRecords(tmp_path / "shared.sqlite3") for _ in range(4)]
    try:
        await stores[0].put("decision", "call", {"approved": True}, ttl=60)
        taken: list[object] = []

        async def take(store: SqliteRecords) -> None:
            taken.append(await store.take("decision", "call"))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for store in stores:
                    tg.start_soon(take, store)
    finally:
        for store in stores:
            store.close()
    assert sorted(map(str, taken)) == ["None", "None", "None", "{'approved': True}"]
