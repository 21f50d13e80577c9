"""Webhook events and refused deliveries, kept in the State per hook (State logs): what the intake
(zbmcp.hooks) stores and what agents and the console read.

    hook-events.<hook>      the deliveries taken, each once (its unique key spots Zoho's retries), kept
                            hooks.<hook>.keep_hours, at most hooks.<hook>.max_events
    hook-refusals.<hook>    the deliveries refused, for the console: the last REFUSALS_KEPT of them

A cursor names a point in every hook's events at once: `<epoch>-<number>`. Numbers start again when the State
loses its records (Redis flushed, say), and so does the epoch: a cursor of another epoch reads from the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zbmcp.core.config_hooks import Hook
from zbmcp.state.base import State

REFUSALS_KEPT = 100
REFUSALS_KEEP_SECONDS = 7 * 86400.0


def events_log(hook: str) -> str:
    return f"hook-events.{hook}"


def refusals_log(hook: str) -> str:
    return f"hook-refusals.{hook}"


@dataclass(frozen=True)
class Cursor:
    epoch: str
    number: int

    def __str__(self) -> str:
        return f"{self.epoch}-{self.number}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        epoch, dash, number = text.rpartition("-")
        if not dash or not epoch or not number.isdigit() or len(number) > 19:
            return None
        return cls(epoch, int(number))


async def keep_event(state: State, name: str, hook: Hook, event: dict[str, Any], unique: str) -> int | None:
    """Store a delivery's event; None when a live one has the same unique key (a retry)."""
    return await state.append(events_log(name), event, ttl=hook.keep_seconds, most=hook.max_events,
                              unique=unique)


async def keep_refusal(state: State, name: str, refusal: dict[str, Any]) -> None:
    await state.append(refusals_log(name), refusal, ttl=REFUSALS_KEEP_SECONDS, most=REFUSALS_KEPT)


async def events_after(state: State, hooks: Iterable[str], cursor: Cursor | None, limit: int
                       ) -> tuple[list[tuple[int, dict[str, Any]]], Cursor]:
    """Up to `limit` events of these hooks after the cursor, oldest first, and the cursor after them. Without
    a cursor (or with one of another epoch): the newest `limit`."""
    epoch = await state.epoch()
    fresh = cursor is None or cursor.epoch != epoch
    after = 0 if fresh or cursor is None else cursor.number
    found: list[tuple[int, dict[str, Any]]] = []
    for hook in hooks:
        entries = await state.read_log(events_log(hook), after=after, limit=limit, newest=fresh)
        found += [(number, value) for number, value in entries if isinstance(value, dict)]
    found.sort(key=lambda pair: pair[0])
    found = found[-limit:] if fresh else found[:limit]
    last = found[-1][0] if found else after
    return found, Cursor(epoch, last)


async def recent(state: State, log: str, limit: int) -> list[tuple[int, dict[str, Any]]]:
    entries = await state.read_log(log, limit=limit, newest=True)
    return [(number, value) for number, value in reversed(entries) if isinstance(value, dict)]
