"""Single use that survives a State which lost its records.

A signed ticket (an approval's request_state, an enrollment link) proves itself; only the record that it was
used makes it single-use. A Redis restarted without persistence (or from an older snapshot, or failed over to
a replica that lagged behind) forgets that record, and the ticket would work again. So each ticket carries
the State's epoch from when it was issued (State.epoch), and is honoured only in that epoch: anything issued
before a loss is refused, which is the one safe answer when whether it was used cannot be known.

    epoch = await state.epoch()                       # signed into the ticket when it is issued
    use = await use_once(state, "used-links", nonce, epoch=epoch, ttl=until_it_expires)
    # "first": honour it; "again": it was used; "stale": issued before the State lost records
"""

from __future__ import annotations

from typing import Literal

from zbmcp.state.base import State

Use = Literal["first", "again", "stale"]


async def use_once(state: State, ns: str, key: str, *, epoch: str, ttl: float) -> Use:
    """Mark `key` used, once. The epoch is read again after the mark is written: a loss between the two (the
    mark landing in a new, empty life) is caught as well."""
    if await state.epoch() != epoch:
        return "stale"  # nothing written: replaying old tickets costs the State nothing
    if not await state.put_if_absent(ns, key, "used", ttl=ttl):
        return "again"
    if await state.epoch() != epoch:
        return "stale"
    return "first"
