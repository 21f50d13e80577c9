"""Fault injection for /books/v3, changeable while the sandbox runs.

    sandbox.faults.add(Fault(kind="drop_after", route="POST /invoices", times=1))
    sandbox.faults.add(Fault(kind="error", status=503, probability=0.2))  # seeded: sandbox.faults.seed(7)

Kinds:
    latency      wait delay_seconds before handling (the request counts as in flight meanwhile)
    hold         wait until `release` (an anyio.Event) is set; sets `entered` when a request arrives.
                 For tests over httpx2.ASGITransport: both events belong to the test's event loop.
    error        answer `status` without handling the request, exactly as asked: 500 is Zoho's
                 {"code":1000,"message":"Internal error"} and 502/503/504 a gateway's page unless `code` is
                 given; any other status from 400 to 599 (a 429 without Zoho's limit codes, say) is JSON with
                 `code` and `message` when given, and only the message (the status's phrase) when not
    rate_limit   answer 429 with Zoho's limit `code` (44 per minute, the default; 45 daily; 1070 concurrent)
                 without handling the request: times=N gives a burst of N
    drop_before  drop the connection without handling the request
    drop_after   handle the request (the write takes effect), then drop the connection
    malformed    handle the request, then answer with its JSON cut short
    hold_after   handle the request (the write takes effect), then hold the answer for delay_seconds, or until
                 `release` is set when given; sets `entered` once the request is handled
    gateway_after  handle the request (the write takes effect), then answer `status` (502/503/504) with a
                 gateway's HTML page instead of Zoho's JSON, as a proxy does when Zoho answers too late

`route` is "METHOD /template" as in the operations table ("POST /invoices/{invoice_id}/email") or a concrete
path ("POST /invoices/460000000026049/email"); None matches every /books/v3 request. `times` is how many
requests the fault fires for (None: until removed); each matching request draws against `probability`.
A fault fires on the next matching request, whatever else happens to that request.

A dropped connection: under a real server the sandbox sends the status line and headers with the full
Content-Length, then a part of the body, then aborts, so the client reads an incomplete response (a transport
error, as when a connection resets). Under httpx2.ASGITransport the app raises ConnectionDropped, which is an
httpx2.RemoteProtocolError, so clients see the error class a real drop produces.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2

FaultKind = Literal["latency", "hold", "error", "rate_limit", "drop_before", "drop_after", "malformed",
                    "hold_after", "gateway_after"]
PRE_KINDS = ("error", "rate_limit", "drop_before")
POST_KINDS = ("drop_after", "malformed", "gateway_after")  # spoil the answer; hold_after only delays it
GATEWAY_STATUSES = (502, 503, 504)
LIMIT_CODES = (44, 45, 1070)
_ROUTE = re.compile(r"^(GET|POST|PUT|DELETE|PATCH) /\S*$")


class ConnectionDropped(httpx2.RemoteProtocolError):
    """Raised by the app to drop a connection on purpose (fault kinds drop_before / drop_after)."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a complete response (sandbox fault).")


@dataclass(eq=False)
class Fault:
    kind: FaultKind
    route: str | None = None
    times: int | None = None
    probability: float = 1.0
    delay_seconds: float = 0.0
    status: int = 500
    code: int | None = None  # kind="error": Zoho's code in the JSON answer; kind="rate_limit": 44, 45 or 1070
    message: str | None = None  # kind="error": the JSON answer's message
    release: Any = None  # anyio.Event, for kind="hold"
    entered: Any = None  # anyio.Event, set when a request reaches a "hold"
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in ("latency", "hold", "hold_after", *PRE_KINDS, *POST_KINDS):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.route is not None:
            self.route = self.route.replace(" /books/v3/", " /", 1).rstrip("/")
            if not _ROUTE.match(self.route):
                raise ValueError(f"route must look like 'POST /invoices', got {self.route!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.kind == "error" and not 400 <= self.status <= 599:
            raise ValueError("an error fault answers a status from 400 to 599")
        if self.kind == "rate_limit" and self.code not in (None, *LIMIT_CODES):
            raise ValueError("a rate_limit fault answers Zoho's limit code 44, 45 or 1070 (for a 429 without "
                             "one: kind='error', status=429)")
        if self.kind == "hold" and self.release is None:
            raise ValueError("a hold fault needs release=anyio.Event()")
        if self.kind == "hold_after" and self.release is None and self.delay_seconds <= 0:
            raise ValueError("a hold_after fault needs delay_seconds > 0 or release=anyio.Event()")
        if self.kind == "gateway_after" and self.status not in GATEWAY_STATUSES:
            raise ValueError("a gateway_after fault answers 502, 503 or 504: pass status=")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0")

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, route_key: str | None, method: str, path: str) -> bool:
        if self.route is None:
            return True
        return self.route in (route_key, f"{method} {path.rstrip('/')}")


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        if fault in self._faults:
            self._faults.remove(fault)

    def clear(self) -> None:
        self._faults.clear()

    def seed(self, value: int) -> None:
        self._rng.seed(value)

    @property
    def active(self) -> list[Fault]:
        return [fault for fault in self._faults if not fault.spent]

    def draw(self, route_key: str | None, method: str, path: str) -> list[Fault]:
        """The faults that fire for this request, in the order they were added; each firing counts."""
        fired = []
        for fault in self._faults:
            if fault.spent or not fault.matches(route_key, method, path):
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            fault.fired += 1
            fired.append(fault)
        return fired
