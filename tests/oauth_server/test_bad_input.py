"""Everything a client or a person could get wrong, or try on purpose: each refused with the
error the OAuth and MCP specs name, each written to the audit log with the reason, and none of it
reaching Zoho's Books API."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx2
import pytest

from tests.conftest import ORG
from tests.oauth_server.conftest import (
    ALICE,
    APP_REDIRECT,
    MALLORY,
    Browser,
    Connector,
    FakeClock,
    app_redirect,
    connector,
    grant,
    mcp_call,
    person,
    register,
    rpc_result,
    sign_in_and_consent,
    tokens,
)
from zbmcp.listen import bind_listener

AGENTS = {"bookkeeper": person(["invoices:*"], [ALICE]),
          "reporting": person(["bills:read"], ["nobody@example.com"])}


def denied(zb: Connector, event: str) -> list[dict[str, str]]:
    return [e for e in zb.events(event) if e["decision"] == "denied"]


def nothing_reached_books(zb: Connector) -> bool:
    return not zb.sandbox.api_requests


@pytest.fixture
async def http():
    async with httpx2.AsyncClient(timeout=10) as client:
        yield client


# -- wrong audience ------------------------------------------------------------------------------------------


async def test_an_authorization_for_another_resource_is_refused_with_invalid_target(
        make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        browser = Browser()
        answer = await browser.go(client.authorize_url(resource="https://other.example/mcp"))
        await browser.aclose()
        query = app_redirect(answer)
        assert query["error"] == "invalid_target" and query["state"] == "st-1"
        assert query["iss"] == zb.url  # RFC 9207: error responses carry the issuer too
        assert "sign-in" not in " ".join(browser.history)  # nobody was sent to Zoho
        assert denied(zb, "authorize")[-1]["error"] == "invalid_target"
        assert nothing_reached_books(zb)


async def test_a_token_request_for_another_resource_is_refused_with_invalid_target(
        make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        code = (await grant(client))["code"]
        answer = await client.exchange(http, code, resource="https://other.example")
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_target"
        assert denied(zb, "token")[-1]["error"] == "invalid_target"
        assert (await client.exchange(http, code)).status_code == 200  # the code was not burnt by the refusal


async def test_a_token_issued_for_another_zbmcp_is_refused_here(make_config, sandbox, http):
    # The two servers even share their records (one ZBMCP_HOME): the audience alone tells them apart.
    async with connector(make_config, sandbox, AGENTS) as first:
        client = await register(first, http)
        access = (await tokens(client, http))["access_token"]
        assert (await mcp_call(first, http, access)).status_code == 200
    async with connector(make_config, sandbox, AGENTS) as second:
        answer = await mcp_call(second, http, access)
    assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert denied(second, "bearer")[-1]["rule"] == f"token issued for {first.url}, not this server"


# -- codes ---------------------------------------------------------------------------------------------------


async def test_a_reused_code_is_refused_and_revokes_what_it_gave(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        code = (await grant(client))["code"]
        first = await client.exchange(http, code)
        assert first.status_code == 200
        again = await client.exchange(http, code)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        assert (await mcp_call(zb, http, first.json()["access_token"])).status_code == 401
        assert (await client.refresh(http, first.json()["refresh_token"])).json()["error"] == "invalid_grant"
        rules = [e["rule"] for e in denied(zb, "token")]
        assert any("used a second time" in rule for rule in rules)
        assert nothing_reached_books(zb)


async def test_an_expired_code_is_refused(make_config, sandbox, http):
    clock = FakeClock()
    async with connector(make_config, sandbox, AGENTS, clock=clock) as zb:
        client = await register(zb, http)
        code = (await grant(client))["code"]
        clock.now += 121  # codes live two minutes
        answer = await client.exchange(http, code)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert "authorization code expired" in denied(zb, "token")[-1]["rule"]


async def test_a_code_belongs_to_the_client_it_was_given_to(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        owner, thief = await register(zb, http), await register(zb, http)
        code = (await grant(owner))["code"]
        answer = await thief.exchange(http, code, code_verifier=owner.verifier)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
        assert denied(zb, "token")[-1]["client"] == thief.client_id


# -- PKCE ----------------------------------------------------------------------------------------------------


async def test_a_pkce_mismatch_is_refused(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        code = (await grant(client))["code"]
        answer = await client.exchange(http, code, code_verifier="x" * 64)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
        assert "code_verifier" in denied(zb, "token")[-1]["rule"]
        missing = await client.exchange(http, code, code_verifier=None)
        assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
        assert (await client.exchange(http, code)).status_code == 200


@pytest.mark.parametrize("overrides", [{"code_challenge_method": "plain"}, {"code_challenge": None}])
async def test_authorization_without_s256_pkce_is_refused(make_config, sandbox, http, overrides):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        browser = Browser()
        answer = await browser.go(client.authorize_url(**overrides))
        await browser.aclose()
        query = app_redirect(answer)
        assert query["error"] == "invalid_request" and query["iss"] == zb.url
        assert denied(zb, "authorize")[-1]["error"] == "invalid_request"


# -- redirect URIs -------------------------------------------------------------------------------------------


async def test_an_unregistered_redirect_uri_gets_no_redirect_at_all(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        browser = Browser()
        answer = await browser.go(client.authorize_url(redirect_uri="https://evil.example/steal"))
        await browser.aclose()
        assert answer.status_code == 400 and "location" not in answer.headers
        assert answer.json()["error"] == "invalid_request"
        assert denied(zb, "authorize")[-1]["error"] == "invalid_request"


async def test_the_token_request_must_repeat_the_redirect_uri(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http, redirect_uris=[APP_REDIRECT, "http://127.0.0.1:9/other"])
        code = (await grant(client))["code"]
        answer = await client.exchange(http, code, redirect_uri="http://127.0.0.1:9/other")
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize("uri", ["http://evil.example/cb", "javascript:alert(1)",
                                 "https://ok.example/cb#frag", "https://user:pw@ok.example/cb",
                                 "myapp://callback"])
async def test_registration_refuses_redirect_uris_that_are_neither_https_nor_loopback(
        make_config, sandbox, http, uri):
    async with connector(make_config, sandbox, AGENTS) as zb:
        answer = await http.post(f"{zb.url}/register", json={"redirect_uris": [uri], "client_name": "x"})
        assert answer.status_code == 400
        assert answer.json()["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
        assert denied(zb, "register")[-1]["error"] == answer.json()["error"]


async def test_sign_in_pages_never_redirect_anywhere_they_were_not_told(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        for path in ("/oauth/sign-in?request=forged", "/oauth/consent?id=forged",
                     "/oauth/zoho/callback?state=forged&code=1000.x"):
            answer = await http.get(zb.url + path)
            assert answer.status_code == 400 and "location" not in answer.headers, path
        assert denied(zb, "sign-in")[-1]["rule"] == "Zoho sent back an unknown or expired sign-in (state)"


# -- who signs in --------------------------------------------------------------------------------------------


async def test_a_zoho_user_no_agent_lists_is_refused(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        browser = Browser()
        page = await sign_in_and_consent(browser, client.authorize_url(), MALLORY)
        await browser.aclose()
        assert page.status_code == 403 and "mallory@outsider.example" in page.text
        back = next(link for link in page.text.split('"') if link.startswith(APP_REDIRECT))
        query = {k: v[0] for k, v in parse_qs(urlsplit(back.replace("&amp;", "&")).query).items()}
        assert query["error"] == "access_denied" and query["iss"] == zb.url and "code" not in query
        event = denied(zb, "sign-in")[-1]
        assert event["person"] == MALLORY and event["rule"] == "this Zoho user is not mapped to any agent"
        assert nothing_reached_books(zb)


async def test_finishing_a_sign_in_in_another_browser_is_refused(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        victim, attacker = Browser(), Browser()
        zoho = await attacker.go(client.authorize_url())  # the attacker starts, then lures the victim to Zoho
        victim_page = await victim.go(str(zoho.url))
        answer = await victim.submit(victim_page, email=ALICE, password="sandbox", action="sign_in")
        await victim.aclose()
        await attacker.aclose()
        assert answer.status_code == 400 and "another browser" in answer.text
        assert denied(zb, "sign-in")[-1]["rule"] == "the Zoho sign-in came back to a different browser"


async def test_denying_consent_sends_access_denied_and_no_code(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        browser = Browser()
        query = app_redirect(await sign_in_and_consent(browser, client.authorize_url(), ALICE,
                                                       decision="deny"))
        await browser.aclose()
        assert query["error"] == "access_denied" and "code" not in query and query["iss"] == zb.url
        assert denied(zb, "consent")[-1]["person"] == ALICE


async def test_a_consent_form_cannot_pick_an_agent_it_did_not_offer(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        browser = Browser()
        answer = await sign_in_and_consent(browser, client.authorize_url(), ALICE, agent="reporting")
        await browser.aclose()
        assert answer.status_code == 400
        assert "was not offered" in denied(zb, "consent")[-1]["rule"]


# -- tokens --------------------------------------------------------------------------------------------------


async def test_an_expired_access_token_is_refused_and_audited(make_config, sandbox, http):
    clock = FakeClock()
    async with connector(make_config, sandbox, AGENTS, clock=clock) as zb:
        client = await register(zb, http)
        issued = await tokens(client, http)
        assert (await mcp_call(zb, http, issued["access_token"])).status_code == 200
        clock.now += issued["expires_in"] + 1
        answer = await mcp_call(zb, http, issued["access_token"])
        refreshed = await client.refresh(http, issued["refresh_token"])
    assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert denied(zb, "bearer")[-1]["rule"] == "access token expired"
    assert refreshed.status_code == 200  # the refresh token outlives it


async def test_a_revoked_token_is_refused_everywhere(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        issued = await tokens(client, http)
        revoke = await http.post(f"{zb.url}/revoke",
                                 data={"token": issued["refresh_token"], "client_id": client.client_id,
                                       "client_secret": client.client_secret})
        assert revoke.status_code == 200
        assert (await mcp_call(zb, http, issued["access_token"])).status_code == 401
        assert (await client.refresh(http, issued["refresh_token"])).json()["error"] == "invalid_grant"
        assert zb.events("revoke")[-1]["decision"] == "allowed"
        assert denied(zb, "bearer")[-1]["rule"] == "access token revoked"


async def test_a_refresh_token_works_once_and_its_replay_revokes_the_sign_in(
        make_config, sandbox, http, state):
    async with connector(make_config, sandbox, AGENTS, state=state) as zb:  # files and Redis alike
        client = await register(zb, http)
        issued = await tokens(client, http)
        rotated = await client.refresh(http, issued["refresh_token"])
        assert rotated.status_code == 200
        fresh = rotated.json()
        assert fresh["refresh_token"] != issued["refresh_token"] \
            and fresh["access_token"] != issued["access_token"]
        assert (await mcp_call(zb, http, fresh["access_token"])).status_code == 200
        replay = await client.refresh(http, issued["refresh_token"])  # a stolen copy of the old one
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert (await mcp_call(zb, http, fresh["access_token"])).status_code == 401
        assert (await client.refresh(http, fresh["refresh_token"])).json()["error"] == "invalid_grant"
        assert any("used again after it was rotated" in e["rule"] for e in denied(zb, "token"))


async def test_a_refresh_cannot_widen_the_grant(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        issued = await tokens(client, http)  # books:read only
        answer = await client.refresh(http, issued["refresh_token"], scope="books:read books:write")
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"


async def test_a_wrong_client_secret_is_refused(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        code = (await grant(client))["code"]
        client.client_secret = "not-the-secret"
        answer = await client.exchange(http, code)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
        assert denied(zb, "token")[-1]["error"] == "invalid_client"


# -- agents --------------------------------------------------------------------------------------------------


async def test_a_token_for_one_agent_cannot_call_another_agents_tools(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        access = (await tokens(client, http, scope="books:read books:write"))["access_token"]
        answer = rpc_result(await mcp_call(zb, http, access, "tools/call",
                                           {"name": "list_bills", "arguments": {"organization_id": ORG}}))
        assert answer["result"]["isError"] is True
        assert "not available to agent 'bookkeeper'" in answer["result"]["content"][0]["text"]
        assert zb.calls()[-1]["decision"] == "denied" and zb.calls()[-1]["person"] == ALICE
        assert nothing_reached_books(zb)


async def test_a_person_removed_from_the_config_loses_their_tokens(make_config, sandbox, http):
    with bind_listener("127.0.0.1", 0) as address:  # zbmcp restarted on the same address
        async with connector(make_config, sandbox, AGENTS, listener=address) as before:
            client = await register(before, http)
            issued = await tokens(client, http)
        without_alice = {"bookkeeper": person(["invoices:*"], ["bob@example.com"])}
        async with connector(make_config, sandbox, without_alice, listener=address) as after:
            answer = await mcp_call(after, http, issued["access_token"])
            refreshed = await client.refresh(http, issued["refresh_token"])
    assert answer.status_code == 401
    assert denied(after, "bearer")[-1]["rule"] == f"{ALICE} may no longer act as agent bookkeeper"
    assert refreshed.json()["error"] == "invalid_grant"


async def test_two_refreshes_racing_with_one_token_get_one_answer_and_revoke_the_sign_in(
        make_config, sandbox, http, state):
    async with connector(make_config, sandbox, AGENTS, state=state) as zb:
        client = await register(zb, http)
        issued = await tokens(client, http)
        answers: list[httpx2.Response] = []

        async def refresh() -> None:
            answers.append(await client.refresh(http, issued["refresh_token"]))

        async with anyio.create_task_group() as tg:
            tg.start_soon(refresh)
            tg.start_soon(refresh)
        winner = next(answer for answer in answers if answer.status_code == 200)
        assert sorted(answer.status_code for answer in answers) == [200, 400]
        assert (await mcp_call(zb, http, winner.json()["access_token"])).status_code == 401


async def test_a_callback_naming_a_foreign_accounts_server_sends_no_secret_there(make_config, sandbox, http):
    async with connector(make_config, sandbox, AGENTS) as zb:
        client = await register(zb, http)
        browser = Browser()
        zoho_page = await browser.go(client.authorize_url())  # the person is at Zoho's sign-in page
        state = parse_qs(urlsplit(str(zoho_page.url)).query)["state"][0]
        # a forged redirect back, as if Zoho had said "exchange this code at https://evil.example"
        answer = await browser.go(f"{zb.url}/oauth/zoho/callback?" + urlencode(
            {"state": state, "code": "1000.forged", "accounts-server": "https://evil.example"}))
        await browser.aclose()
    query = app_redirect(answer)
    assert query["error"] == "server_error" and "code" not in query
    assert "not a Zoho accounts server; the client secret was not sent" in denied(zb, "sign-in")[-1]["rule"]
    assert not [r for r in sandbox.token_requests if r.grant_type == "authorization_code"]
