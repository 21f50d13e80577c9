"""How much a State holds, in bytes, measured the way its operator would see it grow."""

from __future__ import annotations

from zbmcp.state import State
from zbmcp.state.local import LocalState
from zbmcp.state.redis import RedisState


async def stored_bytes(state: State) -> int:
    """Its files, or the memory its keys take in Redis."""
    if isinstance(state, LocalState):
        return sum(path.stat().st_size for path in state.root.rglob("*") if path.is_file())
    assert isinstance(state, RedisState)
    total = 0
    async for key in state.client.scan_iter(match=state.prefix + "*"):
        total += await state.client.memory_usage(key) or 0
    return total
