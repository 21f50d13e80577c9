"""Operators' sessions and the sign-in back-off, kept in the shared record store (so any replica knows them).

A session is a random token in an HttpOnly, SameSite=Strict cookie; the store keeps only its hash, with the
operator's name, a CSRF token for the session's forms, and an expiry. Failed sign-ins slow the guesser down
(SignInGuard), so guessing a secret online is hopeless, and never lock the operator out from where they sign
in.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from zbmcp.state import State

SESSION_COOKIE = "zbmcp_console"
FREE_ATTEMPTS = 3
MAX_DELAY_SECONDS = 15 * 60
FAILURE_MEMORY_SECONDS = 24 * 3600
SPREAD_ADDRESSES = 10
KNOWN_DAYS = 30


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    operator: str
    csrf: str
    expires_at: float


class Sessions:
    def __init__(self, state: State, ttl_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.ttl = ttl_seconds
        self._clock = clock

    async def start(self, operator: str) -> tuple[str, Session]:
        """A new session; returns the cookie's token (shown to nobody else, stored only as a hash)."""
        token = secrets.token_urlsafe(32)
        session = Session(operator=operator, csrf=secrets.token_urlsafe(32),
                          expires_at=self._clock() + self.ttl)
        record = {"operator": session.operator, "csrf": session.csrf, "expires_at": session.expires_at}
        await self.state.put("console-session", _digest(token), record, ttl=self.ttl)
        return token, session

    async def find(self, token: str | None) -> Session | None:
        if not token or len(token) > 200:
            return None
        record = await self.state.get("console-session", _digest(token))
        if not isinstance(record, dict) or record["expires_at"] <= self._clock():
            return None
        return Session(record["operator"], record["csrf"], record["expires_at"])

    async def end(self, token: str | None) -> None:
        if token and len(token) <= 200:
            await self.state.delete("console-session", _digest(token))


class SignInGuard:
    """How long a sign-in attempt must wait, by earlier failures counted three ways:

      * of this name from this address, and from this address whatever the name: after FREE_ATTEMPTS each
        further attempt waits twice as long (2 s, 4 s, ... up to 15 minutes), the right secret too;
      * of an operator's name from everywhere: once failures come from SPREAD_ADDRESSES addresses or more
        (guessing spread over many machines), every attempt on that name waits, growing with the failures,
        except from an address this operator signed in from within KNOWN_DAYS.

    So one stranger's failures slow that stranger down, and never the operator signing in from elsewhere; and
    guessing from many addresses stays slow without locking the operator out of the places they sign in from.
    """

    def __init__(self, state: State, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self._clock = clock

    async def wait_seconds(self, name: str, address: str, *, operator: bool) -> float:
        """`operator`: the name is a configured operator's (only those are guarded from everywhere)."""
        waits = [0.0]
        for subject in _subjects(name, address):
            record = await self.state.get(_FAILURES, subject)
            if isinstance(record, dict) and record["count"] >= FREE_ATTEMPTS:
                waits.append(record["last"] + _delay(record["count"] - FREE_ATTEMPTS + 1) - self._clock())
        if operator and not await self.state.get(_KNOWN, _known(name, address)):
            record = await self.state.get(_FAILURES, _name(name))
            if isinstance(record, dict) and len(record.get("addresses", [])) >= SPREAD_ADDRESSES:
                waits.append(record["last"] + _delay(record["count"] / SPREAD_ADDRESSES) - self._clock())
        return max(waits)

    async def attempt(self, name: str, address: str, *, operator: bool) -> None:
        """Counted as a failure before the secret is checked, so parallel guesses cannot slip past the count;
        succeeded() clears the counts of this name and address (not the name's count from everywhere)."""
        now = self._clock()
        for subject in _subjects(name, address):
            record = await self.state.get(_FAILURES, subject)
            count = record["count"] if isinstance(record, dict) else 0
            await self.state.put(_FAILURES, subject, {"count": count + 1, "last": now},
                                 ttl=FAILURE_MEMORY_SECONDS)
        if operator:
            record = await self.state.get(_FAILURES, _name(name))
            count, addresses = ((record["count"], record.get("addresses", [])) if isinstance(record, dict)
                                else (0, []))
            if address not in addresses and len(addresses) < SPREAD_ADDRESSES:
                addresses = [*addresses, address]
            await self.state.put(_FAILURES, _name(name), {"count": count + 1, "last": now,
                                                          "addresses": addresses}, ttl=FAILURE_MEMORY_SECONDS)

    async def succeeded(self, name: str, address: str) -> None:
        for subject in _subjects(name, address):
            await self.state.delete(_FAILURES, subject)
        record = await self.state.get(_FAILURES, _name(name))
        if isinstance(record, dict):  # this attempt was no failure; the others from everywhere still count
            addresses = [a for a in record.get("addresses", []) if a != address]
            await self.state.put(_FAILURES, _name(name), {**record, "count": max(0, record["count"] - 1),
                                                          "addresses": addresses}, ttl=FAILURE_MEMORY_SECONDS)
        await self.state.put(_KNOWN, _known(name, address), {"at": self._clock()}, ttl=KNOWN_DAYS * 86400.0,
                             most=10_000)


_FAILURES = "console-signin-failures"
_KNOWN = "console-signin-known"  # (operator, address) that signed in lately


def _subjects(name: str, address: str) -> tuple[str, str]:
    return f"operator-at:{name.lower()}@{address}", f"address:{address}"


def _name(name: str) -> str:
    return f"operator:{name.lower()}"


def _known(name: str, address: str) -> str:
    return f"{name.lower()}@{address}"


def _delay(exponent: float) -> float:
    return min(2.0 ** min(exponent, 20.0), MAX_DELAY_SECONDS)
