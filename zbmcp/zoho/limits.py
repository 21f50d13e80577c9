"""Pacing in front of Zoho, so agents almost never meet Zoho's own limits (../shared/zoho-books-api.md §7).

Zoho blocks an organization after 100 requests a minute (429, code 44, and no Retry-After), caps calls per day
by plan (code 45) and caps calls in flight (code 1070). zbmcp keeps, per organization, a window of recent
requests shared by every zbmcp process of the user (zbmcp.zoho.windows), a concurrency cap and the day's
count (kept across restarts). A call waits its turn up to a bound; past it, or when the day's budget is spent,
the agent gets RateLimited with retry_after. Per-agent quotas use the same pieces, so one busy agent cannot
starve the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio

from zbmcp.errors import RateLimited
from zbmcp.zoho.tokens import write_private_file
from zbmcp.zoho.windows import SlidingWindow, Window

try:
    from zbmcp.zoho.windows import SharedWindow
except ImportError:  # no fcntl (Windows): each process paces on its own
    SharedWindow = None  # type: ignore[assignment,misc]

WINDOW_SECONDS = 60.0
# Saving the day's count on every call costs more than a call's own work; losing a second of it costs nothing,
# as Zoho's X-Rate-Limit headers correct it.
SAVE_EVERY_SECONDS = 1.0


class DailyCounter:
    """Calls made today (UTC, as Zoho counts by day), optionally kept in a file across restarts.

    Each process counts its own calls; Zoho's X-Rate-Limit headers, which count everyone's, correct the figure
    upwards on every answer, so several processes sharing one organization still see the day's real use.
    """

    def __init__(self, budget: int | None, path: Path | None, wall_clock: Callable[[], float]) -> None:
        self.budget = budget
        self._configured = budget
        self._path = path
        self._wall = wall_clock
        self._saved_at = 0.0
        self._day_starts = self._day_ends = 0.0
        self._day_name = ""
        self._day, self.used = self._load()

    def _today(self) -> str:
        now = self._wall()
        if not self._day_starts <= now < self._day_ends:  # a date computed per call costs more than a call's work
            day = dt.datetime.fromtimestamp(now, dt.UTC).date()
            self._day_starts = dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()
            self._day_ends = self._day_starts + 86400
            self._day_name = day.isoformat()
        return self._day_name

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
        if self.remaining() == 0 or self._wall() - self._saved_at >= SAVE_EVERY_SECONDS:
            self._save()

    def correct(self, limit: int | None, remaining: int | None) -> None:
        """Zoho's X-Rate-Limit-* headers count every integration's calls, not only ours: trust them."""
        self._roll()
        if limit is not None:  # the plan's budget, unless the config sets a lower one of its own
            self.budget = limit if self._configured is None else min(limit, self._configured)
        if limit is not None and remaining is not None and limit - remaining > self.used:
            self.used = limit - remaining
            if remaining == 0 or self._wall() - self._saved_at >= SAVE_EVERY_SECONDS:
                self._save()

    def _save(self) -> None:
        self._saved_at = self._wall()
        if self._path is not None and self.budget is not None:  # without a budget there is nothing to enforce
            write_private_file(self._path, json.dumps({"day": self._day, "used": self.used}).encode(), durable=False)


@dataclass
class Gate:
    """One set of limits: a sliding window, an optional concurrency cap, an optional daily budget."""

    name: str  # for messages: "organization 10234695" or "agent 'bookkeeper'"
    window: Window | None
    concurrency: anyio.Semaphore | None
    daily: DailyCounter | None
    max_wait: float
    strikes: int = 0  # Zoho's "window full" answers in a row

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
            window: Window = SlidingWindow(per_minute, window_seconds, self._clock)
            if self._state_dir is not None and SharedWindow is not None:
                window = SharedWindow(per_minute, window_seconds,
                                      self._state_dir / f"window-{connection}-{organization_id}",
                                      stale_after=max_wait + window_seconds + 300)
            self._gates[key] = Gate(
                name=f"organization {organization_id}",
                window=window,
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
            tickets = await self._enter_windows(active, deadline)
            for gate in active:
                if gate.daily is not None:
                    gate.daily.record()
            try:
                yield
            finally:
                for window, ticket in tickets:
                    window.end(ticket)

    def hold(self, gate: Gate, seconds: float) -> None:
        """Zoho said its window is full (code 44): admit nothing to this organization for a while."""
        if gate.window is not None:
            gate.window.hold(seconds)

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

    async def _enter_windows(self, gates: list[Gate], deadline: float) -> list[tuple[Window, str]]:
        """A place in every gate's window at once, or none: waits up to the deadline."""
        while True:
            tickets: list[tuple[Window, str]] = []
            wait, blocking = 0.0, None
            for gate in gates:
                if gate.window is None:
                    continue
                ticket, gate_wait = gate.window.try_begin()
                if ticket is None:
                    wait, blocking = gate_wait, gate
                    break
                tickets.append((gate.window, ticket))
            if blocking is None:
                return tickets
            for window, ticket in tickets:
                window.cancel(ticket)
            if self._clock() + wait > deadline:
                assert blocking.window is not None
                limit = blocking.window
                per = "a minute" if limit.nominal == WINDOW_SECONDS else f"per {limit.nominal:g} s"
                raise RateLimited(
                    f"The limit of {limit.limit} calls {per} for {blocking.name} is reached, and the next free "
                    f"slot is {wait:.0f} s away (more than zbmcp waits). Retry in {math.ceil(wait)} s. "
                    "Nothing was sent to Zoho.",
                    retry_after=max(1, math.ceil(wait)),
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
