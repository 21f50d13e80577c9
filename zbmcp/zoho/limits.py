"""Pacing in front of Zoho, so agents almost never meet Zoho's own limits (../shared/zoho-books-api.md §7).

Zoho blocks an organization after 100 requests a minute (429, code 44, and no Retry-After), caps calls per day
by plan (code 45) and caps calls in flight (code 1070). zbmcp keeps, per organization, a request window, a
concurrency cap and the day's count, and per agent an optional quota (per minute, per day). They live in the
State (zbmcp.state.gates), so every process on the machine, or every replica of a fleet, paces together: one
organization's limit is one limit however many servers share it.

A call waits its turn up to a bound; past it, or when a day's budget is spent, the agent gets RateLimited with
retry_after. When the State cannot be reached, the agent gets StateUnavailable: nothing was sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

import anyio

from zbmcp.errors import RateLimited
from zbmcp.state import State, StateUnavailable, new_id
from zbmcp.state.gates import IN_FLIGHT_POLL_SECONDS, Admission, GateLimits, GateUpdate

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
# Zoho's window boundaries are not documented (a fixed minute, a sliding one, whole seconds): a little slack
# keeps a full window from landing in 59.9 s of Zoho's count. A second at most: Zoho's clock ticks no coarser.
WINDOW_SLACK = 0.02
MAX_SLACK_SECONDS = 1.0
# A request's lease on its places outlasts the longest it can be in flight: a token call and the API call,
# each bounded by the connection's timeout, and this margin.
LEASE_MARGIN_SECONDS = 5.0
# Giving places back must not hang a call whose answer is already here; a lease frees them anyway.
FINISH_TIMEOUT_SECONDS = 5.0


def with_slack(window: float) -> float:
    return window + min(window * WINDOW_SLACK, MAX_SLACK_SECONDS)


@dataclass
class Gate:
    """One set of limits: an organization's (window, concurrency, day) or an agent's quota (window, day)."""

    name: str  # for messages: "organization 10234695" or "agent 'bookkeeper'"
    key: str  # its name in the State
    per_window: int | None
    window_seconds: float  # nominal, as configured
    concurrency: int | None
    configured_budget: int | None
    max_wait: float
    lease: float = 0.0
    strikes: int = 0  # Zoho's "window full" answers in a row
    learned_budget: int | None = None  # the plan's, from Zoho's X-Rate-Limit-Limit
    seen_day_used: int | None = None  # Zoho's count of the day, waiting to be recorded
    pending_hold: float = 0.0
    _limits: GateLimits | None = field(default=None, repr=False)

    @property
    def daily_budget(self) -> int | None:
        budgets = [b for b in (self.configured_budget, self.learned_budget) if b is not None]
        return min(budgets) if budgets else None

    def limits(self) -> GateLimits:
        if self._limits is None:
            self._limits = GateLimits(self.key, self.per_window, with_slack(self.window_seconds),
                                      self.concurrency, self.daily_budget)
        return self._limits

    def learn_budget(self, budget: int) -> None:
        if budget != self.learned_budget:
            self.learned_budget = budget
            self._limits = None

    def take_update(self) -> GateUpdate:
        if self.seen_day_used is None and not self.pending_hold:
            return GateUpdate()
        update = GateUpdate(self.seen_day_used, self.pending_hold)
        self.seen_day_used, self.pending_hold = None, 0.0
        return update


class Pacer:
    """Holds every gate; `slot()` admits one request through an organization's and an agent's gates."""

    def __init__(self, state: State, *, clock: Callable[[], float] = anyio.current_time,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self._clock = clock
        self._wall = wall_clock
        self._gates: dict[str, Gate] = {}
        self._answered = anyio.Event()  # set whenever a call of this process gives its places back

    def organization_gate(
        self, connection: str, organization_id: str, *, per_minute: int, concurrency: int,
        daily_budget: int | None, max_wait: float, window_seconds: float = WINDOW_SECONDS,
        timeout: float = 30.0,
    ) -> Gate:
        key = f"org:{connection}:{organization_id}"
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = Gate(
                name=f"organization {organization_id}", key=key, per_window=per_minute,
                window_seconds=window_seconds, concurrency=concurrency, configured_budget=daily_budget,
                max_wait=max_wait, lease=2 * timeout + LEASE_MARGIN_SECONDS,
            )
        return gate

    def agent_gate(self, agent: str, *, per_minute: int | None, per_day: int | None,
                   max_wait: float) -> Gate | None:
        if per_minute is None and per_day is None:
            return None
        key = f"agent:{agent}"
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = Gate(
                name=f"agent {agent!r}", key=key, per_window=per_minute, window_seconds=WINDOW_SECONDS,
                concurrency=None, configured_budget=per_day, max_wait=max_wait,
            )
        return gate

    @contextlib.asynccontextmanager
    async def slot(self, *gates: Gate | None) -> AsyncIterator[None]:
        active = [g for g in gates if g is not None]
        if not active:
            yield
            return
        limits = [g.limits() for g in active]
        ticket = new_id()
        try:
            await self._admit(active, limits, ticket, max(g.lease for g in active) or LEASE_MARGIN_SECONDS)
            yield
        finally:
            # Also after a refusal or a cancellation mid-admission: the State may have admitted the ticket
            # just before, and finishing a ticket it does not hold changes nothing.
            await self._finish(active, limits, ticket)

    def hold(self, gate: Gate, seconds: float) -> None:
        """Zoho said its window is full (code 44): admit nothing to this organization for a while, anywhere.
        Recorded when the call's slot ends, with its answer."""
        gate.pending_hold = max(gate.pending_hold, seconds)

    def observe(self, gate: Gate, headers: Mapping[str, str]) -> None:
        """Zoho's X-Rate-Limit-* headers count every integration's calls, not only ours: trust them."""
        limit = _int(headers.get("x-rate-limit-limit"))
        remaining = _int(headers.get("x-rate-limit-remaining"))
        if limit is not None and limit > 0:
            gate.learn_budget(limit)
            if remaining is not None and 0 <= remaining <= limit:
                gate.seen_day_used = max(gate.seen_day_used or 0, limit - remaining)

    async def day_used(self, gate: Gate) -> int:
        return await self.state.day_used(gate.key)

    # -- admission ---------------------------------------------------------------------------------------

    async def _admit(self, gates: list[Gate], limits: list[GateLimits], ticket: str, lease: float) -> None:
        deadline = self._clock() + min(g.max_wait for g in gates)
        while True:
            answered = self._answered
            admission = await self.state.admit(limits, ticket, lease=lease)
            if admission.admitted:
                return
            assert admission.blocking is not None
            gate = gates[admission.blocking]
            if admission.reason == "day":
                raise self._day_spent(gate, limits[admission.blocking])
            if self._clock() + admission.wait > deadline:
                raise self._too_long(gate, admission)
            if admission.wait <= IN_FLIGHT_POLL_SECONDS:  # only an answer frees a place: one of ours, perhaps
                with anyio.move_on_after(admission.wait):
                    await answered.wait()
            else:
                await anyio.sleep(admission.wait)

    async def _finish(self, gates: list[Gate], limits: list[GateLimits], ticket: str) -> None:
        updates = [g.take_update() for g in gates]
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + FINISH_TIMEOUT_SECONDS
            try:
                await self.state.finish(limits, ticket, updates)
            except StateUnavailable:
                # The call itself is done and its answer stands: reporting it failed would invite a duplicate.
                # Its lease gives its places back on its own.
                log.warning("could not give back the places of a finished call; they free themselves when "
                            "their lease ends")
        if scope.cancelled_caught:
            log.warning("giving back the places of a finished call took over %g s; they free themselves when "
                        "their lease ends", FINISH_TIMEOUT_SECONDS)
        self._answered.set()
        self._answered = anyio.Event()

    def _day_spent(self, gate: Gate, limits: GateLimits) -> RateLimited:
        retry = math.ceil(self._seconds_to_utc_midnight())
        return RateLimited(
            f"The daily API budget of {limits.daily_budget} calls for {gate.name} is spent; it resets at "
            f"midnight UTC, in {retry} s. Nothing was sent to Zoho.",
            retry_after=retry,
            status=None,
        )

    def _too_long(self, gate: Gate, admission: Admission) -> RateLimited:
        if admission.reason == "busy":
            return RateLimited(
                f"Too many calls are in flight for {gate.name}; waited {gate.max_wait:g} s for a free slot. "
                "Retry in a few seconds. Nothing was sent to Zoho.",
                retry_after=2,
                status=None,
            )
        wait = admission.wait
        per = "a minute" if gate.window_seconds == WINDOW_SECONDS else f"per {gate.window_seconds:g} s"
        return RateLimited(
            f"The limit of {gate.per_window} calls {per} for {gate.name} is reached, and the next free "
            f"slot is {wait:.0f} s away (more than zbmcp waits). Retry in {math.ceil(wait)} s. "
            "Nothing was sent to Zoho.",
            retry_after=max(1, math.ceil(wait)),
            status=None,
        )

    def _seconds_to_utc_midnight(self) -> float:
        now = dt.datetime.fromtimestamp(self._wall(), dt.UTC)
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        return (midnight - now).total_seconds()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
