"""The webhook intake: an ASGI app for /hooks/<name>.

A delivery, in order: a hook of that name (else 404) -> a body within the hook's max_body_bytes (else 413,
read no further) -> proof of the secret, a body Zoho could have sent, a record not older than the hook
remembers (core.deliveries: 401, 400, 415, 409) -> within the hook's per_minute (else 429, and Zoho tries
again later) -> the audit log can take its record (else 503) -> kept once in the State: a retry of a delivery
already kept is answered 200 and changes nothing. Every delivery, taken, repeated or refused, is an audit
record; refused ones are also kept, a bounded few per hook, for the console.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from zbmcp.audit.log import AuditEvent, AuditLog, now_iso, shorten
from zbmcp.calls.runtime import Runtime
from zbmcp.core.config_hooks import Hook
from zbmcp.core.deliveries import Delivery, Refused, judge
from zbmcp.errors import AuditUnavailable
from zbmcp.proxies import TrustedProxies
from zbmcp.state import StateUnavailable
from zbmcp.state.hook_events import keep_event, keep_refusal

log = logging.getLogger(__name__)

PREFIX = "/hooks"
METHODS = ("POST", "PUT", "DELETE")  # Zoho's webhook methods
REFUSALS_KEPT_PER_MINUTE = 60  # refused deliveries kept for the console, per hook: a flood costs no more


class HookIntake:
    def __init__(self, runtime: Runtime, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.runtime = runtime
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._proxies = TrustedProxies(runtime.config.config.console.trusted_proxies)

    @property
    def hooks(self) -> dict[str, Hook]:
        return self.runtime.config.config.hooks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        name = scope["path"].removeprefix(PREFIX).strip("/")
        address = self._proxies.client_address(request)
        hook = self.hooks.get(name)
        if hook is None:
            self._audit("hook.refused", "denied", f"a delivery to an unknown hook {shorten(name, 80)!r}",
                        "no such hook in the config", None, address)
            await _answer(404, {"error": "unknown_hook"}, scope, receive, send)
            return
        try:
            if scope["method"] not in METHODS:
                raise Refused(405, f"{scope['method']} is not a webhook method (Zoho sends POST, PUT or "
                                   "DELETE)")
            body = await _body(request, hook.max_body_bytes)
            delivery = judge(hook, content_type=request.headers.get("content-type", ""),
                             query=scope.get("query_string", b"").decode("latin-1"),
                             headers={k.lower(): v for k, v in request.headers.items()}, body=body,
                             now=self._clock())
            status, answer = await self._take(name, hook, delivery, scope["method"], address)
        except Refused as refused:
            await self._refuse(name, hook, refused, address)
            status, answer = refused.status, {"error": "refused", "error_description": refused.why}
        except StateUnavailable as exc:
            status, answer = 503, {"error": "unavailable", "error_description": str(exc)}
        headers = {"retry-after": "60"} if status in (429, 503) else {}
        await _answer(status, answer, scope, receive, send, headers)

    async def _take(self, name: str, hook: Hook, delivery: Delivery, method: str, address: str
                    ) -> tuple[int, dict[str, Any]]:
        state = self.runtime.state
        if await state.spend("hook-delivery-counts", [(name, hook.per_minute)], window=60.0) > 0:
            raise Refused(429, f"over the hook's {hook.per_minute} deliveries a minute")
        problem = self.runtime.audit.problem()
        if problem is not None:  # no record, no event: Zoho tries again once the log is fixed
            log.error("hook %s: a delivery was refused because the audit log cannot be written: %s", name,
                      problem)
            return 503, {"error": "unavailable", "error_description": "zbmcp cannot record deliveries now"}
        event = {
            "hook": name, "organization_id": hook.organization, "module": hook.module,
            "event": delivery.event, "method": method, "record_id": delivery.record_id,
            "received_at": now_iso(),
            "verified_by": delivery.verified_by, "params": delivery.params, "payload": delivery.payload,
        }
        number = await keep_event(state, name, hook, event, delivery.unique)
        what = f"{hook.module}{' ' + delivery.record_id if delivery.record_id else ''}"
        if number is None:
            self._audit("hook.repeated", "allowed", f"hook \"{name}\" was sent a delivery it already has "
                        f"({what}, organization {hook.organization}): nothing changed", "a retry",
                        name, address, hook.organization)
            return 200, {"status": "repeated"}
        self._audit("hook.received", "allowed", f"hook \"{name}\" took event {number} for organization "
                    f"{hook.organization} ({what}{', ' + delivery.event if delivery.event else ''})",
                    f"verified by {delivery.verified_by}", name, address, hook.organization)
        return 200, {"status": "accepted", "event": number}

    async def _refuse(self, name: str, hook: Hook, refused: Refused, address: str) -> None:
        self._audit("hook.refused", "denied", f"hook \"{name}\" refused a delivery ({refused.status}): "
                    f"{refused.why}", refused.why, name, address, hook.organization)
        state = self.runtime.state
        try:
            if await state.spend("hook-refusal-counts", [(name, REFUSALS_KEPT_PER_MINUTE)], window=60.0) == 0:
                await keep_refusal(state, name, {"status": refused.status, "why": refused.why,
                                                 "address": address, "at": now_iso()})
        except StateUnavailable as exc:
            log.warning("hook %s: a refused delivery could not be kept for the console: %s", name, exc)

    def _audit(self, event: str, decision: str, sentence: str, rule: str, hook: str | None, address: str,
               organization: str | None = None) -> None:
        write(self.runtime.audit, AuditEvent(time=now_iso(), event=event, decision=decision,
                                             sentence=sentence, rule=rule, hook=hook, address=address,
                                             organization=organization))


def write(audit: AuditLog, record: AuditEvent) -> None:
    try:
        audit.write(record)
    except AuditUnavailable:
        log.error("could not write this audit record, so it is here instead: %s", record.to_json())


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"the body is {declared} bytes; this hook takes at most {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the body is over the {limit} bytes this hook takes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _answer(status: int, body: dict[str, Any], scope: Scope, receive: Receive, send: Send,
                  headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()),
                            *((k.encode(), v.encode()) for k, v in (headers or {}).items())]})
    await send({"type": "http.response.body", "body": data})
