"""Fault injection: latency, 5xx, dropped connections before and after the write,
malformed JSON, 429 bursts."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx2
import pytest

from tests.sandbox.conftest import ORG, error, ok
from zbmcp.sandbox import ConnectionDropped, Fault, Sandbox


def _contact(name: str) -> dict[str, Any]:
    return {"contact_name": name}


def _names(sandbox: Sandbox) -> set[str]:
    return {contact["contact_name"] for contact in sandbox.store(ORG).contacts.values()}


async def test_latency_delays_the_answer(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    fault = sandbox.faults.add(Fault(kind="latency", route="GET /items", delay_seconds=0.2, times=1))
    started = time.monotonic()
    ok(await books.get("items"))
    assert time.monotonic() - started >= 0.2
    assert fault.spent
    ok(await books.get("items"))  # once only (not timed: a busy machine may be slow by itself)
    assert fault.fired == 1 and len(sandbox.api_requests) == 2


async def test_internal_error_is_code_1000_and_nothing_happens(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    fault = sandbox.faults.add(Fault(kind="error", route="POST /contacts", times=1))
    assert error(await books.post("contacts", json=_contact("Ghost")), 500, 1000) == "Internal error"
    assert "Ghost" not in _names(sandbox) and fault.fired == 1 and fault.spent
    assert sandbox.api_requests[-1].fault == "error"
    ok(await books.post("contacts", json=_contact("Ghost")), 201)


@pytest.mark.parametrize("status", [502, 503])
async def test_gateway_errors_are_html(books: httpx2.AsyncClient, sandbox: Sandbox, status: int) -> None:
    sandbox.faults.add(Fault(kind="error", status=status, times=1))
    response = await books.get("invoices")
    assert response.status_code == status and response.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()


async def test_drop_after_the_write_takes_effect(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(Fault(kind="drop_after", route="POST /contacts", times=1))
    with pytest.raises(httpx2.RemoteProtocolError):
        await books.post("contacts", json=_contact("Half Sent Ltd"))
    assert "Half Sent Ltd" in _names(sandbox)  # the client never heard, but the contact exists
    record = sandbox.api_requests[-1]
    assert (record.status, record.fault) == (201, "drop_after")
    error(await books.post("contacts", json=_contact("Half Sent Ltd")), 400, 1001)  # a blind retry collides


async def test_drop_before_nothing_happens(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(Fault(kind="drop_before", route="POST /contacts", times=1))
    with pytest.raises(ConnectionDropped):
        await books.post("contacts", json=_contact("Never Ltd"))
    assert "Never Ltd" not in _names(sandbox)
    ok(await books.post("contacts", json=_contact("Never Ltd")), 201)


async def test_malformed_answer_after_the_write(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(Fault(kind="malformed", route="POST /contacts", times=1))
    response = await books.post("contacts", json=_contact("Garbled Inc"))
    assert response.status_code == 201
    with pytest.raises(ValueError):
        response.json()
    assert "Garbled Inc" in _names(sandbox)


async def test_rate_limit_burst(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(Fault(kind="rate_limit", times=2))
    for _ in range(2):
        response = await books.post("contacts", json=_contact("Burst Co"))
        error(response, 429, 44)
        assert "retry-after" not in response.headers
    assert "Burst Co" not in _names(sandbox)
    ok(await books.post("contacts", json=_contact("Burst Co")), 201)


async def test_routes_match_templates_and_concrete_paths(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    draft, other = view.invoice_id("INV-000004"), view.invoice_id("INV-000003")
    sandbox.faults.add(Fault(kind="error", route=f"GET /books/v3/invoices/{draft}"))
    template = sandbox.faults.add(Fault(kind="error", status=503, route="POST /invoices/{invoice_id}/email"))
    error(await books.get(f"invoices/{draft}"), 500, 1000)
    ok(await books.get(f"invoices/{other}"))
    assert (await books.post(f"invoices/{other}/email")).status_code == 503
    sandbox.faults.remove(template)
    ok(await books.post(f"invoices/{other}/email"))
    sandbox.faults.clear()
    ok(await books.get(f"invoices/{draft}"))


async def test_probability_uses_a_seeded_rng(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    async def pattern() -> list[int]:
        sandbox.faults.clear()
        sandbox.faults.seed(42)
        sandbox.faults.add(Fault(kind="error", route="GET /items", probability=0.5))
        return [(await books.get("items")).status_code for _ in range(20)]

    first = await pattern()
    assert first == await pattern()
    assert 0 < first.count(500) < 20 and set(first) == {200, 500}


async def test_hold_keeps_a_request_in_flight_until_released(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold", route="GET /items", times=1, release=release, entered=entered))
    answers: list[int] = []

    async def call() -> None:
        answers.append((await books.get("items")).status_code)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            await entered.wait()
            assert answers == []
            release.set()
    assert answers == [200]


@pytest.mark.parametrize("kwargs", [
    {"kind": "explode"}, {"kind": "error", "status": 302}, {"kind": "error", "route": "invoices"},
    {"kind": "error", "probability": 1.5}, {"kind": "hold"}, {"kind": "error", "times": -1},
])
def test_bad_faults_are_refused_when_made(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_after_the_write_takes_effect_then_answers_a_gateway_page(
        books: httpx2.AsyncClient, sandbox: Sandbox, status: int) -> None:
    sandbox.faults.add(Fault(kind="gateway_after", status=status, route="POST /contacts", times=1))
    response = await books.post("contacts", json=_contact("Late Answer Ltd"))
    assert response.status_code == status and response.headers["content-type"].startswith("text/html")
    assert "Late Answer Ltd" in _names(sandbox)  # Zoho recorded it; the client only saw the gateway's page
    record = sandbox.api_requests[-1]
    assert (record.status, record.fault) == (201, "gateway_after")


async def test_hold_after_answers_once_released_the_write_already_done(books: httpx2.AsyncClient,
                                                                       sandbox: Sandbox) -> None:
    release, committed = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold_after", route="POST /contacts", times=1, release=release,
                             entered=committed))
    answers: list[int] = []

    async def create() -> None:
        answers.append((await books.post("contacts", json=_contact("Held Ltd"))).status_code)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(create)
            await committed.wait()
            assert "Held Ltd" in _names(sandbox) and answers == []  # recorded, not yet answered
            release.set()
    assert answers == [201]


def test_new_fault_kinds_refuse_settings_that_make_no_sense() -> None:
    with pytest.raises(ValueError, match="502, 503 or 504"):
        Fault(kind="gateway_after")
    with pytest.raises(ValueError, match="delay_seconds"):
        Fault(kind="hold_after")


@pytest.mark.parametrize(("fault", "status", "payload"), [
    (Fault(kind="error", status=429), 429, {"message": "Too Many Requests"}),
    (Fault(kind="error", status=429, code=7, message="slow down"), 429, {"code": 7, "message": "slow down"}),
    (Fault(kind="error", status=503, code=1000), 503, {"code": 1000, "message": "Service Unavailable"}),
    (Fault(kind="error", status=400, code=1001, message="Contact name already exist"), 400,
     {"code": 1001, "message": "Contact name already exist"}),
    (Fault(kind="rate_limit", code=1070), 429, {"code": 1070}),
    (Fault(kind="rate_limit", code=45), 429, {"code": 45}),
])
async def test_an_injected_error_answers_exactly_what_was_asked_for(
        books: httpx2.AsyncClient, sandbox: Sandbox, fault: Fault, status: int,
        payload: dict[str, Any]) -> None:
    fault.route, fault.times = "POST /contacts", 1
    sandbox.faults.add(fault)
    response = await books.post("contacts", json=_contact("Asked For Ltd"))
    assert response.status_code == status and response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert {key: body.get(key) for key in payload} == payload and ("code" in body) == ("code" in payload)
    assert "Asked For Ltd" not in _names(sandbox)


@pytest.mark.parametrize("fault", [dict(kind="error", status=302), dict(kind="error", status=600),
                                   dict(kind="rate_limit", code=7)])
def test_a_fault_that_cannot_be_answered_is_refused(fault: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fault(**fault)
