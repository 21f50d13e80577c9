"""The door of dynamic client registration (POST /register, RFC 7591): anyone may knock, signed in or not, so
what gets through is bounded before the MCP SDK's handler sees it.

    metadata larger than MAX_METADATA_BYTES          400 invalid_client_metadata, naming the limit
    more than registration.per_address per window   429, Retry-After (one address; an IPv6 /64 counts as one)
    more than registration.in_all per window        429, Retry-After (everyone together)

The counts live in the State, so they hold across processes and replicas; a refused registration is counted
and stored nowhere. What is kept of the registrations that get through is bounded in clients.py. Refusals are
audited, but at most AUDITED_REFUSALS per window: a flood must not fill the audit log instead.
"""

from __future__ import annotations

import ipaddress
import math

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from zbmcp.audit.oauth import AuthAudit
from zbmcp.core.config_hosting import Registration
from zbmcp.oauth_server.asgi import buffer_body, send_json
from zbmcp.proxies import TrustedProxies
from zbmcp.state import State, StateUnavailable

MAX_METADATA_BYTES = 4096  # a real client's metadata is well under 1 KB
AUDITED_REFUSALS = 10
COUNTS = "oauth-registrations"  # State namespace: the registrations of the window, by address and in all
REFUSALS = "oauth-registration-refusals"


def address_key(address: str) -> str:
    """Whose registrations count together: an IPv4 address, or an IPv6 /64 (what one subscriber gets)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class RegistrationDoor:
    def __init__(self, app: ASGIApp, state: State, limits: Registration, proxies: TrustedProxies,
                 audit: AuthAudit) -> None:
        self._app = app
        self._state = state
        self._limits = limits
        self._proxies = proxies
        self._audit = audit

    @property
    def window_seconds(self) -> float:
        return self._limits.window_minutes * 60

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        body, replay, complete = await buffer_body(receive, MAX_METADATA_BYTES)
        if len(body) > MAX_METADATA_BYTES:
            await self._refuse(send, 400, "invalid_client_metadata",
                               f"The client metadata is larger than {MAX_METADATA_BYTES} bytes, the most "
                               "zbmcp accepts in a registration: send fewer or shorter fields "
                               "(redirect_uris, contacts, jwks, ...).")
            return
        if not complete:
            return  # the client went away
        address = address_key(self._proxies.client_address(Request(scope)))
        try:
            wait = await self._state.spend(COUNTS, [(f"address:{address}", self._limits.per_address),
                                                    ("all", self._limits.in_all)],
                                           window=self.window_seconds)
        except StateUnavailable as unavailable:
            await self._refuse(send, 503, "temporarily_unavailable", str(unavailable), retry_after=5)
            return
        if wait > 0:
            limits = self._limits
            await self._refuse(send, 429, "temporarily_unavailable",
                               f"Too many client registrations: zbmcp takes at most {limits.per_address} "
                               f"from one address and {limits.in_all} from everyone every "
                               f"{limits.window_minutes:g} minutes. Try again in {math.ceil(wait)} s.",
                               retry_after=math.ceil(wait))
            return
        await self._app(scope, replay, send)

    async def _refuse(self, send: Send, status: int, error: str, description: str, *,
                      retry_after: int | None = None) -> None:
        try:
            audited = await self._state.spend(REFUSALS, [("any", AUDITED_REFUSALS)],
                                              window=self.window_seconds) == 0
        except StateUnavailable:
            audited = True  # rare, and the audit log is local
        if audited:
            self._audit.record("register", "denied", description, error=error)
        extra = [(b"retry-after", str(retry_after).encode())] if retry_after is not None else []
        await send_json(send, status, {"error": error, "error_description": description}, extra)
