"""A client that knows only the URL: 401, discovery, Zoho sign-in, consent, tokens, tools; then the scope
challenge when it needs more, and a person who may act as several agents choosing one."""

from __future__ import annotations

import httpx2
from mcp import Client
from mcp.client.sse import sse_client

from tests.conftest import ORG
from tests.oauth_server.conftest import (
    ALICE,
    Browser,
    SdkClient,
    connector,
    person,
    register,
    sign_in_and_consent,
    signed_in,
)


async def test_a_person_signs_in_with_zoho_and_the_client_lists_and_calls_the_agents_tools(
        make_config, sandbox, state):
    agents = {"bookkeeper": person(["invoices:read", "contacts:read"], [ALICE])}
    # both State backends: files, Redis
    async with connector(make_config, sandbox, agents, state=state) as zb:
        async with signed_in(zb, ALICE) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("list_invoices", {"organization_id": ORG})
    assert tools == {"list_invoices", "get_invoice", "list_contacts", "get_contact"}
    assert not result.is_error, result.content
    call = zb.calls()[-1]
    assert (call["agent"], call["person"], call["decision"]) == ("bookkeeper", ALICE, "allowed")
    assert f'agent "bookkeeper" ({ALICE})' in call["sentence"]
    # the shared connection made the call: Sam's token, not Alice's
    assert sandbox.api_requests[-1].user_id == sandbox.default_user_id
    events = [(e["step"], e["decision"]) for e in zb.events()]
    assert ("register", "allowed") in events and ("sign-in", "allowed") in events
    assert ("consent", "allowed") in events and ("token", "allowed") in events


async def test_a_write_beyond_the_grant_gets_a_scope_challenge_and_works_after_asking_again(
        make_config, sandbox):
    agents = {"bookkeeper": person(["contacts:*"], [ALICE])}
    async with connector(make_config, sandbox, agents) as zb:
        async with signed_in(zb, ALICE) as client:
            await client.list_tools()
            assert client.sdk.storage.tokens.scope == "books:read"  # type: ignore[attr-defined]
            created = await client.call_tool("create_contact", {"organization_id": ORG,
                                                                "contact_name": "Step Up Ltd"})
            authorizations = client.sdk.authorizations  # type: ignore[attr-defined]
            scope = client.sdk.storage.tokens.scope  # type: ignore[attr-defined]
    assert not created.is_error, created.content
    assert authorizations == 2 and set(scope.split()) == {"books:read", "books:write"}
    challenge = [e for e in zb.events("scope") if e["decision"] == "denied"]
    assert len(challenge) == 1 and challenge[0]["error"] == "insufficient_scope"
    assert challenge[0]["rule"] == "create_contact needs books:read books:write; the token has books:read"
    assert sandbox.store(ORG).find("contacts", contact_name="Step Up Ltd")


async def test_a_person_may_allow_reads_only_though_the_app_asked_for_writes(make_config, sandbox):
    agents = {"bookkeeper": person(["contacts:*"], [ALICE])}
    async with connector(make_config, sandbox, agents) as zb:
        async with httpx2.AsyncClient(timeout=10) as http:
            client = await register(zb, http)
            browser = Browser()
            answer = await sign_in_and_consent(browser, client.authorize_url(scope="books:read books:write"),
                                               ALICE, allow_writes=False)
            await browser.aclose()
            code = answer.headers["location"].split("code=")[1].split("&")[0]
            issued = (await client.exchange(http, code)).json()
    assert issued["scope"] == "books:read"
    assert zb.events("consent")[-1]["rule"] == "allowed books:read"


async def test_a_person_listed_under_two_agents_chooses_one_on_the_consent_page(make_config, sandbox):
    agents = {"bookkeeper": person(["invoices:read"], [ALICE]),
              "purchasing": person(["bills:read"], ["700000000000003"])}
    async with connector(make_config, sandbox, agents) as zb:
        async with httpx2.AsyncClient(timeout=10) as http:
            client = await register(zb, http)
            browser = Browser()
            zoho = await browser.go(client.authorize_url())
            consent = await browser.submit(zoho, email=ALICE, password="sandbox", action="sign_in")
            assert 'value="bookkeeper"' in consent.text and 'value="purchasing"' in consent.text
            # no framing (clickjacking), no caching, no Referer carrying the page onwards
            assert consent.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in consent.headers["content-security-policy"]
            assert consent.headers["cache-control"] == "no-store"
            assert consent.headers["referrer-policy"] == "no-referrer"
            assert "list_bills" in consent.text and "list_invoices" in consent.text
            answer = await browser.submit(consent, decision="allow", agent="purchasing")
            await browser.aclose()
            code = answer.headers["location"].split("code=")[1].split("&")[0]
            issued = (await client.exchange(http, code)).json()
            listed = await http.post(f"{zb.url}/mcp",
                                     json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                     headers={"Authorization": f"Bearer {issued['access_token']}",
                                              "Accept": "application/json, text/event-stream",
                                              "MCP-Protocol-Version": "2025-11-25"})
    assert "list_bills" in listed.text and "list_invoices" not in listed.text
    assert zb.events("consent")[-1]["agent"] == "purchasing"


async def test_the_legacy_sse_transport_takes_the_same_sign_in(make_config, sandbox):
    agents = {"bookkeeper": person(["invoices:read"], [ALICE])}
    async with connector(make_config, sandbox, agents) as zb:
        browser = Browser()
        sdk = SdkClient(zb.url, ALICE, browser)
        async with Client(sse_client(f"{zb.url}/sse", auth=sdk.provider()), mode="legacy") as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("list_invoices", {"organization_id": ORG})
        await browser.aclose()
    assert tools == {"list_invoices", "get_invoice"} and not result.is_error
    assert zb.calls()[-1]["person"] == ALICE
