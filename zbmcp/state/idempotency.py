"""Idempotency keys: one write per key, across every process and replica sharing the State.

The first call with a key claims it; the claim holds the call's id and the fingerprint of what it sends. While
the call runs, its holder keeps a lease alive (a short record of its own, renewed); once it has an answer the
key holds that answer, for `keep` seconds (at least 24 hours for a key an agent chose). A repeat finds the key
and, by the fingerprint, is either the same call (replay its answer, or wait while it runs) or another call
with the same key (refused). A holder that dies mid-call leaves its claim without a lease: "abandoned", whose
outcome nobody knows, and which is never claimed again as if nothing had happened.

    claim = await claim_key(state, key, fingerprint, call_id, wait=60)
    if claim.kind == "first":
        ...                                             # renew(state, claim.entry.owner) runs beside
        await complete(state, claim, status="done", answer=answer, outcome="allowed")
        # or release(state, claim) when provably nothing was written: the key is free again
    elif claim.kind in ("done", "unknown"): ...          # claim.entry holds the first call's answer
    elif claim.kind == "conflict": ...                  # the same key was used with other arguments
    elif claim.kind == "running": ...                   # still running after `wait` seconds
    elif claim.kind == "abandoned": ...                 # its holder stopped before recording an outcome
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from zbmcp.state.base import State, StateUnavailable, new_id

NAMESPACE = "idempotency"
LEASES = "idempotency-leases"
KEEP_SECONDS = 25 * 3600.0  # a key an agent chose: at least 24 hours, as Stripe keeps its keys
LEASE_SECONDS = 15.0  # a holder that stops renewing is taken for dead this long after
POLL_SECONDS = 0.05

Status = Literal["running", "done", "unknown"]
Kind = Literal["first", "done", "unknown", "running", "abandoned", "conflict"]


@dataclass(frozen=True)
class Entry:
    """What the State holds for a key."""

    call_id: str  # the first call's id, as its audit record has it
    fingerprint: str  # what it sends (zbmcp.core.idempotency.fingerprint)
    status: Status
    owner: str  # its holder's lease
    at: float  # when it was claimed (Unix time)
    outcome: str = ""  # the first call's audit outcome (allowed, unknown)
    answer: dict[str, Any] | None = None  # what the first call answered, to replay

    def value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"call_id": self.call_id, "fingerprint": self.fingerprint,
                                 "status": self.status, "owner": self.owner, "at": self.at}
        if self.outcome:
            value["outcome"] = self.outcome
        if self.answer is not None:
            value["answer"] = self.answer
        return value

    @classmethod
    def of(cls, value: Any) -> Entry | None:
        if not isinstance(value, dict):
            return None
        try:
            status = value["status"]
            if status not in ("running", "done", "unknown"):
                return None
            answer = value.get("answer")
            return cls(str(value["call_id"]), str(value["fingerprint"]), status, str(value["owner"]),
                       float(value["at"]), str(value.get("outcome", "")),
                       answer if isinstance(answer, dict) else None)
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Claim:
    kind: Kind
    key: str
    entry: Entry  # this call's own claim ("first"), else the first call's


async def claim_key(state: State, key: str, fingerprint: str, call_id: str, *, wait: float,
                    keep: float = KEEP_SECONDS, lease: float = LEASE_SECONDS) -> Claim:
    """Claim `key` for this call, or say what holds it. While the first call runs, wait up to `wait` seconds
    for its answer. `keep` bounds a claim whose holder never completes it (a killed process); `lease` is how
    long a holder that stops renewing (renew) is taken for alive."""
    deadline = anyio.current_time() + wait
    while True:
        owner = new_id()
        mine = Entry(call_id, fingerprint, "running", owner, time.time())
        # The lease first: a claim is never seen without one while its holder lives.
        await state.put(LEASES, owner, "alive", ttl=lease)
        if await state.put_if_absent(NAMESPACE, key, mine.value(), ttl=keep):
            return Claim("first", key, mine)
        await state.delete(LEASES, owner)
        while True:
            stored = await state.get(NAMESPACE, key)
            where, found = await _followed(state, key, stored)
            if found is None or (where != key and found.fingerprint != fingerprint):
                if stored is not None:  # not a claim zbmcp wrote, or an alias to another call: out of the way
                    await state.delete(NAMESPACE, key, only_if=stored)
                break  # released or expired meanwhile: claim it again
            if found.fingerprint != fingerprint:
                return Claim("conflict", where, found)
            if found.status != "running":
                return Claim(found.status, where, found)
            if await state.get(LEASES, found.owner) is None:
                # Its lease ends when its holder completes it too: abandoned only if it is still running.
                if Entry.of(await state.get(NAMESPACE, where)) == found:
                    return Claim("abandoned", where, found)
                continue
            if anyio.current_time() >= deadline:
                return Claim("running", where, found)
            await anyio.sleep(POLL_SECONDS)


async def _followed(state: State, key: str, stored: Any) -> tuple[str, Entry | None]:
    """The claim a record is, or the one it is an alias of (add_alias), and where that claim is."""
    if isinstance(stored, dict) and isinstance(stored.get("alias"), str) and len(stored) == 1:
        target = stored["alias"]
        return target, Entry.of(await state.get(NAMESPACE, target))
    return key, Entry.of(stored)


async def add_alias(state: State, alias: str, claim: Claim, *, keep: float = KEEP_SECONDS) -> bool:
    """Let `alias` find this call's claim too (a write's arguments, for its key), unless it names a claim
    already; True if it was added. Once the claim is released, the alias is out of the way."""
    return await state.put_if_absent(NAMESPACE, alias, {"alias": claim.key}, ttl=keep)


async def end_alias(state: State, alias: str, claim: Claim, *, keep: float | None) -> None:
    """Keep the alias `keep` seconds more, or remove it (None)."""
    if keep is None:
        await state.delete(NAMESPACE, alias, only_if={"alias": claim.key})
    else:
        await state.extend(NAMESPACE, alias, only_if={"alias": claim.key}, ttl=keep)


async def renew(state: State, owner: str, *, lease: float = LEASE_SECONDS) -> None:
    """Keep a claim's lease alive, until cancelled (run it beside the call that holds the claim)."""
    while True:
        await anyio.sleep(lease / 3)
        with contextlib.suppress(StateUnavailable):  # if the State stays away, waiters take the call as lost
            if not await state.extend(LEASES, owner, only_if="alive", ttl=lease):
                await state.put(LEASES, owner, "alive", ttl=lease)


async def take_over(state: State, found: Claim, *, lease: float = LEASE_SECONDS,
                    keep: float = KEEP_SECONDS) -> Claim | None:
    """Hold a key whose call's outcome is unknown (or whose holder stopped), to find out what became of it:
    the claim, still naming that call, or None when another call took it over first."""
    owner = new_id()
    mine = Entry(found.entry.call_id, found.entry.fingerprint, "running", owner, found.entry.at)
    await state.put(LEASES, owner, "alive", ttl=lease)
    if await state.delete(NAMESPACE, found.key, only_if=found.entry.value()) \
            and await state.put_if_absent(NAMESPACE, found.key, mine.value(), ttl=keep):
        return Claim("first", found.key, mine)
    await state.delete(LEASES, owner)
    return None


async def hand_on(state: State, claim: Claim, call_id: str, *, keep: float = KEEP_SECONDS) -> Claim:
    """The claim, now for call `call_id` from this moment (a write found not made, made again by a repeat)."""
    mine = Entry(call_id, claim.entry.fingerprint, "running", claim.entry.owner, time.time())
    await state.put(NAMESPACE, claim.key, mine.value(), ttl=keep)
    return Claim("first", claim.key, mine)


async def complete(state: State, claim: Claim, *, status: Literal["done", "unknown"],
                   answer: dict[str, Any] | None, outcome: str, keep: float = KEEP_SECONDS) -> None:
    """Record the first call's answer under its key, for `keep` seconds, and end its lease."""
    entry = Entry(claim.entry.call_id, claim.entry.fingerprint, status, claim.entry.owner, claim.entry.at,
                  outcome, answer)
    try:
        await state.put(NAMESPACE, claim.key, entry.value(), ttl=keep)
    except ValueError:  # an answer too large to keep: a repeat is told the first call's id instead
        await state.put(NAMESPACE, claim.key, {**entry.value(), "answer": None}, ttl=keep)
    await state.delete(LEASES, claim.entry.owner)


async def release(state: State, claim: Claim) -> None:
    """Free the key: the call provably wrote nothing, so the next call with it goes ahead."""
    await state.delete(NAMESPACE, claim.key, only_if=claim.entry.value())
    await state.delete(LEASES, claim.entry.owner)
