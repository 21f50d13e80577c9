"""ZohoClient: sends a ZohoRequest to the right regional host, paced, signed, and retried only when safe.

Retry rules (accounting cannot afford a second invoice from a retried POST):
    reads   retried on 429, 5xx, timeouts and connection errors, with exponential backoff and jitter
    writes  retried only when the request provably did not take effect: a 429 carrying one of Zoho's limit
            codes (44, 45, 1070), or a connection that failed before anything was sent. A refusal in Zoho's
            own JSON (a 4xx with its code) is a plain error. Any other answer does not prove that Zoho did
            not act: a 5xx whatever its body, a body that is not Zoho's JSON (a gateway's HTML page), a 429
            without a limit code, a connection reset or a timeout after sending. The caller then gets
            OutcomeUnknown and must check before trying again.

A caller that must know whether any byte of its request left this machine (an approval is given back only when
none did) passes a Delivery: ZohoUnreachable alone does not say so, as an earlier attempt may have gone out.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import anyio
import httpx2

from zbmcp import __version__
from zbmcp.core.config import Connection
from zbmcp.errors import OutcomeUnknown, RateLimited, ZohoApiError, ZohoUnreachable
from zbmcp.core.requests import ZohoRequest
from zbmcp.core.uploads import multipart_rest
from zbmcp.zoho.limits import Gate, Pacer
from zbmcp.zoho.auth import ZohoAuth
from zbmcp.zoho.token_manager import TokenManager
from zbmcp.core.regions import data_center

LIMIT_CODES = {44: "requests per minute", 45: "daily API calls", 1070: "concurrent requests"}
USER_AGENT = f"zbmcp/{__version__}"


@dataclass
class ZohoConnection:
    """One configured connection at run time: its settings and its tokens."""

    name: str
    settings: Connection
    tokens: TokenManager

    @cached_property
    def auth(self) -> ZohoAuth:
        return ZohoAuth(self.tokens)

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def api_base_url(self) -> str:
        if self.settings.api_base_url:
            return self.settings.api_base_url
        if self.tokens.api_domain:  # Zoho says: send API calls to the api_domain its token answer names
            return f"{self.tokens.api_domain.rstrip('/')}/books/v3"
        return data_center(self.settings.region).api_base_url

    def url(self, request: ZohoRequest) -> str:
        return self.api_base_url + request.path


@dataclass(frozen=True)
class ZohoResponse:
    status: int
    payload: dict[str, Any]
    duration_ms: float
    attempts: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: spreads retries from many agents instead of synchronising them."""
        return rng() * min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


class Delivery:
    """Whether any byte of one request may have left this machine, over all its attempts.

    Conservative by construction: set before each attempt is handed to the HTTP client, and cleared again only
    by a failure proven to come before anything was sent (no connection could be made: refused, DNS, the
    pool). Everything else, a timeout or a reset included, leaves it set: Zoho may have acted.
    """

    def __init__(self) -> None:
        self.may_have_left = False


class _Retry(Exception):
    def __init__(self, failure: Exception, delay: float | None = None) -> None:
        self.failure = failure
        self.delay = delay


class HttpOnFirstUse:
    """The one HTTP client to Zoho, built when the first request is about to go, not at start-up: its
    connection pool and TLS context cost a start that may never call Zoho (tools/list needs neither)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._client: httpx2.AsyncClient | None = None

    def __call__(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(**self._options)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


class ZohoClient:
    def __init__(
        self,
        http: Callable[[], httpx2.AsyncClient],
        connections: Mapping[str, ZohoConnection],
        pacer: Pacer,
        *,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._http = http
        self.connections = connections
        self._pacer = pacer
        self._retry = retry
        self._sleep = sleep
        self._rng = rng

    def organization_gate(self, connection: ZohoConnection, organization_id: str | None) -> Gate:
        limits = connection.settings.limits
        return self._pacer.organization_gate(
            connection.name,
            organization_id or "-",
            per_minute=limits.requests_per_minute,
            concurrency=limits.concurrency,
            daily_budget=limits.daily_budget,
            max_wait=limits.max_wait_seconds,
            window_seconds=limits.window_seconds,
            timeout=connection.settings.timeout_seconds,
        )

    async def send(self, connection: str | ZohoConnection, request: ZohoRequest, *,
                   agent_gate: Gate | None = None, before_send: Callable[[], None] | None = None,
                   delivery: Delivery | None = None) -> ZohoResponse:
        """Send the request, on a named connection or a person's own (per_user). `before_send` runs once, when
        its turn has come and just before it goes out (the audit log's write-ahead record); if it raises,
        nothing is sent. `delivery` tells the caller, whatever is raised, whether the request may have left
        this machine."""
        delivery = delivery if delivery is not None else Delivery()
        if isinstance(connection, str):
            connection = self.connections[connection]
        gate = self.organization_gate(connection, request.organization_id)
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                first = before_send if attempt == 1 else None
                status, payload, headers = await self._attempt(connection, request, gate, agent_gate, first,
                                                               delivery)
                return ZohoResponse(status, payload, (time.perf_counter() - started) * 1000, attempt, headers)
            except _Retry as retry:
                if attempt >= self._retry.attempts:
                    raise retry.failure from None
                delay = retry.delay if retry.delay is not None else self._retry.delay(attempt, self._rng)
                await self._sleep(delay)

    async def _attempt(
        self, connection: ZohoConnection, request: ZohoRequest, gate: Gate, agent_gate: Gate | None,
        before_send: Callable[[], None] | None, delivery: Delivery,
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        is_read = request.method == "GET"
        # A token first, outside the slot and the timeout: waiting while another process refreshes it holds no
        # place in Zoho's window and cannot be mistaken for a request that went out. (Its answer may also name
        # the API domain.)
        await connection.tokens.access_token()
        where = connection.url(request)
        http = self._http()  # built before the slot, if this is the first request: no place held meanwhile
        async with self._pacer.slot(gate, agent_gate):
            if before_send is not None:
                before_send()
            timeout = connection.settings.timeout_seconds
            left_before = delivery.may_have_left
            delivery.may_have_left = True
            try:
                # The whole exchange is bounded, whatever the transport does with its own timeouts.
                with anyio.fail_after(timeout):
                    response = await http.request(
                        request.method,
                        where,
                        params=list(request.params),
                        headers=dict(request.headers),
                        auth=connection.auth,
                        timeout=timeout,
                        **_payload(request),
                    )
            except TimeoutError:
                failure = _lost_answer(request, where, f"no answer within {timeout:g} s")
                if is_read:
                    raise _Retry(failure) from None
                raise failure from None
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
                # Nothing reached Zoho: safe to retry, even a write.
                delivery.may_have_left = left_before
                raise _Retry(ZohoUnreachable(
                    f"Could not connect to Zoho at {_host(where)} ({type(exc).__name__}). Nothing was sent; "
                    "check the network (or api_base_url) and try again.",
                    status=None, code=None, zoho_message=None,
                )) from None
            except httpx2.TransportError as exc:
                failure = _lost_answer(request, where, type(exc).__name__)
                if is_read:
                    raise _Retry(failure) from None
                raise failure from None
            self._pacer.observe(gate, response.headers)
            # Inside the slot: what the answer says about Zoho's window is recorded as the slot ends.
            return self._interpret(request, where, response, connection, gate)

    def _interpret(
        self, request: ZohoRequest, where: str, response: httpx2.Response, connection: ZohoConnection,
        gate: Gate,
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        is_read = request.method == "GET"
        status = response.status_code
        try:
            payload = response.json()
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except (json.JSONDecodeError, ValueError, UnicodeDecodeError):
            failure = _unreadable(request, where, status)
            if is_read:
                raise _Retry(failure) from None
            raise failure from None
        code = payload.get("code")
        if status < 400 and code in (0, None):
            gate.strikes = 0
            return status, payload, dict(response.headers)
        message = str(payload.get("message") or "")
        if status == 429 or code in LIMIT_CODES:
            if code == 44:
                # Zoho's window for this organization is full, whoever filled it (another integration,
                # another machine): every call to it here waits, longer each time Zoho says so again.
                gate.strikes += 1
                pause = min(connection.settings.limits.window_seconds,
                            self._retry.base_delay * 2 ** gate.strikes)
                self._pacer.hold(gate, pause)
            raise self._limit_failure(request, response, code, message)
        if status >= 500:
            failure = ZohoApiError(
                f"Zoho had an internal error (HTTP {status}, code {code}: {message or 'no message'}). "
                + ("zbmcp retried the read; try again later." if is_read else ""),
                status=status, code=code, zoho_message=message,
            )
            if is_read:
                raise _Retry(failure)
            raise OutcomeUnknown(
                f"Zoho answered HTTP {status} (code {code}: {message or 'no message'}) to this "
                f"{request.method}, so it is not known whether the change was recorded. It was not retried, "
                "to avoid a duplicate.",
                status=status, code=code, zoho_message=message,
            )
        raise ZohoApiError(_advice(status, code, message, request), status=status, code=code,
                           zoho_message=message)

    def _limit_failure(
        self, request: ZohoRequest, response: httpx2.Response, code: Any, message: str
    ) -> Exception:
        """Zoho's limit codes mean the request was turned away unprocessed: safe to retry, even a write."""
        if code == 45:
            reset = _int(response.headers.get("x-rate-limit-reset"))
            retry_after = reset if reset is not None else _seconds_to_utc_midnight()
            return RateLimited(
                f"Zoho's daily API limit for organization {request.organization_id} is spent (HTTP 429, code "
                f"45: {message}). It resets in {retry_after} s; nothing was recorded.",
                retry_after=retry_after, code=code, zoho_message=message,
            )
        retry_after = 2 if code == 1070 else 60  # Zoho sends no Retry-After; code 44 blocks "a short period"
        if code not in LIMIT_CODES and request.method != "GET":
            # Without one of Zoho's limit codes nothing proves the write was turned away: do not repeat it.
            return OutcomeUnknown(
                f"Zoho answered HTTP 429 (code {code}: {message or 'no message'}) to this {request.method} "
                "without one of its limit codes, so it is not known whether the change was recorded. It was "
                "not retried, to avoid a duplicate.",
                status=429, code=code, zoho_message=message,
            )
        what = LIMIT_CODES.get(code, "requests")
        # after a 44 the organization's gate itself holds the next attempt
        delay = 0.0 if code == 44 else None
        failure = RateLimited(
            f"Zoho's limit on {what} was hit for organization {request.organization_id} (HTTP 429, code "
            f"{code}: {message}). zbmcp retried and gave up; retry after {retry_after} s. Nothing was "
            "recorded.",
            retry_after=retry_after, code=code, zoho_message=message,
        )
        return _Retry(failure, delay)


def _advice(status: int, code: Any, message: str, request: ZohoRequest) -> str:
    said = f"Zoho refused the request (HTTP {status}, code {code}): {message.rstrip('.') or 'no message'}."
    if code == 6041:
        return (f"{said} The Zoho user behind this connection cannot reach organization "
                f"{request.organization_id}; check organization_id (list_organizations shows the ones "
                "available).")
    if status == 401 or code in (14, 57):
        return (f"{said} zbmcp refreshed the access token and retried once; the refusal stands, so the "
                f"connection most likely lacks the scope {request.scope or 'this tool needs'}. Log in again "
                "with that scope (`zbmcp auth login --connection NAME --agent NAME`).")
    if status == 404 or code == 1002:
        return (f"{said} Check the id (the list tools return valid ids) and that it belongs to organization "
                f"{request.organization_id}.")
    if status == 400:
        return f"{said} Fix the field Zoho names and call again; nothing was recorded."
    return said


def _lost_answer(request: ZohoRequest, where: str, reason: str) -> ZohoApiError:
    if request.method == "GET":
        return ZohoApiError(
            f"The connection to {_host(where)} failed before Zoho answered ({reason}); zbmcp retried the "
            "read. Try again in a moment.",
            status=None, code=None, zoho_message=None,
        )
    return OutcomeUnknown(
        f"The connection to {_host(where)} failed after the {request.method} was sent ({reason}), so it is "
        "not known whether Zoho recorded it. It was not retried, to avoid a duplicate.",
        status=None, code=None, zoho_message=None,
    )


def _unreadable(request: ZohoRequest, where: str, status: int) -> ZohoApiError:
    if request.method == "GET":
        return ZohoApiError(
            f"Zoho answered HTTP {status} with a body that is not JSON.", status=status, code=None,
            zoho_message=None,
        )
    # Not Zoho's JSON: maybe a gateway's page (502/503/504) sent after Zoho acted, maybe an answer cut short.
    return OutcomeUnknown(
        f"{_host(where)} answered HTTP {status} to the {request.method} with a body that is not Zoho's JSON "
        "(a gateway page, or an answer cut short), so it is not known whether the change was recorded. It "
        "was not retried, to avoid a duplicate.",
        status=status, code=None, zoho_message=None,
    )


def _payload(request: ZohoRequest) -> dict[str, Any]:
    """The body as JSON; with files, multipart as Zoho takes uploads: each file in its field, the rest of the
    body in the JSONString field."""
    if not request.files:
        return {"json": request.body} if request.body is not None else {}
    rest = multipart_rest(request.body, request.files)
    return {"files": [(file.field, (file.file_name, file.data, file.content_type)) for file in request.files],
            "data": {"JSONString": json.dumps(rest, ensure_ascii=False)} if rest else None}


def _host(url: str) -> str:
    return httpx2.URL(url).host


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _seconds_to_utc_midnight() -> int:
    now = time.time()
    return math.ceil(86400 - now % 86400)
