"""Dynamic client registration is open to anyone, so what strangers can make zbmcp keep is bounded: metadata
of a few KB, registrations limited per address and in all (in the State, so across replicas), unused ones
forgotten after days, and at most `max_unused` of them kept, however long a flood lasts. A real client still
registers and signs in once a flood stops, or is told why not."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from tests.oauth_server.conftest import (
    ALICE,
    APP_REDIRECT,
    Connector,
    FakeClock,
    RawClient,
    connector,
    mcp_call,
    person,
    register,
    tokens,
)
from tests.state.sizes import stored_bytes
from zbmcp.oauth_server.clients import MAX_RECORD_BYTES, NAMESPACE, UNUSED
from zbmcp.oauth_server.doors import AUDITED_REFUSALS, MAX_METADATA_BYTES
from zbmcp.state import State
from zbmcp.state.local import LocalState

AGENTS = {"bookkeeper": person(["invoices:read"], [ALICE])}
COUNT_BYTES = 400  # what counting one registration of the window may keep (its address's count, in all's)


@pytest.fixture
async def http():
    async with httpx2.AsyncClient(timeout=10) as client:
        yield client


def metadata(size: int) -> dict[str, Any]:
    """Client metadata whose JSON is `size` bytes, padded in a field the SDK keeps (contacts)."""
    body: dict[str, Any] = {"redirect_uris": [APP_REDIRECT], "client_name": "Flood",
                            "grant_types": ["authorization_code", "refresh_token"], "contacts": []}
    padding = size - len(json.dumps(body))
    if padding > 0:
        body["contacts"] = ["x" * (padding - 2)]
    assert len(json.dumps(body)) == size or padding <= 0
    return body


async def post(zb: Connector, http: httpx2.AsyncClient, body: dict[str, Any],
               address: str = "127.0.0.1") -> httpx2.Response:
    """A registration as it arrives from `address` (through the loopback proxy the HTTP server believes)."""
    return await http.post(f"{zb.url}/register", content=json.dumps(body),
                           headers={"Content-Type": "application/json", "X-Forwarded-For": address})


async def registrations(zb: Connector) -> dict[str, Any]:
    state = zb.runtime.state
    return {**await state.items(UNUSED), **await state.items(NAMESPACE)}


def refusals(zb: Connector) -> list[dict[str, Any]]:
    return [e for e in zb.events("register") if e["decision"] == "denied"]


async def test_client_metadata_over_a_few_kb_is_refused_naming_the_limit(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        huge = await post(zb, http, metadata(855 * 1024))  # what was stored for a year before
        over = await post(zb, http, metadata(MAX_METADATA_BYTES + 1))
        kept = await registrations(zb)
        fits = await post(zb, http, metadata(MAX_METADATA_BYTES))
    for refused in (huge, over):
        assert refused.status_code == 400, refused.text[:300]
        answer = refused.json()
        assert answer["error"] == "invalid_client_metadata"
        assert f"larger than {MAX_METADATA_BYTES} bytes" in answer["error_description"]
    assert kept == {}  # nothing of either was stored
    assert fits.status_code == 201, fits.text
    assert [e["error"] for e in refusals(zb)] == ["invalid_client_metadata"] * 2


async def test_registrations_are_limited_per_address_and_in_all_and_a_client_gets_in_after(
        make_config, sandbox, home, http):
    clock = FakeClock()
    state = LocalState(home / "state", clock=clock)
    limits = {"per_address": 2, "in_all": 6, "window_minutes": 10}
    small = metadata(300)
    async with connector(make_config, sandbox, AGENTS, state=state, clock=clock,
                         oauth={"registration": limits}) as zb:
        one_address = [await post(zb, http, small, "203.0.113.9") for _ in range(3)]
        one_network = [await post(zb, http, small, f"2001:db8:1:2::{i}") for i in range(1, 4)]  # one /64
        others = [await post(zb, http, small, f"198.51.100.{i}") for i in range(1, 4)]
        told = await post(zb, http, small)  # a real client, while everyone's limit is spent
        flood = [await post(zb, http, small, f"192.0.2.{i}") for i in range(40)]
        clock.now += 10 * 60 + 1  # the flood stopped a window ago
        client = await register(zb, http)
        listed = await mcp_call(zb, http, (await tokens(client, http, ALICE))["access_token"])
        kept = await registrations(zb)
    assert [r.status_code for r in one_address] == [201, 201, 429]
    assert [r.status_code for r in one_network] == [201, 201, 429]
    assert [r.status_code for r in others] == [201, 201, 429]  # the sixth in all was the last
    assert told.status_code == 429 and {r.status_code for r in flood} == {429}
    assert 0 < int(told.headers["retry-after"]) <= 600
    why = told.json()["error_description"]
    assert "at most 2 from one address and 6 from everyone every 10 minutes" in why
    assert listed.status_code == 200 and "list_invoices" in listed.text
    assert len(kept) == 7
    assert len(refusals(zb)) == AUDITED_REFUSALS  # the flood did not fill the audit log


async def test_a_registration_flood_stores_a_bounded_total_and_never_pushes_out_a_client_in_use(
        make_config, sandbox, http, state: State):
    max_unused, flood = 20, 120
    limits = {"max_unused": max_unused, "per_address": 1000, "in_all": 1000}
    big = metadata(MAX_METADATA_BYTES)
    async with connector(make_config, sandbox, AGENTS, state=state, oauth={"registration": limits}) as zb:
        before = await stored_bytes(state)
        for i in range(flood):  # each from another address, each as large as may be
            assert (await post(zb, http, big, f"2001:db8:{i:x}::1")).status_code == 201
        grown = await stored_bytes(state) - before
        client = await register(zb, http)
        issued = await tokens(client, http, ALICE)
        for i in range(flood):  # a second wave, once the real client is in use
            assert (await post(zb, http, big, f"2001:db8:{i:x}:1::1")).status_code == 201
        refreshed = await client.refresh(http, issued["refresh_token"])
        unused = await state.items(UNUSED)
    assert grown <= max_unused * MAX_RECORD_BYTES + flood * COUNT_BYTES, grown
    assert len(unused) == max_unused
    assert refreshed.status_code == 200, refreshed.text  # still known: in use, it was never pushed out


async def test_an_unused_registration_is_forgotten_after_days_and_one_in_use_is_kept(
        make_config, sandbox, home, http):
    clock = FakeClock()
    state = LocalState(home / "state", clock=clock)
    async with connector(make_config, sandbox, AGENTS, state=state, clock=clock,
                         oauth={"registration": {"unused_days": 7}}) as zb:
        idle = await register(zb, http)
        used = await register(zb, http)
        issued = await tokens(used, http, ALICE)
        clock.now += 7 * 86400 + 1
        forgotten = await http.get(idle.authorize_url(), follow_redirects=False)
        refreshed = await used.refresh(http, issued["refresh_token"])
        again = await register(zb, http)  # the forgotten client registers again, and works
        signed_in = await tokens(RawClient(zb, again.client_id, again.client_secret), http, ALICE)
    assert forgotten.status_code == 400 and "client" in forgotten.text.lower()
    assert refreshed.status_code == 200, refreshed.text
    assert signed_in["access_token"]
