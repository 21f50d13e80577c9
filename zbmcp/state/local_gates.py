"""Gates for LocalState: one small file per gate under state/gates/, locked with flock while it changes.

A file: one JSON line (leases in flight, hold, day, the day's count), then the answer times as packed doubles,
oldest first, which read and write in microseconds however many there are. It is rewritten in place under the
lock, a few system calls per change.

What is read is checked, never trusted: a file that does not parse, holds the wrong types or impossible
values (a lease or hold ending in a thousand years, a negative count, answers from the future or out of order)
is copied to state/corrupt/ with a warning and the gate starts again empty. Forgetting a minute of history
costs at worst a 429 from Zoho, which then holds the gate; believing a lease of 1e300 would block it forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from zbmcp.state.base import StateUnavailable, new_id
from zbmcp.state.gates import DAY_SECONDS, Admission, GateLimits, GateState, GateUpdate, decide

log = logging.getLogger(__name__)

MAX_AHEAD_SECONDS = 86400.0  # no lease or hold runs longer than a day from now
CLOCK_SKEW_SECONDS = 5.0  # an answer "from the future" by more than this did not happen
MAX_COUNT = 10**9


class CorruptGate(ValueError):
    pass


class LocalGates:
    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self._folder = root / "gates"
        self._clock = clock
        self._fds: dict[str, int] = {}
        self._paths: dict[str, str] = {}
        self._pid = os.getpid()

    async def admit(self, gates: Sequence[GateLimits], ticket: str, *, lease: float) -> Admission:
        with self._locked(gates) as states:
            now = self._clock()
            for gate_state, limits in zip(states, gates):
                gate_state.settle(limits, now)
            admission = decide(states, gates, now)
            if admission.admitted:
                for gate_state, limits in zip(states, gates):
                    gate_state.admit(limits, ticket, now + lease)
            return admission

    async def finish(self, gates: Sequence[GateLimits], ticket: str, updates: Sequence[GateUpdate]) -> None:
        with self._locked(gates) as states:
            now = self._clock()
            for gate_state, limits, update in zip(states, gates, updates):
                gate_state.settle(limits, now)
                gate_state.finish(limits, ticket, update, now)

    async def day_used(self, gate_key: str) -> int:
        with self._locked([GateLimits(gate_key)]) as (gate_state,):
            gate_state.settle(GateLimits(gate_key), self._clock())
            return gate_state.used

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    # -- files -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, gates: Sequence[GateLimits]) -> Iterator[list[GateState]]:
        """Every gate's file locked (in one order, so two calls never wait on each other), read, then written."""
        if os.getpid() != self._pid:  # a forked child needs file descriptions of its own for flock
            self._fds.clear()
            self._pid = os.getpid()
        paths = [self._path(g.key) for g in gates]
        order = sorted(set(paths))
        fds: dict[str, int] = {}
        try:
            for path in order:
                fds[path] = self._lock(path)
            now = self._clock()
            read = {path: self._read(fds[path], path, now) for path in order}
            states = [read[path][0] for path in paths]
            yield states
            for path in order:
                gate_state, length = read[path]
                data = _dump(gate_state)
                os.pwrite(fds[path], data, 0)
                if len(data) < length:
                    os.ftruncate(fds[path], len(data))
        except OSError as exc:
            raise StateUnavailable(f"zbmcp cannot use its state folder {self._folder} ({exc.strerror}).") from None
        finally:
            for fd in fds.values():
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _lock(self, path: str) -> int:
        fd = self._fds.get(path)
        if fd is None:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = self._fds[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for well under a millisecond by any process
        if os.fstat(fd).st_nlink == 0:  # someone deleted the file: share the new one, not our orphan
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            del self._fds[path]
            return self._lock(path)
        return fd

    def _path(self, key: str) -> str:
        path = self._paths.get(key)
        if path is None:
            readable = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:80]
            path = self._paths[key] = str(self._folder / f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}")
        return path

    def _read(self, fd: int, path: str, now: float) -> tuple[GateState, int]:
        data = os.pread(fd, 1 << 22, 0)
        if not data:
            return GateState(day=int(now // DAY_SECONDS)), 0
        try:
            return _parse(data, now), len(data)
        except CorruptGate as why:
            self._keep_aside(path, data, str(why))
            return GateState(day=int(now // DAY_SECONDS)), len(data)

    def _keep_aside(self, path: str, data: bytes, why: str) -> None:
        # Copied, not renamed: other processes hold this very file open and locked.
        corrupt = self.root / "corrupt"
        target = corrupt / f"{Path(path).name}-{int(time.time())}-{new_id()[:8]}"
        with contextlib.suppress(OSError):
            corrupt.mkdir(mode=0o700, parents=True, exist_ok=True)
            target.write_bytes(data)
        log.warning("state file %s %s; kept a copy as %s and started the gate again", path, why, target)


def _parse(data: bytes, now: float) -> GateState:
    head, newline, packed = data.partition(b"\n")
    try:
        raw = json.loads(head)
    except (ValueError, UnicodeDecodeError):
        raise CorruptGate("does not parse") from None
    if not newline or not isinstance(raw, dict) or len(packed) % 8:
        raise CorruptGate("is not a gate zbmcp wrote")
    in_flight = raw.get("f")
    if not isinstance(in_flight, dict) or not all(
            isinstance(k, str) and _time(v) and v <= now + MAX_AHEAD_SECONDS for k, v in in_flight.items()):
        raise CorruptGate("holds impossible leases")
    held, day, used = raw.get("h"), raw.get("d"), raw.get("u")
    if not (_time(held) and held <= now + MAX_AHEAD_SECONDS):
        raise CorruptGate("holds an impossible hold")
    if not (_count(day) and day <= now // DAY_SECONDS + 1) or not _count(used):
        raise CorruptGate("holds an impossible day count")
    answered = array("d")
    answered.frombytes(packed)
    times = answered.tolist()
    # In C, not per item in Python: a sum is finite only if no time is infinite or NaN.
    if times and (not math.isfinite(sum(times)) or times != sorted(times) or times[0] < 0
                  or times[-1] > now + CLOCK_SKEW_SECONDS):
        raise CorruptGate("holds impossible answer times")
    return GateState(in_flight=dict(in_flight), answered=times, held_until=float(held), day=day, used=used)


def _dump(gate_state: GateState) -> bytes:
    head = json.dumps({"f": gate_state.in_flight, "h": gate_state.held_until, "d": gate_state.day,
                       "u": gate_state.used}, separators=(",", ":")).encode()
    return head + b"\n" + array("d", gate_state.answered).tobytes()


def _time(value: Any) -> TypeGuard[float]:
    return isinstance(value, float | int) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT
