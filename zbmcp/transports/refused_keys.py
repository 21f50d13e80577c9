"""Requests to /mcp, /sse and /messages/ refused for their Authorization header (a key that is no agent's, or
not a bearer key at all), on the audit record, within a RecordBudget (zbmcp.audit.budget): PER_ADDRESS
records a minute from one address, IN_ALL from everyone, the rest counted into one record.

A record names the address, the path and, of the key, only the first 8 hex digits of its SHA-256: enough to
tell one wrong key from another, nothing to guess one by. The key itself is never written. (With OAuth on,
the OAuth edge records refused keys and tokens alike: zbmcp.oauth_server.resource.)
"""

from __future__ import annotations

import hashlib
import logging

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from zbmcp.audit.budget import RecordBudget
from zbmcp.audit.events import MCP_REFUSED
from zbmcp.audit.log import AuditEvent, AuditLog, now_iso
from zbmcp.errors import AuditUnavailable
from zbmcp.proxies import TrustedProxies

log = logging.getLogger(__name__)

PER_ADDRESS = 10
IN_ALL = 100


class RefusedKeys:
    """Writes the records, within the budget."""

    def __init__(self, audit: AuditLog, proxies: TrustedProxies) -> None:
        self._audit = audit
        self._proxies = proxies
        self.budget = RecordBudget(self._summary, per_source=PER_ADDRESS, in_all=IN_ALL)

    def refused(self, request: Request, header: str) -> None:
        address = self._proxies.client_address(request)
        if not self.budget.admit(address):
            return
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        what = (f"an API key that is no agent's (sha256:{hashlib.sha256(key.encode()).hexdigest()[:8]}…)"
                if scheme.lower() == "bearer" and key else "an Authorization header that is not a bearer key")
        self._write(f"a request to {request.url.path[:64]} from {address} was refused with 401: it carried "
                    f"{what}")

    def _summary(self, left_out: int, addresses: str) -> None:
        plural = "" if addresses == "1" else "es"
        self._write(f"{left_out} more requests with keys that are no agent's, from {addresses} "
                    f"address{plural}, were refused with 401 and not recorded one by one (at most "
                    f"{PER_ADDRESS} records a minute from one address, {IN_ALL} in all)")

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
