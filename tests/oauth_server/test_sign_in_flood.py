"""Anyone holding a client_id (any registered client, or a metadata document's URL) can start a sign-in at
/authorize without signing in, and each is kept for 15 minutes with the client's `state`: what strangers can
make zbmcp keep that way is bounded too."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest

from tests.oauth_server.conftest import (
    ALICE,
    Browser,
    Connector,
    FakeClock,
    RawClient,
    app_redirect,
    connector,
    person,
    register,
    sign_in_and_consent,
)
from tests.state.sizes import stored_bytes
from zbmcp.oauth_server import doors, signin
from zbmcp.oauth_server.doors import MAX_STATE_CHARS
from zbmcp.state.local import LocalState

AGENTS = {"bookkeeper": person(["invoices:read"], [ALICE])}


@pytest.fixture
async def http():
    async with httpx2.AsyncClient(timeout=10) as client:
        yield client


async def start(zb: Connector, http: httpx2.AsyncClient, client: RawClient, address: str,
                **overrides: str) -> httpx2.Response:
    return await http.get(client.authorize_url(**overrides), headers={"X-Forwarded-For": address})


async def test_a_state_of_more_than_2048_characters_is_refused_and_nothing_is_kept(
        make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        huge = "s" * 12000
        refused = await start(zb, http, client, "203.0.113.5", state=huge)
        fields = dict(parse_qsl(urlsplit(client.authorize_url()).query))
        form = await http.post(f"{zb.url}/authorize", data={**fields, "state": "s" * 60000})
        pending = await zb.runtime.state.items(signin.PENDING)
        fits = await start(zb, http, client, "203.0.113.5", state="s" * MAX_STATE_CHARS)
    for answer in (refused, form):
        assert answer.status_code == 400, answer.text[:300]
        assert answer.json()["error"] == "invalid_request"
        assert f"longer than {MAX_STATE_CHARS} characters" in answer.json()["error_description"]
        assert "s" * 100 not in answer.text and "location" not in answer.headers  # not echoed anywhere
    assert pending == {}
    assert fits.status_code == 302


async def test_a_sign_in_flood_is_limited_keeps_a_bounded_total_and_a_person_signs_in_after(
        make_config, sandbox, http, home, monkeypatch):
    monkeypatch.setattr(signin, "MAX_PENDING", 20)
    monkeypatch.setattr(doors, "AUTHORIZE_PER_ADDRESS", 5)
    monkeypatch.setattr(doors, "AUTHORIZE_IN_ALL", 40)
    clock = FakeClock()
    state = LocalState(home / "state", clock=clock)
    async with connector(make_config, sandbox, AGENTS, state=state, clock=clock) as zb:
        client = await register(zb, http)
        before = await stored_bytes(state)
        one_address = [await start(zb, http, client, "198.51.100.7", state="s" * MAX_STATE_CHARS)
                       for _ in range(6)]
        flood = [await start(zb, http, client, f"2001:db8:{i:x}::1", state="s" * MAX_STATE_CHARS)
                 for i in range(100)]
        pending = await state.items(signin.PENDING)
        grown = await stored_bytes(state) - before
        told = await start(zb, http, client, "203.0.113.80")  # a person, while the flood has spent it all
        clock.now += 10 * 60 + 1
        browser = Browser()
        try:
            answer = app_redirect(await sign_in_and_consent(browser, client.authorize_url(), ALICE))
        finally:
            await browser.aclose()
    assert [r.status_code for r in one_address] == [302] * 5 + [429]
    assert [r.status_code for r in flood] == [302] * 35 + [429] * 65
    assert told.status_code == 429
    why = told.json()["error_description"]
    assert "at most 5 from one address and 40 from everyone every 10 minutes" in why
    assert 0 < int(told.headers["retry-after"]) <= 600
    assert len(pending) == 20  # the oldest went first
    assert grown <= 20 * (MAX_STATE_CHARS + 2048) + 40 * 400, grown
    assert answer["code"]
