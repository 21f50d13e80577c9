"""Operators' sessions and the sign-in back-off, kept in the shared record store (so any replica knows them).

A session is a random token in an HttpOnly, SameSite=Strict cookie; the store keeps only its hash, with the
operator's name, a CSRF token for the session's forms, and an expiry. Failed sign-ins are counted per
operator name and per client address; past a few, each new attempt must wait longer (up to 15 minutes), so
guessing a secret online is hopeless.
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
    """How long a sign-in attempt must wait, by the failures of the same name and the same address."""

    def __init__(self, state: State, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self._clock = clock

    async def wait_seconds(self, *subjects: str) -> float:
        waits = [0.0]
        for subject in subjects:
            record = await self.state.get("console-signin-failures", subject)
            if isinstance(record, dict) and record["count"] >= FREE_ATTEMPTS:
                delay = min(2.0 ** (record["count"] - FREE_ATTEMPTS + 1), MAX_DELAY_SECONDS)
                waits.append(record["last"] + delay - self._clock())
        return max(waits)

    async def attempt(self, *subjects: str) -> None:
        """Counted as a failure before the secret is checked, so parallel guesses cannot slip past the count;
        succeeded() clears it."""
        for subject in subjects:
            record = await self.state.get("console-signin-failures", subject)
            count = record["count"] if isinstance(record, dict) else 0
            await self.state.put("console-signin-failures", subject,
                                 {"count": count + 1, "last": self._clock()}, ttl=FAILURE_MEMORY_SECONDS)

    async def succeeded(self, *subjects: str) -> None:
        for subject in subjects:
            await self.state.delete("console-signin-failures", subject)
