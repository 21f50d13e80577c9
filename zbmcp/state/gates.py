"""Gates in the State: request windows, concurrency slots and day counts every process and replica shares.

A gate is one set of limits (an organization's, an agent's quota). Zoho counts a request when it arrives,
somewhere between our send and its answer, so a request holds a place in its gate's window from its admission
until `window` seconds after its answer: in flight it counts as "now", once answered it is stamped with the
answer's time. Then every window of Zoho's sees at most `limit` arrivals, whatever the network does.

A request in flight holds a lease, not a place forever: a process or replica that dies (kill -9, a lost
node) cannot give its places back, so each lease ends on its own. The lease outlasts any live request (the
Pacer sets it from the connection's timeout), and when it runs out the request is counted as answered at
that moment, which is as late as it can have reached Zoho: its concurrency slot comes back at once, its window
place a window later.

Both backends apply these rules atomically for all the gates of one call at once (an organization's and an
agent's): LocalState in Python under file locks, RedisState in one Lua script. `Gates` is the protocol;
`judge` is the rule both follow, written once here in Python and once in the Lua of zbmcp/state/redis.py.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

# How soon to look again when only an answer still in flight can free a place (answers are not announced
# across processes; within one, the Pacer is woken at once).
IN_FLIGHT_POLL_SECONDS = 0.02
DAY_SECONDS = 86400

Reason = Literal["held", "day", "busy", "window"]
REASONS: tuple[Reason, ...] = ("held", "day", "busy", "window")


@dataclass(frozen=True)
class GateLimits:
    """One gate's rules, as one call's admission sees them. None: not limited."""

    key: str  # "org:<connection>:<organization id>" or "agent:<name>"
    per_window: int | None = None
    window: float = 60.0  # seconds, slack included
    concurrency: int | None = None
    daily_budget: int | None = None

    @property
    def tracks_requests(self) -> bool:
        return self.per_window is not None or self.concurrency is not None


@dataclass(frozen=True)
class Admission:
    admitted: bool
    wait: float = 0.0  # when not admitted: seconds before trying again can succeed
    blocking: int | None = None  # which gate said no (its index)
    reason: Reason | None = None
    day_used: int = 0  # the blocking gate's count for the day, when reason == "day"


@dataclass(frozen=True)
class GateUpdate:
    """What a finished request learned about one gate."""

    # Zoho's own count of the day's calls (X-Rate-Limit headers): raise ours to it
    day_used: int | None = None
    hold: float = 0.0  # Zoho said its window is full (code 44): admit nothing for this long


class Gates(Protocol):
    async def admit(self, gates: Sequence[GateLimits], ticket: str, *, lease: float) -> Admission:
        """Admit one request through every gate at once, or through none: on admission the ticket holds a
        lease in each gate and counts once in each gate's day."""
        ...

    async def finish(self, gates: Sequence[GateLimits], ticket: str, updates: Sequence[GateUpdate]) -> None:
        """The request was answered (or will never be sent): its window places start to expire now."""
        ...

    async def day_used(self, gate_key: str) -> int:
        """Calls counted today (UTC) in this gate."""
        ...


@dataclass
class GateState:
    """One gate as LocalState keeps it (RedisState keeps the same in a sorted set pair and a hash)."""

    in_flight: dict[str, float] = field(default_factory=dict)  # ticket -> lease end
    answered: list[float] = field(default_factory=list)  # answer times, oldest first
    held_until: float = 0.0
    day: int = 0
    used: int = 0

    def settle(self, limits: GateLimits, now: float) -> None:
        """Leases that ran out become answers at their end; answers older than a window leave it."""
        ended = [(end, ticket) for ticket, end in self.in_flight.items() if end <= now]
        for end, ticket in ended:
            del self.in_flight[ticket]
            bisect.insort(self.answered, end)
        if limits.per_window is None:  # answers matter only to a window
            self.answered.clear()
        else:  # and only the newest `limit` of them can ever decide a wait
            del self.answered[: bisect.bisect_right(self.answered, now - limits.window)]
            del self.answered[: max(0, len(self.answered) - limits.per_window)]
        if self.day != int(now // DAY_SECONDS):
            self.day, self.used = int(now // DAY_SECONDS), 0

    def judge(self, limits: GateLimits, now: float) -> tuple[Reason | None, float]:
        """Why this gate cannot admit a request now and for how long, or (None, 0) when it can."""
        if now < self.held_until:
            return "held", self.held_until - now
        if limits.daily_budget is not None and self.used >= limits.daily_budget:
            return "day", 0.0
        if limits.concurrency is not None and len(self.in_flight) >= limits.concurrency:
            return "busy", IN_FLIGHT_POLL_SECONDS
        if limits.per_window is not None:
            over = len(self.in_flight) + len(self.answered) - limits.per_window + 1
            if over > 0:
                if over <= len(self.answered):
                    return "window", self.answered[over - 1] + limits.window - now
                return "window", IN_FLIGHT_POLL_SECONDS
        return None, 0.0

    def admit(self, limits: GateLimits, ticket: str, lease_end: float) -> None:
        if limits.tracks_requests:
            self.in_flight[ticket] = lease_end
        self.used += 1

    def finish(self, limits: GateLimits, ticket: str, update: GateUpdate, now: float) -> None:
        if self.in_flight.pop(ticket, None) is not None and limits.per_window is not None:
            bisect.insort(self.answered, now)
        if update.day_used is not None and update.day_used > self.used:
            self.used = update.day_used
        if update.hold > 0:
            self.held_until = max(self.held_until, now + update.hold)


def decide(states: Sequence[GateState], gates: Sequence[GateLimits], now: float) -> Admission:
    """All gates at once: a spent day answers at once; otherwise the longest wait among the gates."""
    worst = Admission(True)
    for index, (gate_state, limits) in enumerate(zip(states, gates)):
        reason, wait = gate_state.judge(limits, now)
        if reason == "day":
            return Admission(False, 0.0, index, "day", gate_state.used)
        if reason is not None and (worst.admitted or wait > worst.wait):
            worst = Admission(False, wait, index, reason)
    return worst
