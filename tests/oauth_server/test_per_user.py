"""`connection: per_user`: the call goes to Zoho with the signed-in person's own token, so Zoho's own view of
that person applies too, and both zbmcp's audit log and Zoho's records name them."""

from __future__ import annotations

import httpx2

from tests.conftest import ORG, mcp_client, running
from tests.oauth_server.conftest import (
    ALICE,
    MALLORY,
    SAM,
    Browser,
    app_redirect,
    connector,
    register,
    signed_in,
)
from zbmcp.sandbox.users import ALICE_USER_ID, MALLORY_USER_ID, SESSION_COOKIE

OWN = {"mine": {"connection": "per_user", "organizations": [ORG], "tools": ["invoices:read", "contacts:read"],
                "users": [ALICE, MALLORY]}}


async def test_a_per_user_call_reaches_zoho_with_the_persons_own_token(make_config, sandbox):
    async with connector(make_config, sandbox, OWN) as zb:
        async with signed_in(zb, ALICE) as client:
            result = await client.call_tool("list_invoices", {"organization_id": ORG})
            again = await client.call_tool("list_contacts", {"organization_id": ORG})
    assert not result.is_error and not again.is_error, result.content
    assert [request.user_id for request in sandbox.api_requests] == [ALICE_USER_ID, ALICE_USER_ID]
    call = zb.calls()[-1]
    assert call["person"] == ALICE and call["agent"] == "mine" and call["decision"] == "allowed"
    # Alice granted zbmcp her own Books access at Zoho (offline, for this agent's scopes)
    # once, then it was reused
    grants = [r for r in sandbox.token_requests if r.grant_type == "authorization_code"]
    assert len(grants) == 2  # who she is, then her Books grant
    assert not [r for r in sandbox.token_requests if r.grant_type == "refresh_token"]


async def test_zoho_itself_refuses_what_the_person_cannot_reach(make_config, sandbox):
    async with connector(make_config, sandbox, OWN) as zb:
        async with signed_in(zb, MALLORY) as client:
            result = await client.call_tool("list_invoices", {"organization_id": ORG})
    assert result.is_error
    assert result.structured_content["error"]["zoho_code"] == 6041  # Mallory is no user of that organization
    assert sandbox.api_requests[-1].user_id == MALLORY_USER_ID
    assert zb.calls()[-1]["person"] == MALLORY and zb.calls()[-1]["decision"] == "failed"


async def test_granting_books_access_with_another_zoho_account_is_refused(make_config, sandbox):
    async with connector(make_config, sandbox, OWN) as zb:
        async with httpx2.AsyncClient(timeout=10) as http:
            client = await register(zb, http)
            browser = Browser()
            zoho = await browser.go(client.authorize_url())
            consent = await browser.submit(zoho, email=ALICE, password="sandbox", action="sign_in")
            browser.http.cookies.delete(SESSION_COOKIE)  # so Zoho asks who is signing in the second time
            second_zoho = await browser.submit(consent, decision="allow")
            # the agent's own Books scopes, asked of Zoho
            assert "ZohoBooks.invoices.READ" in second_zoho.text
            answer = await browser.submit(second_zoho, email=SAM, password="sandbox", action="sign_in")
            await browser.aclose()
    query = app_redirect(answer)
    assert query["error"] == "access_denied" and "code" not in query
    refusal = [e for e in zb.events("sign-in") if e["decision"] == "denied"][-1]
    assert refusal["rule"] == f"signed in to Zoho as {SAM} to grant Books access for {ALICE}"
    assert not sandbox.api_requests


async def test_a_per_user_agent_cannot_be_used_without_a_signed_in_person(make_config, sandbox):
    loaded = make_config(OWN, oauth={"issuer": "http://127.0.0.1:8000"})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "mine") as client:  # stdio
        result = await client.call_tool("list_invoices", {"organization_id": ORG})
    assert result.is_error and result.structured_content["error"]["rule"] \
        == "per_user needs a signed-in person"
    assert not sandbox.api_requests


async def test_a_persons_token_goes_through_the_broker_encrypted_in_the_state(make_config, sandbox, state):
    key = "k" * 40
    async with connector(make_config, sandbox, OWN, state=state, connection={"token_store": "state"},
                         state_config={"encryption_key": key}) as zb:
        async with signed_in(zb, ALICE) as client:
            assert not (await client.call_tool("list_invoices", {"organization_id": ORG})).is_error
            sandbox.expire_access_tokens()  # the next call needs a fresh access token: one refresh, Alice's
            again = await client.call_tool("list_invoices", {"organization_id": ORG})
        sealed = await state.get("zoho-tokens", f"main.person.{ALICE_USER_ID}")
    assert not again.is_error
    assert isinstance(sealed, bytes) and b"refresh_token" not in sealed  # encrypted at rest
    refreshes = [r for r in sandbox.token_requests if r.grant_type == "refresh_token"]
    assert len(refreshes) == 1 and refreshes[0].outcome == "ok"
    # Zoho refused the expired token once (401), the broker refreshed Alice's, the call went through as hers
    assert [(r.status, r.user_id) for r in sandbox.api_requests] == [
        (200, ALICE_USER_ID), (401, None), (200, ALICE_USER_ID)]
