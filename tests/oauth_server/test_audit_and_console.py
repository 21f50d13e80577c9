"""Sign-in refusals where an operator looks for them (`zbmcp audit`, the console's audit page, `zbmcp audit
verify`), naming who and why and never a secret; and the console and the connector side by side on one server:
neither's credentials open the other."""

from __future__ import annotations

import json
import re
import sys
from html import unescape

import anyio
import httpx2

from tests.conftest import agent, environ
from tests.console.conftest import OLIVIA, sign_in
from tests.oauth_server.conftest import (
    ALICE,
    MALLORY,
    Browser,
    FakeClock,
    connector,
    grant,
    mcp_call,
    person,
    register,
    rpc_result,
    sign_in_and_consent,
    tokens,
)
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.oauth_server.signin import BROWSER_COOKIE

AGENTS = {"bookkeeper": person(["invoices:read"], [ALICE])}


async def test_refusals_show_in_zbmcp_audit_and_the_console_with_who_and_why(make_config, sandbox, home):
    clock = FakeClock()
    async with connector(make_config, sandbox, AGENTS, clock=clock, audit_file="audit.jsonl",
                         operators={"olivia": OLIVIA}) as zb, httpx2.AsyncClient(timeout=10) as http:
        client = await register(zb, http)
        secrets_seen = [client.client_secret or "", client.verifier]

        code = (await grant(client))["code"]
        wrong_verifier = await client.exchange(http, code, code_verifier="x" * 64)  # PKCE mismatch
        issued = (await client.exchange(http, code)).json()
        reused = await client.exchange(http, code)  # a second use revokes what the first gave
        revoked = await mcp_call(zb, http, issued["access_token"])
        secrets_seen += [code, issued["access_token"], issued["refresh_token"]]

        other = await client.exchange(http, (await grant(client))["code"],
                                      resource="https://other.example/mcp")
        fresh = await tokens(client, http)
        clock.now += fresh["expires_in"] + 1
        expired = await mcp_call(zb, http, fresh["access_token"])
        secrets_seen += [fresh["access_token"], fresh["refresh_token"]]

        browser = Browser()
        outsider = await sign_in_and_consent(browser, client.authorize_url(), MALLORY)
        secrets_seen += [c.value for c in browser.http.cookies.jar]
        await browser.aclose()

        async with httpx2.AsyncClient(timeout=10) as console:
            assert (await sign_in(console, zb.url)).status_code == 303
            page = await console.get(f"{zb.url}/console/audit", params={"decision": "denied"})
            refused_tokens = await console.get(f"{zb.url}/console/audit",
                                               params={"event": "oauth.token", "decision": "denied"})
            secrets_seen += [c.value for c in console.cookies.jar]

        config = zb.runtime.config.source.file
        env = environ(sandbox, home)
        shown = await anyio.run_process([sys.executable, "-m", "zbmcp", "audit", "--config", config],
                                        check=False, env=env)
        verified = await anyio.run_process([sys.executable, "-m", "zbmcp", "audit", "verify", "--config",
                                            config],
                                           check=False, env=env)

    assert (wrong_verifier.json()["error"], reused.json()["error"], other.json()["error"]) == (
        "invalid_grant", "invalid_grant", "invalid_target")
    assert revoked.status_code == expired.status_code == 401 and outsider.status_code == 403
    by = f'as agent "bookkeeper" with client {client.client_id}'
    expected = [
        f"{ALICE}: token {by}: denied (invalid_grant: incorrect code_verifier)",
        f"{ALICE}: token {by}: denied (invalid_grant: authorization code does not exist; authorization "
        "code used a second time: the tokens it gave were revoked)",
        f'{ALICE}: bearer as agent "bookkeeper" with client {client.client_id}: denied '
        "(invalid_token: access token revoked)",
        f"someone: token with client {client.client_id}: denied (invalid_target: resource "
        "'https://other.example/mcp' is not this server)",
        f'{ALICE}: bearer as agent "bookkeeper" with client {client.client_id}: denied '
        "(invalid_token: access token expired)",
        f"{MALLORY}: sign-in with client {client.client_id}: denied (access_denied: this Zoho user "
        "is not mapped to any agent)",
    ]
    table = shown.stdout.decode()
    assert shown.returncode == 0, shown.stderr.decode()
    for sentence in expected:
        assert sentence in table, f"{sentence!r} not in:\n{table}"
    assert "oauth.token" in table and "oauth.bearer" in table and "oauth.sign-in" in table
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()

    html = unescape(page.text)
    assert page.status_code == 200
    for sentence in expected:
        assert sentence in html, f"{sentence!r} not on the console's audit page"
    assert "<code>oauth.token</code>" in page.text and "incorrect code_verifier" in html
    token_rows = re.findall(r'<td class="sentence">(.*?)</td>', refused_tokens.text, re.S)
    # every refused token request, newest first, and nothing else
    assert [unescape(row) for row in token_rows] == [expected[3], expected[1], expected[0]]

    written = zb.runtime.config.audit_path.read_text()  # type: ignore[union-attr]
    leaked = [secret for secret in secrets_seen if secret and secret in written]
    assert not leaked, "a token, code, secret or cookie is in the audit log"
    assert not sandbox.api_requests  # none of it reached Zoho Books


async def test_a_console_session_is_no_bearer_token_and_an_access_token_opens_no_console(
        make_config, sandbox):
    key = new_api_key()[0]
    agents = {**AGENTS, "robot": agent(["contacts:read"], api_keys=[key_hash(key)])}
    async with connector(make_config, sandbox, agents, operators={"olivia": OLIVIA}) as zb, \
            httpx2.AsyncClient(timeout=10) as http, httpx2.AsyncClient(timeout=10) as console:
        assert (await sign_in(console, zb.url)).status_code == 303
        session = console.cookies.get("zbmcp_console")
        assert session
        as_bearer = await mcp_call(zb, http, session)
        as_cookie = await http.post(f"{zb.url}/mcp", headers={"Cookie": f"zbmcp_console={session}",
                                                              "Content-Type": "application/json"}, json={})
        client = await register(zb, http)
        access = (await tokens(client, http))["access_token"]
        browser_cookie = Browser()
        await sign_in_and_consent(browser_cookie, client.authorize_url(), ALICE)
        nonce = browser_cookie.http.cookies.get(BROWSER_COOKIE)
        assert nonce
        await browser_cookie.aclose()
        token_on_console = await http.get(f"{zb.url}/console/audit",
                                          headers={"Authorization": f"Bearer {access}"})
        token_as_session = await http.get(f"{zb.url}/console/audit",
                                          headers={"Cookie": f"zbmcp_console={access}"})
        nonce_as_session = await http.get(f"{zb.url}/console/audit",
                                          headers={"Cookie": f"zbmcp_console={nonce}"})
        key_on_console = await http.get(f"{zb.url}/console/audit", headers={"Authorization": f"Bearer {key}"})
        with_key = await mcp_call(zb, http, key)
        with_token = await mcp_call(zb, http, access)
        still_operator = await console.get(f"{zb.url}/console/audit")

    assert as_bearer.status_code == 401 and 'error="invalid_token"' in as_bearer.headers["www-authenticate"]
    assert as_cookie.status_code == 401
    assert token_on_console.status_code == 403
    assert token_as_session.status_code == nonce_as_session.status_code == 303
    assert token_as_session.headers["location"].startswith("/console/sign-in")
    assert key_on_console.status_code == 403
    assert {t["name"] for t in rpc_result(with_key)["result"]["tools"]} == {"list_contacts", "get_contact"}
    assert {t["name"] for t in rpc_result(with_token)["result"]["tools"]} == {"list_invoices", "get_invoice"}
    assert still_operator.status_code == 200  # the operator's own session was never disturbed
    refused = [e for e in zb.records if e.get("event") == "console.refused"]
    assert len(refused) == 2 and all("never open the console" in e["sentence"] for e in refused)
    assert [e["rule"] for e in zb.events("bearer")] == ["unknown access token"]


async def test_what_a_client_sends_is_cut_short_in_the_audit_log(make_config, sandbox):
    async with connector(make_config, sandbox, AGENTS) as zb, httpx2.AsyncClient(timeout=10) as http:
        client = await register(zb, http)
        foreign = await client.token(http, grant_type="authorization_code", code="x",
                                     resource="https://other.example/" + "a" * 50_000)
        unknown = await http.post(f"{zb.url}/token", data={"grant_type": "authorization_code", "code": "x",
                                                            "client_id": "c" * 50_000})
    assert foreign.json()["error"] == "invalid_target" and unknown.status_code in (400, 401)
    refused = [e for e in zb.events("token") if e["decision"] == "denied"]
    assert len(refused) == 2 and all(len(json.dumps(e)) < 3000 for e in refused)
    assert "other.example/aaa" in refused[0]["rule"] and refused[1]["client"].startswith("ccc")


async def test_refused_tokens_are_recorded_within_a_budget_so_a_flood_cannot_fill_the_log(make_config,
                                                                                           sandbox):
    """Anyone can present a token: ten records a minute from one address, the rest counted in one record."""
    async with connector(make_config, sandbox, AGENTS) as zb, httpx2.AsyncClient(timeout=10) as http:
        answers = [await mcp_call(zb, http, f"guess-{i}") for i in range(15)]
    assert {answer.status_code for answer in answers} == {401}
    bearer = zb.events("bearer")
    assert [e["rule"] for e in bearer[:10]] == ["unknown access token"] * 10 and len(bearer) == 11
    assert bearer[-1]["rule"].startswith("5 more refused keys or tokens, from 1 address, were not recorded "
                                         "one by one (at most 10 records a minute from one address, 100 in "
                                         "all)")
    assert "guess-" not in json.dumps(zb.records)
