"""Gates for LocalState: one small file per gate under state/gates/, locked with flock while it changes.

A file: one JSON line (leases in flight, hold, day, the day's count, how many answers), then the answer times
as packed doubles, oldest first, which read and write in microseconds however many there are. It is rewritten
in place under the lock: a lock, a read, a write and an unlock per change. A process keeps what it last read
or wrote parsed, so the same bytes read again are not parsed again, and it writes nothing when nothing
changed (a refusal while the window is full).

What is read is checked, never trusted: a file that does not parse, holds the wrong types or impossible
values (a lease or hold ending in a thousand years, a negative count, answers from the future or out of order)
is copied to state/corrupt/ with a warning and the gate starts again empty. Forgetting a minute of history
costs at worst a 429 from Zoho, which then holds the gate; believing a lease of 1e300 would block it forever.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import time
import weakref
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from zbmcp.state import files
from zbmcp.state.base import StateUnavailable, new_id
from zbmcp.state.gates import DAY_SECONDS, Admission, GateLimits, GateState, GateUpdate, decide

log = logging.getLogger(__name__)

MAX_AHEAD_SECONDS = 86400.0  # no lease or hold runs longer than a day from now
CLOCK_SKEW_SECONDS = 5.0  # an answer "from the future" by more than this did not happen
MAX_COUNT = 10**9
TRUNCATE_SLACK_BYTES = 4096
LINK_CHECK_SECONDS = 1.0  # how often a process checks that its gate file was not deleted under it
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one of each, not one per call
_DECODE = json.JSONDecoder().decode


class CorruptGate(ValueError):
    pass


class LocalGates:
    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self._folder = root / "gates"
        self._clock = clock
        self._files: dict[str, _GateFile] = {}
        self._paths: dict[str, str] = {}
        _OPEN.add(self)  # a forked child must open its own (flock belongs to the open file description)

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
        for gate_file in self._files.values():
            os.close(gate_file.fd)
        self._files.clear()

    def _forget_after_fork(self) -> None:
        self._files.clear()  # the parent's descriptors stay the parent's

    # -- files -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, gates: Sequence[GateLimits]) -> Iterator[list[GateState]]:
        """Every gate's file locked (in one order, so two calls never wait on each other), read, then written.
        System calls are what costs here: a lock, a read, a write and an unlock, most of the time."""
        paths = [self._path(g.key) for g in gates]
        order = paths if len(paths) == 1 else sorted(set(paths))
        locked: list[_GateFile] = []
        try:
            for path in order:
                locked.append(self._lock(path))
            now = self._clock()
            read = {f.path: self._read(f, now) for f in locked}
            yield [read[path] for path in paths]
            for gate_file in locked:
                gate_file.write(read[gate_file.path])
        except OSError as exc:
            raise StateUnavailable(f"zbmcp cannot use its state folder {self._folder} "
                                   f"({exc.strerror}).") from None
        finally:
            for gate_file in locked:
                files.unlock(gate_file.fd)

    def _lock(self, path: str) -> _GateFile:
        gate_file = self._files.get(path)
        if gate_file is None:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            gate_file = self._files[path] = _GateFile(path, os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        files.lock(gate_file.fd)  # held for well under a millisecond by any process
        now = time.monotonic()
        if now >= gate_file.check_at:  # a person deleted the file? Then share the new one, not our orphan.
            gate_file.check_at = now + LINK_CHECK_SECONDS
            if os.fstat(gate_file.fd).st_nlink == 0:
                files.unlock(gate_file.fd)
                os.close(gate_file.fd)
                del self._files[path]
                return self._lock(path)
        return gate_file

    def _path(self, key: str) -> str:
        path = self._paths.get(key)
        if path is None:
            readable = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:80]
            digest = hashlib.sha256(key.encode()).hexdigest()[:12]
            path = self._paths[key] = str(self._folder / f"{readable}-{digest}")
        return path

    def _read(self, gate_file: _GateFile, now: float) -> GateState:
        data = files.read_from_start(gate_file.fd)
        gate_file.length = len(data)
        if data and data == gate_file.content and gate_file.state is not None:
            return _copy(gate_file.state)  # as this process left it: parsed and checked then
        gate_file.content, gate_file.state = data, None
        if not data:
            return GateState(day=int(now // DAY_SECONDS))
        try:
            gate_state = _parse(data, now)
        except CorruptGate as why:
            self._keep_aside(gate_file.path, data, str(why))
            return GateState(day=int(now // DAY_SECONDS))
        gate_file.state = _copy(gate_state)
        return gate_state

    def _keep_aside(self, path: str, data: bytes, why: str) -> None:
        # Copied, not renamed: other processes hold this very file open and locked.
        corrupt = self.root / "corrupt"
        target = corrupt / f"{Path(path).name}-{int(time.time())}-{new_id()[:8]}"
        with contextlib.suppress(OSError):
            corrupt.mkdir(mode=0o700, parents=True, exist_ok=True)
            target.write_bytes(data)
        log.warning("state file %s %s; kept a copy as %s and started the gate again", path, why, target)


class _GateFile:
    """One gate's open file, and what this process last read or wrote there (`content`, parsed as `state`):
    the next change finds the same bytes unless another process changed the gate meanwhile, and skips the
    parse; a change that changes nothing (a refusal) is not written."""

    __slots__ = ("check_at", "content", "fd", "length", "path", "state")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.length = 0
        self.check_at = 0.0
        self.content = b""
        self.state: GateState | None = None

    def write(self, gate_state: GateState) -> None:
        data = _dump(gate_state)
        if data == self.content[: len(data)]:
            return  # the very bytes the file holds already (what lies past them is ignored when read)
        files.write_from_start(self.fd, data)
        # What lies past the new end is ignored when read (the head counts the answers), so the file is cut
        # only when a lot is left over: truncating every time would cost a system call per change.
        if len(data) + TRUNCATE_SLACK_BYTES < self.length:
            os.ftruncate(self.fd, len(data))
            self.content = data
        else:
            self.content = data + self.content[len(data):]
        self.state = _copy(gate_state)


_OPEN: weakref.WeakSet[LocalGates] = weakref.WeakSet()


def _after_fork() -> None:
    for gates in list(_OPEN):
        gates._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _parse(data: bytes, now: float) -> GateState:
    head, newline, packed = data.partition(b"\n")
    try:
        raw = _DECODE(head.decode())
    except (ValueError, UnicodeDecodeError):
        raise CorruptGate("does not parse") from None
    count = raw.get("n") if isinstance(raw, dict) else None
    # Bytes past the `n` answers are left over from a longer version of the file (it
    # is not truncated each time).
    if not newline or not _count(count) or len(packed) < 8 * count:
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
    answered.frombytes(packed[: 8 * count])
    times = answered.tolist()
    # In C, not per item in Python: a sum is finite only if no time is infinite or NaN.
    if times and (not math.isfinite(sum(times)) or times != sorted(times) or times[0] < 0
                  or times[-1] > now + CLOCK_SKEW_SECONDS):
        raise CorruptGate("holds impossible answer times")
    return GateState(in_flight=dict(in_flight), answered=times, held_until=float(held), day=day, used=used)


def _copy(gate_state: GateState) -> GateState:
    return GateState(in_flight=dict(gate_state.in_flight), answered=list(gate_state.answered),
                     held_until=gate_state.held_until, day=gate_state.day, used=gate_state.used)


def _dump(gate_state: GateState) -> bytes:
    head = _ENCODE({"f": gate_state.in_flight, "h": gate_state.held_until, "d": gate_state.day,
                    "u": gate_state.used, "n": len(gate_state.answered)}).encode()
    return head + b"\n" + array("d", gate_state.answered).tobytes()


def _time(value: Any) -> TypeGuard[float]:
    return isinstance(value, float | int) and not isinstance(value, bool) and math.isfinite(value) \
        and value >= 0


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT
