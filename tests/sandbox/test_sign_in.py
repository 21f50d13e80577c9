"""Zoho Accounts as a person meets it: the sign-in page, a remembered browser, and the user-info endpoint that
tells an application who signed in (what zbmcp's remote connector needs to map a person to an agent)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests.sandbox.conftest import BASE, FOREIGN_ORG, ORG, asgi_client, auth, error, ok
from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.users import ALICE_USER_ID, SESSION_COOKIE

PROFILE = "AaaServer.profile.READ"
REDIRECT = "http://127.0.0.1:9000/zoho/callback"


@pytest.fixture
def signing_in(sandbox: Sandbox) -> Sandbox:
    sandbox.settings.sign_in = "form"
    sandbox.register_client("1000.ZBMCPAPP", "app-secret", [REDIRECT])
    return sandbox


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {"client_id": "1000.ZBMCPAPP", "redirect_uri": REDIRECT, "response_type": "code",
              "scope": f"{PROFILE},ZohoBooks.invoices.READ", "state": "s-1"}
    params.update(overrides)
    return params


def redirect_query(response: httpx2.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def sign_in(http: httpx2.AsyncClient, email: str, password: str = "sandbox",
                  **fields: str) -> httpx2.Response:
    return await http.post("/oauth/v2/auth", data={**authorize_params(), "email": email, "password": password,
                                                   "action": "sign_in", **fields})


async def exchange(http: httpx2.AsyncClient, code: str) -> dict[str, Any]:
    response = await http.post("/oauth/v2/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "1000.ZBMCPAPP",
        "client_secret": "app-secret", "redirect_uri": REDIRECT})
    body: dict[str, Any] = response.json()
    assert "access_token" in body, body
    return body


async def test_the_sign_in_page_asks_for_email_and_password_and_keeps_the_request(
        signing_in: Sandbox, http: httpx2.AsyncClient) -> None:
    page = await http.get("/oauth/v2/auth", params=authorize_params())
    assert page.status_code == 200
    assert 'name="email"' in page.text and 'name="password"' in page.text
    assert f'name="redirect_uri" value="{REDIRECT}"' in page.text and 'value="s-1"' in page.text
    assert "AaaServer.profile.READ" in page.text


async def test_a_user_who_signs_in_gets_a_code_for_themselves_and_user_info_names_them(
        signing_in: Sandbox, http: httpx2.AsyncClient) -> None:
    answer = await sign_in(http, "Alice@Sandbox-Trading.example")
    query = redirect_query(answer)
    assert query["state"] == "s-1" and query["accounts-server"] == BASE
    token = (await exchange(http, query["code"]))["access_token"]
    info = await http.get("/oauth/user/info", headers=auth(token))
    assert info.status_code == 200
    assert info.json() == {"First_Name": "Alice", "Email": "alice@sandbox-trading.example",
                           "Last_Name": "Accountant", "Display_Name": "AliceAccountant",
                           "ZUID": int(ALICE_USER_ID)}
    # Alice's own token reaches her organization, and the sandbox records that it was her call
    books = await http.get("/books/v3/invoices", params={"organization_id": ORG}, headers=auth(token))
    ok(books)
    assert signing_in.api_requests[-1].user_id == ALICE_USER_ID
    denied = await http.get("/books/v3/invoices", params={"organization_id": FOREIGN_ORG},
                            headers=auth(token))
    error(denied, 400, 6041)


async def test_a_wrong_password_shows_the_page_again_and_grants_nothing(
        signing_in: Sandbox, http: httpx2.AsyncClient) -> None:
    answer = await sign_in(http, "alice@sandbox-trading.example", password="guess")
    assert answer.status_code == 200 and "Incorrect email or password" in answer.text
    assert SESSION_COOKIE not in answer.cookies
    unknown = await sign_in(http, "nobody@example.com")
    assert unknown.status_code == 200 and "Incorrect email or password" in unknown.text


async def test_reject_sends_access_denied_back(signing_in: Sandbox, http: httpx2.AsyncClient) -> None:
    answer = await http.post("/oauth/v2/auth", data={**authorize_params(), "action": "reject"})
    query = redirect_query(answer)
    assert query["error"] == "access_denied" and "code" not in query and query["state"] == "s-1"


async def test_a_forged_redirect_uri_in_the_form_is_refused_like_in_the_url(
        signing_in: Sandbox, http: httpx2.AsyncClient) -> None:
    answer = await sign_in(http, "alice@sandbox-trading.example", redirect_uri="https://evil.example/steal")
    assert answer.status_code == 400 and "Invalid Redirect Uri" in answer.text
    assert "location" not in answer.headers


async def test_a_signed_in_browser_is_not_asked_again(signing_in: Sandbox) -> None:
    async with asgi_client(signing_in) as browser:
        redirect_query(await sign_in(browser, "alice@sandbox-trading.example"))
        again = redirect_query(await browser.get("/oauth/v2/auth", params=authorize_params(state="s-2")))
        token = (await exchange(browser, again["code"]))["access_token"]
        assert (await browser.get("/oauth/user/info", headers=auth(token))).json()["ZUID"] \
            == int(ALICE_USER_ID)
    async with asgi_client(signing_in) as stranger:  # another browser has no session: the page again
        assert (await stranger.get("/oauth/v2/auth", params=authorize_params())).status_code == 200


async def test_user_info_needs_a_live_token_with_the_profile_scope(sandbox: Sandbox,
                                                                   http: httpx2.AsyncClient) -> None:
    assert (await http.get("/oauth/user/info")).status_code == 401
    assert (await http.get("/oauth/user/info", headers=auth("1000.not.a-token"))).status_code == 401
    books_only = sandbox.mint_access_token(["ZohoBooks.invoices.READ"])
    assert (await http.get("/oauth/user/info", headers=auth(books_only))).status_code == 401
    profile = sandbox.mint_access_token([PROFILE])
    bearer = await http.get("/oauth/user/info", headers={"Authorization": f"Bearer {profile}"})
    assert bearer.status_code == 200 and bearer.json()["Email"] == "sam@sandbox-trading.example"
    sandbox.expire_access_tokens()
    assert (await http.get("/oauth/user/info", headers=auth(profile))).status_code == 401


async def test_automatic_consent_stays_the_default(sandbox: Sandbox, http: httpx2.AsyncClient) -> None:
    sandbox.register_client("1000.ZBMCPAPP", "app-secret", [REDIRECT])
    query = redirect_query(await http.get("/oauth/v2/auth", params=authorize_params()))
    token = (await exchange(http, query["code"]))["access_token"]
    assert (await http.get("/oauth/user/info", headers=auth(token))).json()["ZUID"] \
        == int(sandbox.default_user_id)
