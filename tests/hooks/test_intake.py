"""The webhook intake, through zbmcp's real HTTP server: what a delivery must prove, what is kept, what a
forger, a retry, a flood or a malformed body can change (nothing), and that each leaves an audit record."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from tests.conftest import ORG, AuditCapture, agent, running, serving
from zbmcp.core.config import LoadedConfig
from zbmcp.sandbox import Sandbox
from zbmcp.state.hook_events import REFUSALS_KEPT, events_after, refusals_log
from zbmcp.transports.http import HttpServer

SECRET = "Hook0Secret0Payments42"


def hook_settings(**options: Any) -> dict[str, Any]:
    return {"connection": "main", "organization": ORG, "module": "customerpayments", "secret": SECRET,
            **options}


def payment(payment_id: str = "460000000099001", **fields: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {"payment": {"payment_id": payment_id, "amount": 120.5, "customer_id": "460000000000011",
                        "last_modified_time": now, **fields}}


def zoho_signature(text: str, secret: str = SECRET) -> str:
    """As Zoho's Finance apps document it: HMAC-SHA256 of the parameters sorted by name, written name then
    value, then the raw JSON; written out here by hand, not with zbmcp's own code."""
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class Hooked:
    def __init__(self, server: HttpServer, audit: AuditCapture, runtime: Any) -> None:
        self.server, self.audit, self.runtime = server, audit, runtime
        self.http = httpx2.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)

    async def post(self, path: str, body: bytes, *, content_type: str = "application/json",
                   headers: dict[str, str] | None = None, method: str = "POST") -> httpx2.Response:
        return await self.http.request(method, path, content=body,
                                  headers={"content-type": content_type, **(headers or {})})

    async def signed(self, path: str, payload: dict[str, Any], query: str = "") -> httpx2.Response:
        raw = json.dumps(payload).encode()
        pairs = sorted(tuple(part.split("=", 1)) for part in query.split("&") if part)
        signed = "".join(k + v for k, v in pairs) + raw.decode()
        return await self.post(path + (f"?{query}" if query else ""), raw,
                               headers={"X-Zoho-Webhook-Signature": zoho_signature(signed)})

    async def events(self, *hooks: str) -> list[dict[str, Any]]:
        found, _ = await events_after(self.runtime.state, hooks or ("payments",), None, 1000)
        return [event for _, event in found]

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.audit.lines if line.get("event") == kind]


Serve = Callable[[], contextlib.AbstractAsyncContextManager[Hooked]]


@pytest.fixture
def hooked(make_config: Callable[..., LoadedConfig], sandbox: Sandbox) -> Serve:
    """zbmcp serving three hooks over real HTTP (opened in the test's own task, as servers must be)."""
    @contextlib.asynccontextmanager
    async def serve() -> AsyncIterator[Hooked]:
        loaded = make_config({"bookkeeper": agent(["*:read"])},
                             hooks={"payments": hook_settings(per_minute=50),
                                    "signed-only": hook_settings(verify="signature"),
                                    "tokens-only": hook_settings(verify="token")})
        audit = AuditCapture()
        async with running(loaded, sandbox, audit=audit) as runtime, serving(runtime) as server:
            hooked = Hooked(server, audit, runtime)
            try:
                yield hooked
            finally:
                await hooked.http.aclose()

    return serve


async def test_zohos_documented_signature_is_taken_and_kept_once(hooked: Serve):
    async with hooked() as h:
        delivered = payment()  # once: Zoho's retry carries the same body, its time to the second included
        answer = await h.signed("/hooks/payments", delivered, query="event=created&name=basic")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"
        [event] = await h.events()
        assert event["organization_id"] == ORG and event["module"] == "customerpayments"
        assert event["record_id"] == "460000000099001" and event["event"] == "created"
        assert event["verified_by"] == "signature" and event["payload"]["payment"]["amount"] == 120.5
        [record] = h.records("hook.received")
        assert record["hook"] == "payments" and record["decision"] == "allowed"

        again = await h.signed("/hooks/payments", delivered, query="event=created&name=basic")
        assert again.status_code == 200 and again.json() == {"status": "repeated"}  # Zoho stops retrying
        assert len(await h.events()) == 1
        assert len(h.records("hook.repeated")) == 1


async def test_zoho_billings_own_example_string_is_what_is_signed(hooked: Serve):
    async with hooked() as h:
        # The example in Zoho's "How do I secure my webhooks": query subscription_id=90343, name=basic, then
        # the raw JSON; the string to sign is namebasicsubscription_id90343{"created_date":...}.
        raw = '{"created_date":"2019-03-06","event_id":"5675"}'
        signature = zoho_signature("namebasicsubscription_id90343" + raw)
        answer = await h.post("/hooks/payments?subscription_id=90343&name=basic", raw.encode(),
                              headers={"X-Zoho-Webhook-Signature": signature.upper()})
        assert answer.status_code == 200, answer.text


async def test_a_form_delivery_is_signed_over_its_decoded_fields(hooked: Serve):
    async with hooked() as h:
        body = "payment_id=4600&amount=12.50&note=caf%C3%A9+%26+co"
        signed = "amount12.50note" + "café & co" + "payment_id4600"
        answer = await h.post("/hooks/payments", body.encode(),
                              content_type="application/x-www-form-urlencoded",
                              headers={"X-Zoho-Webhook-Signature": zoho_signature(signed)})
        assert answer.status_code == 200, answer.text
        [event] = await h.events()
        assert event["payload"] == {"payment_id": "4600", "amount": "12.50", "note": "café & co"}
        assert event["record_id"] == "4600"


async def test_the_secret_as_a_token_is_taken_and_never_kept(hooked: Serve):
    async with hooked() as h:
        raw = json.dumps(payment("1")).encode()
        by_header = await h.post("/hooks/payments", raw, headers={"X-Zbmcp-Token": SECRET})
        by_parameter = await h.post(f"/hooks/payments?zbmcp_token={SECRET}&event=paid",
                                         json.dumps(payment("2")).encode())
        assert by_header.status_code == by_parameter.status_code == 200
        events = await h.events()
        assert [event["verified_by"] for event in events] == ["token", "token"]
        assert events[1]["params"] == {"event": "paid"}
        assert SECRET not in json.dumps(events) and SECRET not in json.dumps(h.audit.lines)


@pytest.mark.parametrize("headers, query, hook", [
    ({"X-Zoho-Webhook-Signature": "0" * 64}, "", "payments"),           # forged signature
    ({"X-Zoho-Webhook-Signature": "not a signature"}, "", "payments"),
    ({"X-Zbmcp-Token": SECRET[:-1] + "x"}, "", "payments"),             # a wrong token
    ({}, "zbmcp_token=guess", "payments"),
    ({}, "", "payments"),                                               # no proof at all
    ({"X-Zbmcp-Token": SECRET}, "", "signed-only"),                     # the right secret, the wrong proof
])
async def test_a_delivery_without_the_secret_changes_nothing(hooked: Serve, headers: dict[str, str],
                                                              query: str, hook: str):
    async with hooked() as h:
        answer = await h.post(f"/hooks/{hook}" + (f"?{query}" if query else ""),
                                   json.dumps(payment()).encode(), headers=headers)
        assert answer.status_code == 401
        assert await h.events(hook) == []
        [record] = h.records("hook.refused")
        assert record["decision"] == "denied" and record["hook"] == hook and record["address"] == "127.0.0.1"
        refusals = await h.runtime.state.read_log(refusals_log(hook))
        assert [value["status"] for _, value in refusals] == [401]


async def test_a_signature_and_a_wrong_token_together_are_refused(hooked: Serve):
    async with hooked() as h:
        raw = json.dumps(payment()).encode()
        answer = await h.post("/hooks/payments?zbmcp_token=wrong", raw, headers={
            "X-Zoho-Webhook-Signature": zoho_signature("zbmcp_tokenwrong" + raw.decode())})
        assert answer.status_code == 401 and await h.events() == []


async def test_a_hook_for_tokens_only_ignores_a_signature(hooked: Serve):
    async with hooked() as h:
        answer = await h.signed("/hooks/tokens-only", payment())
        assert answer.status_code == 401 and await h.events("tokens-only") == []


@pytest.mark.parametrize("body, content_type, status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b"\xff\xfe", "application/x-www-form-urlencoded", 400),
    (b"hello", "text/plain", 415),
])
async def test_a_malformed_body_is_refused(hooked: Serve, body: bytes, content_type: str, status: int):
    async with hooked() as h:
        answer = await h.post("/hooks/payments", body, content_type=content_type,
                              headers={"X-Zbmcp-Token": SECRET})
        assert answer.status_code == status
        assert await h.events() == [] and len(h.records("hook.refused")) == 1


async def test_an_oversized_body_is_refused_before_it_is_read(hooked: Serve):
    async with hooked() as h:
        big = json.dumps({"payment": {"note": "x" * 300_000}}).encode()
        answer = await h.post("/hooks/payments", big, headers={"X-Zbmcp-Token": SECRET})
        assert answer.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(40):
                yield b" " * 10_000

        streamed = await h.http.post("/hooks/payments", content=chunks(),
                                     headers={"content-type": "application/json", "X-Zbmcp-Token": SECRET})
        assert streamed.status_code == 413
        assert await h.events() == []


async def test_an_old_delivery_is_refused_as_a_possible_replay(hooked: Serve):
    async with hooked() as h:
        old = payment(last_modified_time="2020-01-10T10:00:00+0530")
        answer = await h.signed("/hooks/payments", old)
        assert answer.status_code == 409 and "replay" in answer.json()["error_description"]
        assert await h.events() == []


async def test_an_unknown_hook_or_method_is_refused_and_audited(hooked: Serve):
    async with hooked() as h:
        assert (await h.signed("/hooks/nope", payment())).status_code == 404
        assert (await h.post("/hooks/payments", b"{}", method="PATCH",
                                  headers={"X-Zbmcp-Token": SECRET})).status_code == 405
        assert len(h.records("hook.refused")) == 2


async def test_a_flood_is_bounded_per_hook(hooked: Serve):
    async with hooked() as h:
        for i in range(REFUSALS_KEPT + 20):
            await h.post("/hooks/payments", json.dumps(payment(str(i))).encode(),
                              headers={"X-Zbmcp-Token": "wrong" + str(i)})
        kept = await h.runtime.state.read_log(refusals_log("payments"), limit=1000)
        assert len(kept) == min(REFUSALS_KEPT, 60)  # at most 60 a minute kept, and never more than 100
        # authenticated deliveries past the hook's per_minute are told to come back later
        answers = [await h.signed("/hooks/payments", payment(str(i))) for i in range(55)]
        statuses = [a.status_code for a in answers]
        assert statuses[:50] == [200] * 50 and set(statuses[50:]) == {429}
        assert answers[-1].headers["retry-after"] == "60"
        assert len(await h.events()) == 50
