"""Webhooks: made through /settings/webhooks, fired by the sandbox's own events (a payment recorded, an
invoice or a bill created, a bank transaction added) to a real loopback receiver, signed, and retried when the
receiver fails, on a short schedule."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx2
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from tests.sandbox.conftest import ORG, error, ok
from tests.sandbox.test_rules import _invoice, _pay
from zbmcp.listen import bind_listener
from zbmcp.sandbox import Sandbox

SECRET = "Sandbox0Hook0Secret7"


class Receiver:
    """A loopback HTTP server that records each request and answers with the next of `statuses`."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[dict[str, Any]] = []
        self.got = anyio.Event()
        self.url = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append({"method": scope["method"], "path": scope["path"], "body": body,
                              "query": scope["query_string"].decode(),
                              "headers": {k.decode(): v.decode() for k, v in scope["headers"]}})
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        self.got.set()

    async def wait_for(self, count: int) -> None:
        with anyio.fail_after(10):
            while len(self.requests) < count:
                self.got = anyio.Event()
                await self.got.wait()


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    sock = bind_listener("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(receiver, lifespan="off", log_config=None, log_level="warning"))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: server.serve(sockets=[sock]))
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        try:
            yield receiver
        finally:
            server.should_exit = True
    sock.close()


async def answered(sandbox: Sandbox, count: int) -> None:
    """Until `count` attempts have their answer (the receiver hears each before the sandbox does)."""
    with anyio.fail_after(10):
        while sum(a.status is not None or a.error is not None for a in sandbox.webhooks.attempts) < count:
            await anyio.sleep(0.01)


def signature(query: str, body: bytes, secret: str = SECRET) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    signed = "".join(k + v for k, v in pairs).encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


async def test_a_webhook_is_made_listed_without_its_secret_and_deleted(books: httpx2.AsyncClient):
    made = ok(await books.post("settings/webhooks", json={
        "entity": "customerpayments", "webhook_name": "payments", "url": "https://example.test/hook",
        "secret": SECRET, "additional_parameters": [{"param_name": "event", "param_value": "created"}]}),
        201)["webhook"]
    assert "secret" not in made and made["has_secret"] is True
    listed = ok(await books.get("settings/webhooks"))["webhooks"]
    assert [hook["webhook_id"] for hook in listed] == [made["webhook_id"]]
    assert SECRET not in json.dumps(listed)
    ok(await books.delete(f"settings/webhooks/{made['webhook_id']}"))
    assert ok(await books.get("settings/webhooks"))["webhooks"] == []


@pytest.mark.parametrize("body, field", [
    ({"entity": "customerpayments", "url": "ftp://example.test"}, "url"),
    ({"entity": "nothing", "url": "https://example.test"}, "entity"),
    ({"entity": "bills", "url": "https://example.test", "method": "GET"}, "method"),
    ({"entity": "bills", "url": "https://example.test", "secret": "short"}, "secret"),
])
async def test_a_bad_webhook_is_refused_naming_the_field(books: httpx2.AsyncClient, body: dict[str, Any],
                                                         field: str):
    assert field in error(await books.post("settings/webhooks", json=body), 400, 2)


async def test_a_recorded_payment_fires_the_payment_webhook_signed(books: httpx2.AsyncClient,
                                                                   sandbox: Sandbox):
    async with receiving(Receiver()) as receiver, sandbox.webhooks.running():
        for entity in ("customerpayments", "invoices"):
            ok(await books.post("settings/webhooks", json={
                "entity": entity, "url": f"{receiver.url}/hooks/{entity}?event=created", "secret": SECRET,
                "headers": [{"param_name": "X-Team", "param_value": "books"}]}), 201)
        invoice = await _invoice(books, sandbox, sent=True)
        payment = ok(await _pay(books, sandbox, invoice, 300.0), 201)["payment"]
        await receiver.wait_for(2)
    by_path = {request["path"]: request for request in receiver.requests}
    delivered = by_path["/hooks/customerpayments"]
    assert json.loads(delivered["body"]) == {"payment": payment}
    assert delivered["query"] == "event=created" and delivered["headers"]["x-team"] == "books"
    assert delivered["headers"]["x-zoho-webhook-signature"] == signature("event=created", delivered["body"])
    assert json.loads(by_path["/hooks/invoices"]["body"])["invoice"]["invoice_id"] == invoice["invoice_id"]


async def test_bills_and_bank_transactions_fire_their_webhooks(books: httpx2.AsyncClient, sandbox: Sandbox):
    async with receiving(Receiver()) as receiver, sandbox.webhooks.running():
        for entity in ("bills", "banktransactions"):
            ok(await books.post("settings/webhooks",
                                json={"entity": entity, "url": f"{receiver.url}/{entity}"}), 201)
        view = sandbox.store(ORG)
        ok(await books.post("bills", json={
            "vendor_id": view.contact_id("Office Supplies Co"), "bill_number": "B-1", "date": "2025-03-01",
            "line_items": [{"account_id": view.account_id("Office Supplies"), "rate": 20.0}]}), 201)
        ok(await books.post("banktransactions", json={
            "from_account_id": view.account_id("Undeposited Funds"),
            "to_account_id": view.account_id("Business Checking"), "transaction_type": "deposit",
            "amount": 50.0, "date": "2025-03-01"}), 201)
        await receiver.wait_for(2)
    assert sorted(request["path"] for request in receiver.requests) == ["/banktransactions", "/bills"]
    assert all("x-zoho-webhook-signature" not in r["headers"] for r in receiver.requests)  # no secret


async def test_a_failed_delivery_is_retried_until_it_is_taken(books: httpx2.AsyncClient, sandbox: Sandbox):
    sandbox.settings.webhook_retry_seconds = [0.01, 0.02, 0.04]
    async with receiving(Receiver([500, 503])) as receiver, sandbox.webhooks.running():
        ok(await books.post("settings/webhooks", json={"entity": "invoices", "url": receiver.url}), 201)
        await _invoice(books, sandbox)
        await answered(sandbox, 3)
    assert [a.status for a in sandbox.webhooks.attempts] == [500, 503, 200]
    assert [a.attempt for a in sandbox.webhooks.attempts] == [1, 2, 3]
    assert len({request["body"] for request in receiver.requests}) == 1  # the same delivery each time


async def test_retries_stop_when_the_schedule_runs_out(books: httpx2.AsyncClient, sandbox: Sandbox):
    sandbox.settings.webhook_retry_seconds = [0.01, 0.01]
    async with receiving(Receiver([500, 500, 500, 500])) as receiver, sandbox.webhooks.running():
        ok(await books.post("settings/webhooks", json={"entity": "invoices", "url": receiver.url}), 201)
        await _invoice(books, sandbox)
        await answered(sandbox, 3)
        await anyio.sleep(0.1)  # no fourth try comes
    assert [a.status for a in sandbox.webhooks.attempts] == [500, 500, 500]
