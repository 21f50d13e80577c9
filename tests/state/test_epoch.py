"""The State's epoch: one name for its present life, shared by every process, that changes when records may
have been lost; and single use that holds across such a loss (zbmcp.state.single_use)."""

from __future__ import annotations

import shutil

from tests.redis_server import RedisServer
from zbmcp.state import State
from zbmcp.state.local import LocalState
from zbmcp.state.redis import RedisState
from zbmcp.state.single_use import use_once


def reopened(state: State) -> State:
    if isinstance(state, LocalState):
        return LocalState(state.root)
    assert isinstance(state, RedisState)
    return RedisState(state.url, prefix=state.prefix)


async def test_every_process_sees_one_epoch_and_a_ticket_is_used_once(state: State):
    epoch = await state.epoch()
    other = reopened(state)
    try:
        assert await other.epoch() == epoch == await state.epoch()
        assert await use_once(state, "used", "nonce-1", epoch=epoch, ttl=60) == "first"
        assert await use_once(other, "used", "nonce-1", epoch=epoch, ttl=60) == "again"
        assert await use_once(other, "used", "nonce-2", epoch="from-another-life", ttl=60) == "stale"
        assert await other.get("used", "nonce-2") is None  # a stale ticket writes nothing
    finally:
        await other.aclose()


async def test_removing_the_local_state_folder_starts_a_new_epoch(tmp_path):
    state = LocalState(tmp_path / "state")
    epoch = await state.epoch()
    assert await use_once(state, "used", "nonce", epoch=epoch, ttl=60) == "first"
    shutil.rmtree(tmp_path / "state")
    assert await state.epoch() != epoch
    assert await use_once(state, "used", "nonce", epoch=epoch, ttl=60) == "stale"


async def test_a_redis_restarted_without_persistence_or_flushed_starts_a_new_epoch(own_redis: RedisServer):
    state = RedisState(own_redis.url, prefix="zbmcp:")
    try:
        epoch = await state.epoch()
        assert await use_once(state, "used", "nonce", epoch=epoch, ttl=60) == "first"
        own_redis.stop()
        own_redis.start()  # empty: the record that the nonce was used is gone
        restarted = await state.epoch()
        assert restarted != epoch
        assert await use_once(state, "used", "nonce", epoch=epoch, ttl=60) == "stale"
        await state.client.flushdb()  # no restart: the same server, emptied
        assert await state.epoch() not in (epoch, restarted)
    finally:
        await state.aclose()


async def test_a_redis_restarted_with_its_data_still_starts_a_new_epoch(own_redis: RedisServer):
    """A snapshot may be older than the last used ticket: a restart is a new life, data or not."""
    state = RedisState(own_redis.url, prefix="zbmcp:")
    try:
        epoch = await state.epoch()
        await state.client.save()
        own_redis.stop()
        own_redis.start()
        assert await state.client.exists("zbmcp:epoch")  # the marker came back from the snapshot
        assert await state.epoch() != epoch
    finally:
        await state.aclose()


async def test_a_redis_that_evicts_keys_when_full_is_named_in_a_warning(own_redis: RedisServer, caplog):
    state = RedisState(own_redis.url, prefix="zbmcp:")
    try:
        await state.client.config_set("maxmemory", "100mb")
        await state.client.config_set("maxmemory-policy", "volatile-lru")  # what some hosted Redis default to
        await state.epoch()
        await state.epoch()
    finally:
        await state.aclose()
    warnings = [r.getMessage() for r in caplog.records if "evicts keys" in r.getMessage()]
    assert len(warnings) == 1 and "maxmemory-policy volatile-lru" in warnings[0]
    assert "Set maxmemory-policy noeviction" in warnings[0]


async def test_a_redis_user_refused_info_still_gets_an_epoch_from_the_marker_and_a_warning(
        own_redis: RedisServer, caplog):
    admin = RedisState(own_redis.url, prefix="zbmcp:")
    await admin.client.execute_command("ACL", "SETUSER", "zb", "on", ">secret-pw", "~*", "+@all", "-info")
    await admin.aclose()
    state = RedisState(f"redis://zb:secret-pw@127.0.0.1:{own_redis.port}/0", prefix="zbmcp:")
    try:
        epoch = await state.epoch()
        assert await state.epoch() == epoch
        await state.client.delete("zbmcp:epoch")  # as a flush would
        assert await state.epoch() != epoch
    finally:
        await state.aclose()
    warnings = [r.getMessage() for r in caplog.records if "INFO is refused" in r.getMessage()]
    assert len(warnings) == 1 and "secret-pw" not in warnings[0]
