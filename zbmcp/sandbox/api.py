"""The /books/v3 ASGI app: one request, end to end.

    route -> faults that answer first -> Authorization (14/57) -> scope (57) -> organization_id (2/6041)
          -> limits (1070/44/45) -> latency/hold faults -> body (JSON or JSONString) -> business rule
          -> hold_after faults -> envelope + X-Rate-Limit-* headers -> faults that spoil the answer

Every request is recorded in sandbox.api_requests. A client mistake is never a 500: only a sandbox bug is,
and then with Zoho's {"code":1000,"message":"Internal error"}.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.routing import get_route_path
from starlette.types import Receive, Scope, Send

from zbmcp.sandbox import bodies, routing, scopes
from zbmcp.sandbox.errors import (
    INTERNAL,
    MALFORMED_BODY,
    NOT_AUTHENTICATED,
    NOT_AUTHORIZED,
    ZohoError,
    invalid_value,
    not_associated,
)
from zbmcp.sandbox.faults import POST_KINDS, PRE_KINDS, ConnectionDropped, Fault
from zbmcp.sandbox.limits import limit_error
from zbmcp.sandbox.operations import Operation
from zbmcp.sandbox.records import ApiRequest
from zbmcp.sandbox.rules.base import Call, Env
from zbmcp.sandbox.store import OrgStore
from zbmcp.sandbox.tokens import AccessToken

if TYPE_CHECKING:
    from zbmcp.sandbox.sandbox import Sandbox

log = logging.getLogger("zbmcp.sandbox")

_GATEWAY_PAGES = {
    502: b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    503: b"<html><body><h1>503 Service Unavailable</h1></body></html>",
    504: b"<html><body><h1>504 Gateway Timeout</h1></body></html>",
}


class BooksApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sandbox = self._sandbox
        request = Request(scope, receive)
        method = request.method
        path = get_route_path(scope) or "/"
        query = dict(request.query_params)
        record = ApiRequest(method, path, None, query, query.get("organization_id"), at=sandbox.clock())
        sandbox.api_requests.append(record)
        try:
            operation, params = routing.match(method, path)
        except ZohoError as error:
            await self._answer(send, record, error.status, error.envelope(), None)
            return
        record.route = operation.key
        fired = sandbox.faults.draw(operation.key, method, path)
        first = next((fault for fault in fired if fault.kind in PRE_KINDS), None)
        if first is not None:
            await self._fault_first(send, record, first)
            return
        org_id, status, payload = await self._process(request, operation, params, query, record, fired)
        sandbox.webhooks.created(operation.key, org_id, status, payload)  # workflow rules' webhooks
        await _hold_answer(fired)
        spoil = next((fault for fault in fired if fault.kind in POST_KINDS), None)
        await self._answer(send, record, status, payload, org_id, spoil)

    async def _process(self, request: Request, operation: Operation, params: dict[str, str],
                       query: dict[str, str], record: ApiRequest,
                       fired: list[Fault]) -> tuple[str | None, int, dict[str, Any]]:
        sandbox = self._sandbox
        org_id: str | None = None
        try:
            with sandbox.lock:
                access = self._authenticate(request, operation)
                record.user_id = access.user_id
                store = self._organization(access, query) if operation.needs_org else None
                refusal = sandbox.limiter.admit(store.organization_id) if store is not None else None
            if store is None:
                await _delay(fired)
                status, payload = await self._dispatch(request, operation, params, query, record, access,
                                                       None)
                return None, status, payload
            org_id = store.organization_id
            if refusal is not None:
                raise refusal
            try:
                await _delay(fired)
                status, payload = await self._dispatch(request, operation, params, query, record, access,
                                                       store)
                return org_id, status, payload
            finally:
                with sandbox.lock:
                    sandbox.limiter.release(org_id)
        except ZohoError as error:
            return org_id, error.status, error.envelope()

    def _authenticate(self, request: Request, operation: Operation) -> AccessToken:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.strip().partition(" ")
        # §1: Zoho documents only "Zoho-oauthtoken"; whether it takes "Bearer" is unverified, so the sandbox
        # refuses it and catches clients that copy token_type from the token response.
        if scheme.lower() != "zoho-oauthtoken" or not token.strip():
            raise NOT_AUTHENTICATED
        access = self._sandbox.tokens.authenticate(token.strip())
        if access is None or not scopes.allows(access.scopes, operation.scope):
            raise NOT_AUTHORIZED
        return access

    def _organization(self, access: AccessToken, query: dict[str, str]) -> OrgStore:
        org_id = query.get("organization_id", "").strip()
        if not org_id or not org_id.isdigit():
            raise invalid_value("organization_id")
        if org_id not in self._sandbox.organization_ids_of(access.user_id):
            raise not_associated(org_id)
        return self._sandbox.org_store(org_id)

    async def _dispatch(self, request: Request, operation: Operation, params: dict[str, str],
                        query: dict[str, str], record: ApiRequest, access: AccessToken,
                        store: OrgStore | None) -> tuple[int, dict[str, Any]]:
        sandbox = self._sandbox
        body = None
        if operation.body != "none":
            body = await bodies.read(request, query, array=operation.body == "list")
            record.body = body
            if body is None and operation.body == "required":
                raise MALFORMED_BODY
        env = Env(settings=sandbox.settings, outbox=sandbox.outbox, clock=sandbox.clock,
                  organizations=[sandbox.org_store(org_id).organization
                                 for org_id in sandbox.organization_ids_of(access.user_id)])
        call = Call(env=env, store=store, params=params, query=query, body=body, user_id=access.user_id,
                    headers=dict(request.headers), files=getattr(request.state, "uploads", {}))
        try:
            with sandbox.lock:
                reply = operation.handler(call)
        except ZohoError:
            raise
        except Exception:
            log.exception("sandbox bug while handling %s", operation.key)
            raise INTERNAL from None
        return reply.status, reply.envelope()

    async def _fault_first(self, send: Send, record: ApiRequest, fault: Fault) -> None:
        record.fault = fault.kind
        if fault.kind == "rate_limit":
            error = limit_error(fault.code or 44)
            await self._answer(send, record, error.status, error.envelope(), None)
        elif fault.kind == "error" and fault.status in _GATEWAY_PAGES and fault.code is None:
            record.status = fault.status
            await _send(send, fault.status, {"content-type": "text/html"}, _GATEWAY_PAGES[fault.status])
        elif fault.kind == "error" and fault.status == INTERNAL.status and fault.code is None:
            await self._answer(send, record, INTERNAL.status, INTERNAL.envelope(), None)
        elif fault.kind == "error":  # exactly what was asked for: no code unless one was given
            payload: dict[str, Any] = {} if fault.code is None else {"code": fault.code}
            payload["message"] = fault.message or _phrase(fault.status)
            await self._answer(send, record, fault.status, payload, None)
        else:
            await _drop(send, 502, {"content-type": "text/html"}, _GATEWAY_PAGES[502])

    async def _answer(self, send: Send, record: ApiRequest, status: int, payload: dict[str, Any],
                      org_id: str | None, spoil: Fault | None = None) -> None:
        record.status = status
        record.code = payload.get("code") if isinstance(payload.get("code"), int) else None
        # A 401 is no organization's call: it uses and reports no quota.
        with self._sandbox.lock:
            limits = self._sandbox.limiter.headers(org_id) if status != 401 else {}
        headers = {"content-type": "application/json;charset=UTF-8", **limits}
        body = json.dumps(payload).encode()
        log.info("%s /books/v3%s organization_id=%s -> %s code=%s%s", record.method, record.path,
                 record.organization_id, status, record.code, f" fault={spoil.kind}" if spoil else "")
        if spoil is not None:
            record.fault = spoil.kind
        if spoil is not None and spoil.kind == "drop_after":
            await _drop(send, status, headers, body)  # raises: the client never gets the answer
        elif spoil is not None and spoil.kind == "gateway_after":
            await _send(send, spoil.status, {"content-type": "text/html"}, _GATEWAY_PAGES[spoil.status])
        elif spoil is not None and spoil.kind == "malformed":
            await _send(send, status, headers, body[: max(1, len(body) // 2)])
        else:
            await _send(send, status, headers, body)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


async def _delay(fired: list[Fault]) -> None:
    for fault in fired:
        if fault.kind == "latency" and fault.delay_seconds > 0:
            await anyio.sleep(fault.delay_seconds)
        elif fault.kind == "hold":
            if fault.entered is not None:
                fault.entered.set()
            await fault.release.wait()


async def _hold_answer(fired: list[Fault]) -> None:
    """hold_after: the request is handled (a write has taken effect); the answer waits."""
    for fault in fired:
        if fault.kind != "hold_after":
            continue
        if fault.entered is not None:
            fault.entered.set()
        if fault.release is not None:
            await fault.release.wait()
        else:
            await anyio.sleep(fault.delay_seconds)


async def _send(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _drop(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    """Promise the whole body, deliver part of it, then abort: the client sees a broken connection."""
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise ConnectionDropped()
