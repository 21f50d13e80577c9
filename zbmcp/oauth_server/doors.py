"""The doors of the two endpoints that anyone may knock at, signed in or not, and that make zbmcp keep
something: what gets through is bounded before the MCP SDK's handlers see it.

    POST /register (RFC 7591)        metadata over 4096 bytes: 400 invalid_client_metadata, naming the limit;
                                     more than registration.per_address, or registration.in_all from everyone,
                                     per window: 429 with Retry-After
    GET|POST /authorize              a `state` over 2048 characters: 400 invalid_request (a pending sign-in is
                                     kept for 15 minutes, with its state); more than 100 sign-ins started from
                                     one address, or 1000 from everyone, per 10 minutes: 429 with Retry-After

An address is an IPv4 address or an IPv6 /64 (what one subscriber gets), found behind the proxies zbmcp
trusts. The counts live in the State, so they hold across processes and replicas, and a refused request is
counted and stored nowhere. Refusals are audited, but at most AUDITED_REFUSALS per window and door: a flood
must not fill the audit log instead.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from zbmcp.audit.oauth import AuthAudit, Event
from zbmcp.core.config_hosting import Registration
from zbmcp.oauth_server.asgi import buffer_body, send_json
from zbmcp.proxies import TrustedProxies
from zbmcp.state import State, StateUnavailable

MAX_METADATA_BYTES = 4096  # a real client's registration is well under 1 KB
MAX_STATE_CHARS = 2048  # a client's `state` at /authorize; clients send a few dozen characters
MAX_AUTHORIZE_BYTES = 64 * 1024  # an authorization request sent as a form
AUTHORIZE_PER_ADDRESS = 100  # a person starts a few sign-ins a day; an office shares an address
AUTHORIZE_IN_ALL = 1000  # signin.MAX_PENDING holds two windows of these: none is pushed out before its time
AUTHORIZE_WINDOW_SECONDS = 600.0
AUDITED_REFUSALS = 10

Refusal = tuple[int, str, str]  # status, OAuth error, description


@dataclass(frozen=True)
class Rules:
    event: Event
    methods: frozenset[str]
    max_body: int
    too_large: str  # the description of a 400 for a body over max_body
    error: str  # the OAuth error of that 400
    window: float
    budgets: Callable[[str], list[tuple[str, int]]]  # an address's key -> (budget key, limit)
    too_many: str  # the description of a 429, with {wait} for the seconds to wait
    check: Callable[[dict[str, str]], str | None] = lambda fields: None  # the request's fields -> a problem


def registration_rules(limits: Registration) -> Rules:
    return Rules(
        event="register", methods=frozenset({"POST"}), max_body=MAX_METADATA_BYTES,
        too_large=f"The client metadata is larger than {MAX_METADATA_BYTES} bytes, the most zbmcp accepts in "
                  "a registration: send fewer or shorter fields (redirect_uris, contacts, jwks, ...).",
        error="invalid_client_metadata", window=limits.window_minutes * 60,
        budgets=lambda address: [(f"address:{address}", limits.per_address), ("all", limits.in_all)],
        too_many=f"Too many client registrations: zbmcp takes at most {limits.per_address} from one address "
                 f"and {limits.in_all} from everyone every {limits.window_minutes:g} minutes. Try again in "
                 "{wait} s.")


def authorization_rules() -> Rules:
    return Rules(
        event="authorize", methods=frozenset({"GET", "POST"}), max_body=MAX_AUTHORIZE_BYTES,
        too_large=f"The authorization request is larger than {MAX_AUTHORIZE_BYTES} bytes.",
        error="invalid_request", window=AUTHORIZE_WINDOW_SECONDS,
        budgets=lambda address: [(f"address:{address}", AUTHORIZE_PER_ADDRESS), ("all", AUTHORIZE_IN_ALL)],
        too_many=f"Too many sign-ins started: zbmcp takes at most {AUTHORIZE_PER_ADDRESS} from one address "
                 f"and {AUTHORIZE_IN_ALL} from everyone every {AUTHORIZE_WINDOW_SECONDS / 60:g} minutes. Try "
                 "again in {wait} s.",
        check=_state_problem)


def _state_problem(fields: dict[str, str]) -> str | None:
    if len(fields.get("state", "")) > MAX_STATE_CHARS:
        return f"state is longer than {MAX_STATE_CHARS} characters, the most zbmcp keeps for a sign-in."
    return None


def address_key(address: str) -> str:
    """Whose requests count together: an IPv4 address, or an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Door:
    def __init__(self, app: ASGIApp, rules: Rules, state: State, proxies: TrustedProxies,
                 audit: AuthAudit) -> None:
        self._app = app
        self._rules = rules
        self._state = state
        self._proxies = proxies
        self._audit = audit
        self._counts = f"oauth-{rules.event}-counts"  # State namespaces: the window's requests, by address
        self._refusals = f"oauth-{rules.event}-refusals"  # and the refusals audited in it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rules = self._rules
        if scope["type"] != "http" or scope["method"] not in rules.methods:
            await self._app(scope, receive, send)
            return
        body, replay, complete = await buffer_body(receive, rules.max_body)
        if len(body) > rules.max_body:
            await self._refuse(send, (400, rules.error, rules.too_large))
            return
        if not complete:
            return  # the client went away
        fields = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["method"] == "POST" and rules.event == "authorize":
            fields.update(parse_qsl(body.decode("utf-8", "replace")))
        problem = rules.check(fields)
        if problem is not None:
            await self._refuse(send, (400, "invalid_request", problem))
            return
        address = address_key(self._proxies.client_address(Request(scope)))
        try:
            wait = await self._state.spend(self._counts, rules.budgets(address), window=rules.window)
        except StateUnavailable as unavailable:
            await self._refuse(send, (503, "temporarily_unavailable", str(unavailable)), retry_after=5)
            return
        if wait > 0:
            seconds = math.ceil(wait)
            await self._refuse(send, (429, "temporarily_unavailable", rules.too_many.format(wait=seconds)),
                               retry_after=seconds)
            return
        await self._app(scope, replay, send)

    async def _refuse(self, send: Send, refusal: Refusal, *, retry_after: int | None = None) -> None:
        status, error, description = refusal
        try:
            audited = await self._state.spend(self._refusals, [("any", AUDITED_REFUSALS)],
                                              window=self._rules.window) == 0
        except StateUnavailable:
            audited = True  # rare, and the audit log is local
        if audited:
            self._audit.record(self._rules.event, "denied", description, error=error)
        extra = [(b"retry-after", str(retry_after).encode())] if retry_after is not None else []
        await send_json(send, status, {"error": error, "error_description": description}, extra)
