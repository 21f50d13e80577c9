"""The State's record store: one contract, both backends (LocalState files, RedisState
on a real redis-server)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from tests.timing import within
from zbmcp.state import LockTimeout, State, StateUnavailable, new_id
from zbmcp.state.local import LocalState
from zbmcp.state.redis import RedisState

SHORT_TTL = 0.2


async def test_values_come_back_as_the_type_they_went_in(state: State):
    await state.put("things", "b", b"\x00\xffraw", ttl=None)
    await state.put("things", "s", "text é", ttl=None)
    await state.put("things", "d", {"agent": "ana", "n": [1, 2.5, None, True]}, ttl=60)
    assert await state.get("things", "b") == b"\x00\xffraw"
    assert await state.get("things", "s") == "text é"
    assert await state.get("things", "d") == {"agent": "ana", "n": [1, 2.5, None, True]}
    assert await state.get("things", "missing") is None
    assert await state.get("other", "b") is None  # namespaces keep apart


async def test_put_replaces_and_a_record_expires_for_every_reader(state: State):
    key = ""

    async def replaced() -> None:
        nonlocal key
        key = new_id()
        await state.put("sessions", key, "first", ttl=None)
        await state.put("sessions", key, "second", ttl=SHORT_TTL)
        assert await state.get("sessions", key) == "second"

    await within(SHORT_TTL, replaced)
    await anyio.sleep(SHORT_TTL + 0.1)
    assert await state.get("sessions", key) is None
    assert await state.take("sessions", key) is None
    assert await state.items("sessions") == {}
    assert await state.put_if_absent("sessions", key, "again", ttl=None)  # an expired record is absent


async def test_of_many_concurrent_creators_exactly_one_wins(state: State):
    wins: list[int] = []

    async def create(i: int) -> None:
        if await state.put_if_absent("codes", "code-1", {"by": i}, ttl=60):
            wins.append(i)

    async with anyio.create_task_group() as group:
        for i in range(20):
            group.start_soon(create, i)
    assert len(wins) == 1
    assert await state.get("codes", "code-1") == {"by": wins[0]}


async def test_of_many_concurrent_takers_exactly_one_gets_the_value(state: State):
    await state.put("tickets", "t", "approve", ttl=60)
    got: list[object] = []

    async def take() -> None:
        got.append(await state.take("tickets", "t"))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(take)
    assert got.count("approve") == 1 and got.count(None) == 19
    assert await state.get("tickets", "t") is None


async def test_delete_only_if_it_still_holds_the_value(state: State):
    await state.put("locks", "l", "mine", ttl=60)
    assert not await state.delete("locks", "l", only_if="theirs")
    assert await state.get("locks", "l") == "mine"
    assert await state.delete("locks", "l", only_if="mine")
    assert not await state.delete("locks", "l")
    await state.put("locks", "m", b"x", ttl=60)
    assert await state.delete("locks", "m")


async def test_items_lists_the_live_records_of_one_namespace(state: State):
    await state.put("approvals", "a1", {"tool": "email_invoice"}, ttl=60)
    await state.put("elsewhere", "x", "not listed", ttl=60)

    async def listed() -> None:
        short = new_id()
        await state.put("approvals", short, {"tool": "delete_bill"}, ttl=SHORT_TTL)
        await state.put("approvals", "a3", "forever", ttl=None)
        await state.take("approvals", "a3")
        assert await state.items("approvals") == {"a1": {"tool": "email_invoice"},
                                                  short: {"tool": "delete_bill"}}

    await within(SHORT_TTL, listed)
    await anyio.sleep(SHORT_TTL + 0.1)
    assert await state.items("approvals") == {"a1": {"tool": "email_invoice"}}


async def test_keys_from_a_client_are_only_keys(state: State):
    # A hostile key (a path, a Redis pattern, a huge string) names a record and nothing else.
    for key in ["../../../etc/passwd", "*", "a:b:c", "é\n\x00", "x" * 1024]:
        await state.put("hostile", key, key, ttl=60)
    assert await state.get("hostile", "../../../etc/passwd") == "../../../etc/passwd"
    assert len(await state.items("hostile")) == 5
    too_long = "x" * 1025
    assert await state.get("hostile", too_long) is None and await state.take("hostile", too_long) is None
    assert not await state.delete("hostile", too_long)
    with pytest.raises(ValueError, match="at most 1024 bytes"):
        await state.put("hostile", too_long, "v", ttl=60)
    with pytest.raises(ValueError, match="namespace"):
        await state.get("../up", "k")
    with pytest.raises(ValueError, match="ttl"):
        await state.put("hostile", "k", "v", ttl=0)


async def test_a_lock_has_one_holder_and_frees_itself_if_the_holder_never_returns(state: State):
    inside = 0
    most = 0

    async def hold() -> None:
        nonlocal inside, most
        async with state.lock("refresh:main", ttl=5, wait=5):
            inside += 1
            most = max(most, inside)
            await anyio.sleep(0.01)
            inside -= 1

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(hold)
    assert most == 1
    # A holder that died: its record stays until its ttl runs out; a waiter gets the lock then, not before.
    name = ""

    async def held_by_the_dead() -> None:
        nonlocal name
        name = f"refresh:dead-{new_id()[:8]}"
        await state.put_if_absent("locks", name, "a crashed process", ttl=0.3)
        with pytest.raises(LockTimeout, match=name):
            async with state.lock(name, ttl=5, wait=0.05):
                pass

    await within(0.3, held_by_the_dead)
    with anyio.fail_after(5):
        async with state.lock(name, ttl=5, wait=2):
            assert await state.get("locks", name) not in (None, "a crashed process")


async def test_a_holder_keeps_a_short_lock_while_it_works_and_only_its_own(state: State):
    # A ttl of seconds, not tenths: the holder renews every third of it, and a busy machine (the suite on
    # two cores beside other work) can stall a renewal for a few tenths.
    async with state.lock("refresh:long", ttl=1.5, wait=1):
        await anyio.sleep(3.5)  # more than twice the ttl: only renewals keep it
        with pytest.raises(LockTimeout):
            async with state.lock("refresh:long", ttl=1.5, wait=0.1):
                pass
    with anyio.fail_after(5):
        async with state.lock("refresh:long", ttl=0.3, wait=0.5):
            pass
    await state.put("locks", "theirs", "owner-a", ttl=60)
    assert not await state.extend("locks", "theirs", only_if="owner-b", ttl=600)
    assert await state.extend("locks", "theirs", only_if="owner-a", ttl=0.2)
    await anyio.sleep(0.3)
    assert await state.get("locks", "theirs") is None  # the new, shorter expiry held
    assert not await state.extend("locks", "theirs", only_if="owner-a", ttl=60)  # gone: nothing to extend


async def test_single_use_holds_across_processes(state: State, tmp_path: Path):
    """Six processes race for one record: one creates it, and of six takers one gets it."""
    if isinstance(state, LocalState):
        opener = f"LocalState(Path({str(state.root)!r}))"
    else:
        assert isinstance(state, RedisState)
        opener = f"RedisState({state.url!r}, prefix={state.prefix!r})"
    script = textwrap.dedent(f"""
        import anyio, json, sys
        from pathlib import Path
        from zbmcp.state.local import LocalState
        from zbmcp.state.redis import RedisState

        async def main():
            state = {opener}
            sys.stdin.readline()  # all start together
            created = await state.put_if_absent("race", "code", sys.argv[1], ttl=60)
            await state.put("race", "ticket-" + sys.argv[1], "t", ttl=60)
            sys.stdin.readline()
            taken = await state.take("race", "shared")
            print(json.dumps({{"created": created, "taken": taken}}))
            await state.aclose()
        anyio.run(main)
    """)
    await state.put("race", "shared", "the one ticket", ttl=60)
    processes = [subprocess.Popen([sys.executable, "-c", script, str(i)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True) for i in range(6)]
    try:
        for p in processes:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in processes:
            assert p.stdin is not None
            p.stdin.write("take\n")
            p.stdin.flush()
        answers = [json.loads(p.communicate(timeout=30)[0]) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert sum(a["created"] for a in answers) == 1
    assert [a["taken"] for a in answers].count("the one ticket") == 1
    assert len([k for k in await state.items("race") if k.startswith("ticket-")]) == 6


async def test_a_local_record_file_that_does_not_parse_is_moved_aside(tmp_path: Path, caplog):
    state = LocalState(tmp_path / "state")
    await state.put("approvals", "good", "kept", ttl=60)
    folder = tmp_path / "state" / "records" / "approvals"
    (folder / ("0" * 64)).write_bytes(b"\x00garbage")
    (folder / ("1" * 64)).write_text(json.dumps({"k": "x", "e": 1e300}))  # no body
    (folder / ("2" * 64)).write_bytes(b'{"k": "y", "e": NaN}\nsvalue')  # never expiring: impossible
    assert await state.items("approvals") == {"good": "kept"}
    assert len(list((tmp_path / "state" / "corrupt").iterdir())) == 3
    assert "moved to" in caplog.text


async def test_an_unreachable_redis_is_a_clear_retryable_error_that_never_shows_the_password():
    # a port this test holds bound without listening: nobody else gets it, and every connection is refused
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        await _unreachable(f"redis://:s3cret-password@127.0.0.1:{closed.getsockname()[1]}/0")


async def _unreachable(url: str) -> None:
    state = RedisState(url, timeout=0.5)
    try:
        with pytest.raises(StateUnavailable) as caught:
            await state.put("sessions", new_id(), "v", ttl=60)
        assert "cannot be reached" in str(caught.value) and "retry" in str(caught.value)
        assert "s3cret" not in str(caught.value)
        with pytest.raises(StateUnavailable):
            await state.ping()
    finally:
        await state.aclose()
