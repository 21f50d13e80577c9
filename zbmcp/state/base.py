"""The State protocol, and what both backends share: how values are encoded, what names
are allowed, the lock."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

import anyio

from zbmcp.errors import ZbmcpError
from zbmcp.state.gates import Gates

Value = bytes | str | dict[str, Any]
"""What a record holds. A dict travels as JSON (so JSON types only); bytes and str
come back as they went in."""

Backend = Literal["local", "redis"]

NAMESPACE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
MAX_KEY_BYTES = 1024
MAX_VALUE_BYTES = 1 << 20
LOCK_NAMESPACE = "locks"
LOCK_POLL_SECONDS = 0.02  # how often a waiter looks again; locks are held for moments (a token refresh)
EPOCH_NAMESPACE = "state-epoch"


class StateUnavailable(ZbmcpError):
    """The state backend cannot be reached (Redis down, say). Nothing was sent to
    Zoho; the caller may retry."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LockTimeout(ZbmcpError):
    """A lock stayed taken for longer than the caller would wait."""


class State(Gates, Protocol):
    """Everything that must be one across processes and replicas. Two implementations with the same semantics:
    LocalState (files under ZBMCP_HOME, one machine) and RedisState (a fleet). No caller knows which it has.

    Records: `ns` is a short lowercase name chosen by the caller's module ("approvals", "console-sessions");
    `key` is any string up to 1 KiB (it may come from a client: it is never used as a path); `ttl` is in
    seconds, None for a record that stays until deleted. Expiry is exact to a few milliseconds: an expired
    record is gone for every reader, whether or not anything has swept it yet.

    Gates (request windows, concurrency slots, day counts: zbmcp.state.gates) are the pacer's.
    """

    backend: Backend

    async def put(self, ns: str, key: str, value: Value, *, ttl: float | None,
                  most: int | None = None) -> None:
        """Create or replace. With `most`, the namespace then keeps at most that many live records: those
        nearest to expiry (with one ttl for all, the oldest) are dropped, so no flood can grow it further."""
        ...

    async def put_if_absent(self, ns: str, key: str, value: Value, *, ttl: float | None) -> bool:
        """Create only if no live record has this key; True when this call created it (atomic)."""
        ...

    async def get(self, ns: str, key: str) -> Value | None: ...

    async def take(self, ns: str, key: str) -> Value | None:
        """Get and delete at once: of any number of concurrent takers, exactly one gets
        the value (single use)."""
        ...

    async def delete(self, ns: str, key: str, *, only_if: Value | None = None) -> bool:
        """True if a live record was deleted. With only_if, only when it holds exactly that value (atomic)."""
        ...

    async def extend(self, ns: str, key: str, *, only_if: Value, ttl: float) -> bool:
        """Give a live record that holds exactly `only_if` a new expiry, `ttl` from now
        (atomic); True if it did."""
        ...

    async def items(self, ns: str) -> dict[str, Value]:
        """Every live record of a namespace (e.g. the approvals waiting for a person)."""
        ...

    async def spend(self, ns: str, budgets: Sequence[tuple[str, int]], *, window: float) -> float:
        """Count one event against every budget at once, or against none. Each budget is (key, limit): at most
        `limit` events in any `window` seconds. Returns 0.0 when counted; else how many seconds until it could
        be, having counted and stored nothing (so a flood of refused events costs no memory)."""
        ...

    async def append(self, log: str, value: Value, *, ttl: float, most: int,
                     unique: str | None = None) -> int | None:
        """Add an entry at the end of a log (named like a namespace; logs and namespaces keep apart) and
        return its number. Numbers grow across every log of this State, so one number is a cursor over several
        logs, for as long as the epoch stays the same. With `unique`, only if no live entry of this log was
        appended with that key, else None (atomic: of concurrent appenders with one key, exactly one gets a
        number). Each entry lives `ttl` seconds (a log's entries share one ttl); the log keeps at most `most`,
        dropping the oldest and, with them, their unique keys, so no flood can grow it further."""
        ...

    async def read_log(self, log: str, *, after: int = 0, limit: int = 100,
                       newest: bool = False) -> list[tuple[int, Value]]:
        """Live entries numbered above `after`, oldest first: the first `limit` of them, or with `newest`
        the last `limit`."""
        ...

    async def epoch(self) -> str:
        """A name for this State's present life, the same for every process and replica until records may have
        been lost (Redis restarted, failed over or emptied; the state folder removed), then another. What must
        stay used after such a loss carries the epoch it was issued in (zbmcp.state.single_use)."""
        ...

    async def ping(self) -> None:
        """Raises StateUnavailable when the backend cannot be used right now."""
        ...

    async def aclose(self) -> None: ...

    def lock(self, name: str, *, ttl: float, wait: float) -> AbstractAsyncContextManager[None]:
        """Held by one task of one process at a time, everywhere; freed when the block ends, or within
        `ttl` of its holder's death (a live holder keeps renewing it). Waits up to `wait` seconds
        for it, else LockTimeout."""
        ...


def encode(value: Value) -> bytes:
    if isinstance(value, bytes):
        data = b"b" + value
    elif isinstance(value, str):
        data = b"s" + value.encode()
    elif isinstance(value, dict):
        data = b"j" + json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    else:
        raise TypeError(f"a state record holds bytes, str or a dict, not {type(value).__name__}")
    if len(data) > MAX_VALUE_BYTES:
        raise ValueError(f"a state record holds at most {MAX_VALUE_BYTES} bytes, not {len(data)}")
    return data


def decode(data: bytes) -> Value:
    """The inverse of encode; ValueError for anything encode cannot have written."""
    kind, payload = data[:1], data[1:]
    if kind == b"b":
        return payload
    if kind == b"s":
        return payload.decode()
    if kind == b"j":
        value = json.loads(payload)
        if isinstance(value, dict):
            return value
    raise ValueError("not a state record")


def check_namespace(ns: str) -> None:
    if not NAMESPACE.match(ns):
        raise ValueError(f"state namespace {ns!r}: use 1-64 of a-z, 0-9, '_', '.', '-', starting "
                         "with a letter")


def key_fits(key: str) -> bool:
    return isinstance(key, str) and len(key.encode()) <= MAX_KEY_BYTES


def check_key(key: str) -> None:
    if not key_fits(key):
        raise ValueError(f"a state key is a string of at most {MAX_KEY_BYTES} bytes")


def check_ttl(ttl: float | None) -> None:
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds or None, not {ttl!r}")


def check_log(log: str, ttl: float | None = None, most: int | None = None) -> None:
    check_namespace(log)
    if ttl is not None or most is not None:
        check_ttl(ttl)
        if ttl is None or not (isinstance(most, int) and most > 0):
            raise ValueError(f"a log entry needs a ttl and a positive most, not {ttl!r} and {most!r}")


def check_most(most: int | None) -> None:
    if most is not None and not (isinstance(most, int) and most > 0):
        raise ValueError(f"most must be a positive number of records or None, not {most!r}")


def check_budgets(budgets: Sequence[tuple[str, int]], window: float) -> None:
    if not budgets:
        raise ValueError("spend needs at least one budget")
    for key, limit in budgets:
        check_key(key)
        if not (isinstance(limit, int) and limit > 0):
            raise ValueError(f"the limit of budget {key!r} must be a positive number of events, "
                             f"not {limit!r}")
    check_ttl(window)


def epoch_name(*parts: str) -> str:
    """A short name for an epoch made of these parts (the marker, the Redis run): URL-safe, without dots."""
    digest = hashlib.sha256("\n".join(parts).encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_id() -> str:
    """An id no other process, container or host will make: 128 random bits (never a PID or a counter)."""
    return secrets.token_hex(16)


@contextlib.asynccontextmanager
async def record_lock(state: State, name: str, *, ttl: float, wait: float) -> AsyncIterator[None]:
    """A lock built from the record operations, so both backends share its semantics: the holder writes
    a record with its own random id and a short ttl, renews it while it works, and deletes it (only a
    holder with that id can). So a holder that dies blocks the others for at most `ttl`, however long
    the work would have taken."""
    check_ttl(ttl)
    owner = new_id()
    deadline = anyio.current_time() + wait
    # Not cancelled mid-write (a lock taken but never known would block everyone for ttl): the deadline is
    # checked between attempts.
    while not await state.put_if_absent(LOCK_NAMESPACE, name, owner, ttl=ttl):
        left = deadline - anyio.current_time()
        if left <= 0:
            raise LockTimeout(f"waited {wait:g} s for {name!r}, which another zbmcp process holds")
        await anyio.sleep(min(LOCK_POLL_SECONDS, left))
    try:
        async with anyio.create_task_group() as keeper:
            keeper.start_soon(_keep_lock, state, name, owner, ttl)
            try:
                yield
            finally:
                keeper.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The task group wraps what the holder's block raised; the caller expects it as it was.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(StateUnavailable):
            await state.delete(LOCK_NAMESPACE, name, only_if=owner)  # else it frees itself after ttl


async def _keep_lock(state: State, name: str, owner: str, ttl: float) -> None:
    while True:
        await anyio.sleep(ttl / 3)
        try:
            if not await state.extend(LOCK_NAMESPACE, name, only_if=owner, ttl=ttl):
                return  # lost (it expired while the State was unreachable): nothing left to keep
        except StateUnavailable:
            continue  # try again; if the State stays away the lock expires, as it would for a dead holder
