"""The authorization server's records in the shared State (zbmcp.state): each a JSON object, in a namespace of
its own, most with an expiry. A thin typed view, so callers deal in dicts and nothing else."""

from __future__ import annotations

from typing import Any

from zbmcp.state import State, Value

Record = dict[str, Any]


def _record(value: Value | None) -> Record | None:
    return value if isinstance(value, dict) else None  # anything else is not ours: treated as absent


class Records:
    def __init__(self, state: State) -> None:
        self.state = state

    async def put(self, ns: str, key: str, record: Record, *, ttl: float | None,
                  most: int | None = None) -> None:
        await self.state.put(ns, key, record, ttl=ttl, most=most)

    async def put_if_absent(self, ns: str, key: str, record: Record, *, ttl: float | None) -> bool:
        return await self.state.put_if_absent(ns, key, record, ttl=ttl)

    async def get(self, ns: str, key: str) -> Record | None:
        return _record(await self.state.get(ns, key))

    async def take(self, ns: str, key: str) -> Record | None:
        """Single use: of any number of concurrent takers, exactly one gets the record."""
        return _record(await self.state.take(ns, key))

    async def delete(self, ns: str, key: str) -> bool:
        return await self.state.delete(ns, key)

    async def items(self, ns: str) -> dict[str, Record]:
        return {key: value for key, value in (await self.state.items(ns)).items() if isinstance(value, dict)}
