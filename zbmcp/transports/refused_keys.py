"""Requests to /mcp, /sse and /messages/ refused for their Authorization header (a key that is no agent's, or
not a bearer key at all), on the audit record, and bounded: a flood of guesses can neither fill the disk nor
drown the log.

In each minute at most PER_ADDRESS records come from one address and IN_ALL from everyone; what is left out is
counted and written as one record when the next minute's first refusal arrives, or when the server stops. A
record names the address, the path and, of the key, only the first 8 hex digits of its SHA-256: enough to
tell one wrong key from another, nothing to guess one by. The key itself is never written.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from zbmcp.audit.events import MCP_REFUSED
from zbmcp.audit.log import AuditEvent, AuditLog, now_iso
from zbmcp.errors import AuditUnavailable
from zbmcp.proxies import TrustedProxies

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
PER_ADDRESS = 10
IN_ALL = 100
_ADDRESSES_COUNTED = 10_000  # beyond this many left-out addresses in a minute, the summary says "at least"


class RefusedKeys:
    """Writes the records, within the bounds above."""

    def __init__(self, audit: AuditLog, proxies: TrustedProxies,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._audit = audit
        self._proxies = proxies
        self._clock = clock
        self._window_start = clock()
        self._written: Counter[str] = Counter()  # records written this minute, by address
        self._left_out = 0
        self._left_out_from: set[str] = set()

    def refused(self, request: Request, header: str) -> None:
        self._roll()
        address = self._proxies.client_address(request)
        if self._written[address] >= PER_ADDRESS or sum(self._written.values()) >= IN_ALL:
            self._left_out += 1
            if len(self._left_out_from) < _ADDRESSES_COUNTED:
                self._left_out_from.add(address)
            return
        self._written[address] += 1
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        what = (f"an API key that is no agent's (sha256:{hashlib.sha256(key.encode()).hexdigest()[:8]}…)"
                if scheme.lower() == "bearer" and key else "an Authorization header that is not a bearer key")
        self._write(f"a request to {request.url.path[:64]} from {address} was refused with 401: it carried "
                    f"{what}")

    def flush(self) -> None:
        """The summary of what was left out, if anything was (the server stopping)."""
        if self._left_out:
            many = len(self._left_out_from)
            addresses = f"at least {many}" if many >= _ADDRESSES_COUNTED else str(many)
            self._write(f"{self._left_out} more requests with keys that are no agent's, from {addresses} "
                        f"address{'es' if many != 1 else ''}, were refused with 401 and not recorded one by "
                        f"one (at most {PER_ADDRESS} records a minute from one address, {IN_ALL} in all)")
        self._left_out = 0
        self._left_out_from = set()

    def _roll(self) -> None:
        if self._clock() - self._window_start >= WINDOW_SECONDS:
            self.flush()
            self._written.clear()
            self._window_start = self._clock()

    def _write(self, sentence: str) -> None:
        try:
            self._audit.write(AuditEvent(time=now_iso(), event=MCP_REFUSED, decision="denied",
                                         sentence=sentence))
        except AuditUnavailable as exc:  # the request is refused all the same
            log.error("could not write the audit record of a refused key: %s", exc)


class AuditRefusedKeys:
    """In front of the agents' endpoints: a request whose Authorization header named no agent is recorded,
    then goes on to be refused (RequireAuthMiddleware answers it)."""

    def __init__(self, app: ASGIApp, recorder: RefusedKeys) -> None:
        self._app = app
        self._recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not isinstance(scope.get("user"), AuthenticatedUser):
            header = Headers(scope=scope).get("authorization")
            if header is not None:
                self._recorder.refused(Request(scope), header)
        await self._app(scope, receive, send)
