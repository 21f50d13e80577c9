"""Pacing in front of Zoho, so agents almost never meet Zoho's own limits (../shared/zoho-books-api.md §7).

Zoho blocks an organization after 100 requests a minute (429, code 44, and no Retry-After), caps calls per day
by plan (code 45) and caps calls in flight (code 1070). zbmcp keeps, per organization, a sliding window of
recent sends, a concurrency cap and the day's count (kept across restarts). A call waits its turn up to a
bound; past it, or when the day's budget is spent, the agent gets RateLimited with retry_after.
Per-agent quotas use the same pieces, so one busy agent cannot starve the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio

from zbmcp.errors import RateLimited
from zbmcp.zoho.tokens import write_private_file

WINDOW_SECONDS = 60.0
# Sends and Zoho's arrivals are not simultaneous: a little slack keeps a full window from landing in 59.9 s.
WINDOW_SLACK = 0.02
IN_FLIGHT_POLL_SECONDS = 0.02


class SlidingWindow:
    """At most `limit` requests reach Zoho in any `window` seconds, counted the safe way.

    Zoho counts a request when it arrives, which is somewhere between our send and its answer. So a request
    occupies the window from the moment it is sent until `window` seconds after its answer: in flight it
    counts as "now", and once answered it is stamped with the answer's time. Then, for any window of Zoho's,
    every request arriving in it was either still in flight or answered less than `window` ago when the last
    of them was sent, so at most `limit` arrive in it, whatever the network delays.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.nominal = window
        self.window = window * (1 + WINDOW_SLACK)
        self._clock = clock
        self._answered: deque[float] = deque()
        self.in_flight = 0

    def wait_time(self) -> float:
        """Seconds until one more request fits (0 when it fits now; a short poll when only answers can free it)."""
        now = self._clock()
        while self._answered and self._answered[0] <= now - self.window:
            self._answered.popleft()
        over = self.in_flight + len(self._answered) - self.limit + 1
        if over <= 0:
            return 0.0
        if over <= len(self._answered):
            return self._answered[over - 1] + self.window - now
        return IN_FLIGHT_POLL_SECONDS

    def begin(self) -> None:
        self.in_flight += 1

    def end(self) -> None:
        self.in_flight -= 1
        self._answered.append(self._clock())


class DailyCounter:
    """Calls made today (UTC, as Zoho counts by day), optionally kept in a file across restarts."""

    def __init__(self, budget: int | None, path: Path | None, wall_clock: Callable[[], float]) -> None:
        self.budget = budget
        self._configured = budget
        self._path = path
        self._wall = wall_clock
        self._day, self.used = self._load()

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self._wall(), dt.UTC).date().isoformat()

    def _load(self) -> tuple[str, int]:
        today = self._today()
        if self._path is None:
            return today, 0
        with contextlib.suppress(FileNotFoundError, ValueError, json.JSONDecodeError):
            data = json.loads(self._path.read_text())
            if data.get("day") == today:
                return today, int(data.get("used", 0))
        return today, 0

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self.used = today, 0

    def remaining(self) -> int | None:
        self._roll()
        return None if self.budget is None else max(0, self.budget - self.used)

    def seconds_to_reset(self) -> float:
        now = dt.datetime.fromtimestamp(self._wall(), dt.UTC)
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        return (midnight - now).total_seconds()

    def record(self) -> None:
        self._roll()
        self.used += 1
        self._save()

    def correct(self, limit: int | None, remaining: int | None) -> None:
        """Zoho's X-Rate-Limit-* headers count every integration's calls, not only ours: trust them."""
        self._roll()
        if limit is not None:  # the plan's budget, unless the config sets a lower one of its own
            self.budget = limit if self._configured is None else min(limit, self._configured)
        if limit is not None and remaining is not None:
            self.used = max(self.used, limit - remaining)
            self._save()

    def _save(self) -> None:
        if self._path is not None and self.budget is not None:  # without a budget there is nothing to enforce
            write_private_file(self._path, json.dumps({"day": self._day, "used": self.used}).encode(), durable=False)


@dataclass
class Gate:
    """One set of limits: a sliding window, an optional concurrency cap, an optional daily budget."""

    name: str  # for messages: "organization 10234695" or "agent 'bookkeeper'"
    window: SlidingWindow | None
    concurrency: anyio.Semaphore | None
    daily: DailyCounter | None
    max_wait: float

    def check_daily(self) -> None:
        if self.daily is None:
            return
        if self.daily.remaining() == 0:
            retry = math.ceil(self.daily.seconds_to_reset())
            raise RateLimited(
                f"The daily API budget of {self.daily.budget} calls for {self.name} is spent; it resets at "
                f"midnight UTC, in {retry} s. Nothing was sent to Zoho.",
                retry_after=retry,
                status=None,
            )


class Pacer:
    """Holds every gate; `slot()` admits one request through an organization's and an agent's gates."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = anyio.current_time,
        wall_clock: Callable[[], float] | None = None,
        state_dir: Path | None = None,
    ) -> None:
        import time

        self._clock = clock
        self._wall = wall_clock or time.time
        self._state_dir = state_dir
        self._gates: dict[str, Gate] = {}

    def organization_gate(
        self, connection: str, organization_id: str, *, per_minute: int, concurrency: int,
        daily_budget: int | None, max_wait: float, window_seconds: float = WINDOW_SECONDS,
    ) -> Gate:
        key = f"org:{connection}:{organization_id}"
        if key not in self._gates:
            path = self._state_dir / f"usage-{connection}-{organization_id}.json" if self._state_dir else None
            self._gates[key] = Gate(
                name=f"organization {organization_id}",
                window=SlidingWindow(per_minute, window_seconds, self._clock),
                concurrency=anyio.Semaphore(concurrency),
                daily=DailyCounter(daily_budget, path, self._wall),
                max_wait=max_wait,
            )
        return self._gates[key]

    def agent_gate(self, agent: str, *, per_minute: int | None, per_day: int | None, max_wait: float) -> Gate | None:
        if per_minute is None and per_day is None:
            return None
        key = f"agent:{agent}"
        if key not in self._gates:
            path = self._state_dir / f"quota-{agent}.json" if self._state_dir else None
            self._gates[key] = Gate(
                name=f"agent {agent!r}",
                window=SlidingWindow(per_minute, WINDOW_SECONDS, self._clock) if per_minute else None,
                concurrency=None,
                daily=DailyCounter(per_day, path, self._wall) if per_day else None,
                max_wait=max_wait,
            )
        return self._gates[key]

    @contextlib.asynccontextmanager
    async def slot(self, *gates: Gate | None) -> AsyncIterator[None]:
        active = [g for g in gates if g is not None]
        for gate in active:
            gate.check_daily()
        deadline = self._clock() + min((g.max_wait for g in active), default=0.0)
        async with contextlib.AsyncExitStack() as stack:
            for gate in active:
                if gate.concurrency is not None:
                    await self._acquire(gate, gate.concurrency, deadline)
                    stack.callback(gate.concurrency.release)
            await self._wait_for_windows(active, deadline)
            windows = [gate.window for gate in active if gate.window is not None]
            for window in windows:
                window.begin()
            for gate in active:
                if gate.daily is not None:
                    gate.daily.record()
            try:
                yield
            finally:
                for window in windows:
                    window.end()

    async def _acquire(self, gate: Gate, semaphore: anyio.Semaphore, deadline: float) -> None:
        try:
            semaphore.acquire_nowait()
            return
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(max(0.0, deadline - self._clock())):
            await semaphore.acquire()
            return
        raise RateLimited(
            f"Too many calls are in flight for {gate.name}; waited {gate.max_wait:g} s for a free slot. "
            "Retry in a few seconds. Nothing was sent to Zoho.",
            retry_after=2,
            status=None,
        )

    async def _wait_for_windows(self, gates: list[Gate], deadline: float) -> None:
        while True:
            waits = [(g.window.wait_time(), g) for g in gates if g.window is not None]
            wait, gate = max(waits, default=(0.0, None), key=lambda pair: pair[0])
            if wait <= 0 or gate is None:
                return
            if self._clock() + wait > deadline and not (wait == IN_FLIGHT_POLL_SECONDS and self._clock() < deadline):
                assert gate.window is not None
                per = "a minute" if gate.window.nominal == WINDOW_SECONDS else f"per {gate.window.nominal:g} s"
                raise RateLimited(
                    f"The limit of {gate.window.limit} calls {per} for {gate.name} is reached, and the next free "
                    f"slot is {wait:.0f} s away (more than zbmcp waits). Retry in {math.ceil(wait)} s. "
                    "Nothing was sent to Zoho.",
                    retry_after=math.ceil(wait),
                    status=None,
                )
            await anyio.sleep(wait)

    def observe(self, gate: Gate, headers: Mapping[str, str]) -> None:
        if gate.daily is None:
            return
        gate.daily.correct(_int(headers.get("x-rate-limit-limit")), _int(headers.get("x-rate-limit-remaining")))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
