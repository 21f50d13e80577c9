"""Request windows: at most `limit` requests reach Zoho in any `window` seconds, counted the safe way.

Zoho counts a request when it arrives, somewhere between our send and its answer. So a request occupies the
window from the moment it is sent until `window` seconds after its answer: in flight it counts as "now", and
once answered it is stamped with the answer's time. Then, for any window of Zoho's, every request arriving in
it was either still in flight or answered less than `window` ago when the last of them was sent, so at most
`limit` arrive in it, whatever the network delays.

Two kinds, one interface (`try_begin` admits and returns a ticket or says how long to wait; `end` stamps the
answer; `cancel` gives a place back; `hold` shuts the window after Zoho said 429):

    SlidingWindow   in memory, for one process (per-agent quotas)
    SharedWindow    a small file under $ZBMCP_HOME, locked with flock, so every zbmcp process of the user
                    (several stdio servers started by desktop clients, say) paces one organization together
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import itertools
import json
import os
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

# Zoho's window boundaries are not documented (a fixed minute, a sliding one, whole seconds): a little slack
# keeps a full window from landing in 59.9 s of Zoho's count. A second at most: Zoho's clock ticks no coarser.
WINDOW_SLACK = 0.02
MAX_SLACK_SECONDS = 1.0


def with_slack(window: float) -> float:
    return window + min(window * WINDOW_SLACK, MAX_SLACK_SECONDS)
# How soon to look again when only answers still in flight can free a place.
IN_FLIGHT_POLL_SECONDS = 0.02
# A request still in flight after this long has its process checked: a crashed one frees its places.
LIVENESS_AFTER_SECONDS = 5.0
# One counter per process: two windows on one file in one process must never hand out the same ticket.
_TICKETS = itertools.count()


class Window(Protocol):
    limit: int
    nominal: float

    def try_begin(self) -> tuple[str | None, float]:
        """(ticket, 0) when admitted now; (None, seconds to wait) otherwise."""
        ...

    def end(self, ticket: str) -> None: ...

    def cancel(self, ticket: str) -> None: ...

    def hold(self, seconds: float) -> None:
        """Admit nothing for `seconds`: Zoho has just said its window is full."""
        ...


def _wait(answered: Sequence[float], in_flight: int, limit: int, window: float, now: float,
          held_until: float) -> float:
    if now < held_until:
        return held_until - now
    over = in_flight + len(answered) - limit + 1
    if over <= 0:
        return 0.0
    if over <= len(answered):
        return answered[over - 1] + window - now
    return IN_FLIGHT_POLL_SECONDS


class SlidingWindow:
    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.nominal = window
        self.window = with_slack(window)
        self._clock = clock
        self._answered: deque[float] = deque()
        self._in_flight: set[str] = set()
        self._held_until = 0.0
        self._tickets = itertools.count()

    def try_begin(self) -> tuple[str | None, float]:
        now = self._clock()
        while self._answered and self._answered[0] <= now - self.window:
            self._answered.popleft()
        wait = _wait(self._answered, len(self._in_flight), self.limit, self.window, now, self._held_until)
        if wait > 0:
            return None, wait
        ticket = str(next(self._tickets))
        self._in_flight.add(ticket)
        return ticket, 0.0

    def end(self, ticket: str) -> None:
        if ticket in self._in_flight:
            self._in_flight.discard(ticket)
            self._answered.append(self._clock())

    def cancel(self, ticket: str) -> None:
        self._in_flight.discard(ticket)

    def hold(self, seconds: float) -> None:
        self._held_until = max(self._held_until, self._clock() + seconds)


class SharedWindow:
    """The same window, kept in a file that every zbmcp process of this user reads and writes under flock.

    One small file, opened, locked, read and rewritten in place for each change: a few system calls, no
    rename, because the lock already keeps readers from seeing half a write (and a torn file after a crash
    reads as empty, which only forgets a minute of history). In-flight entries name their process, so a
    crashed process's places are freed instead of kept forever.
    """

    def __init__(self, limit: int, window: float, path: Path, *, stale_after: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.nominal = window
        self.window = with_slack(window)
        self._path = path
        self._stale_after = stale_after  # a request in flight longer than this is not coming back
        self._clock = clock
        self._pid = os.getpid()
        self._fd: int | None = None
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def try_begin(self) -> tuple[str | None, float]:
        with self._state() as state:
            now = self._clock()
            wait = _wait(state.answered, len(state.in_flight), self.limit, self.window, now, state.held_until)
            if wait > 0:
                return None, wait
            ticket = f"{self._pid}-{next(_TICKETS)}"
            state.in_flight[ticket] = now
            state.dirty = True
            return ticket, 0.0

    def end(self, ticket: str) -> None:
        with self._state() as state:
            if state.in_flight.pop(ticket, None) is not None:
                state.answered.append(self._clock())
                state.dirty = True

    def cancel(self, ticket: str) -> None:
        with self._state() as state:
            state.dirty = state.in_flight.pop(ticket, None) is not None

    def hold(self, seconds: float) -> None:
        with self._state() as state:
            state.held_until = max(state.held_until, self._clock() + seconds)
            state.dirty = True

    @contextlib.contextmanager
    def _state(self) -> Iterator[_State]:
        if self._fd is None or os.getpid() != self._pid:  # (a forked child needs a description of its own)
            self._pid = os.getpid()
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fd = self._fd
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for well under a millisecond by any process
        try:
            state = self._parse(os.pread(fd, 1 << 20, 0))
            yield state
            if state.dirty:
                data = state.dump(self.limit)
                os.pwrite(fd, data, 0)
                os.ftruncate(fd, len(data))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

    def _parse(self, data: bytes) -> _State:
        """The file: one JSON line (requests in flight, hold), then the answer times as packed doubles, oldest
        first, which read and write in microseconds however many there are."""
        state = _State()
        head, _, packed = data.partition(b"\n")
        try:
            raw = json.loads(head) if head else {}
            answered = array("d")
            answered.frombytes(packed[: len(packed) - len(packed) % 8])
        except ValueError:
            return state  # torn by a crash: forget, and start counting again
        now = self._clock()
        # Written in order under the lock, so a binary search finds what has left the window.
        state.answered = answered[bisect.bisect_right(answered, now - self.window):]
        in_flight = raw.get("f") if isinstance(raw, dict) else None
        state.in_flight = {
            ticket: started for ticket, started in (in_flight if isinstance(in_flight, dict) else {}).items()
            if isinstance(started, (int, float)) and now - started < self._stale_after
            # asking whether a process still lives costs a system call: only for places held a while
            and (now - started < LIVENESS_AFTER_SECONDS or _alive(ticket))
        }
        held = raw.get("h", 0.0) if isinstance(raw, dict) else 0.0
        state.held_until = held if isinstance(held, (int, float)) else 0.0
        state.dirty = len(state.answered) != len(answered) or len(state.in_flight) != len(in_flight or {})
        return state


class _State:
    def __init__(self) -> None:
        self.answered: array[float] = array("d")
        self.in_flight: dict[str, float] = {}
        self.held_until = 0.0
        self.dirty = False

    def dump(self, limit: int) -> bytes:
        head = json.dumps({"f": self.in_flight, "h": self.held_until}, separators=(",", ":")).encode()
        # Only the newest `limit` answers can ever decide a wait, so the file never grows past that.
        return head + b"\n" + self.answered[-limit:].tobytes()


def _alive(ticket: str) -> bool:
    pid = int(ticket.split("-", 1)[0]) if ticket.split("-", 1)[0].isdigit() else 0
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process that exists
    return True
