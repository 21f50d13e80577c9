"""Zoho Accounts: consent redirect, code exchange, refresh, revoke, expiry and the token
endpoint's quirks (§8)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests.sandbox.conftest import BASE, ORG, FakeClock, auth, error, ok
from zbmcp.sandbox import Sandbox

INVOICES_READ = "ZohoBooks.invoices.READ"


async def _authorize(http: httpx2.AsyncClient, sandbox: Sandbox, **overrides: str) -> httpx2.Response:
    params = {"scope": INVOICES_READ, "client_id": sandbox.credentials.client_id, "response_type": "code",
              "redirect_uri": sandbox.credentials.redirect_uri, "access_type": "offline", "state": "xyz"}
    params.update(overrides)
    return await http.get("/oauth/v2/auth", params={key: value for key, value in params.items() if value})


def _redirect(response: httpx2.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    return {key: values[0] for key, values in parse_qs(location.query).items()}


async def _code(http: httpx2.AsyncClient, sandbox: Sandbox, **overrides: str) -> str:
    return _redirect(await _authorize(http, sandbox, **overrides))["code"]


async def _token(http: httpx2.AsyncClient, sandbox: Sandbox, **params: str) -> dict[str, Any]:
    creds = sandbox.credentials
    data = {"client_id": creds.client_id, "client_secret": creds.client_secret, **params}
    response = await http.post("/oauth/v2/token", data=data)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_consent_redirects_with_code_location_and_accounts_server(http: httpx2.AsyncClient,
                                                                       sandbox: Sandbox) -> None:
    response = await _authorize(http, sandbox)
    assert response.headers["location"].startswith(sandbox.credentials.redirect_uri + "?")
    query = _redirect(response)
    assert set(query) == {"code", "location", "accounts-server", "state"}
    assert query["location"] == "us" and query["accounts-server"] == BASE and query["state"] == "xyz"
    assert query["code"].startswith("1000.")


@pytest.mark.parametrize("overrides, title", [
    ({"client_id": "1000.UNKNOWN"}, "Invalid Client"),
    ({"redirect_uri": "http://evil.example/callback"}, "Invalid Redirect Uri"),
])
async def test_consent_errors_that_cannot_redirect_show_a_page(http: httpx2.AsyncClient, sandbox: Sandbox,
                                                               overrides: dict[str, str], title: str) -> None:
    response = await _authorize(http, sandbox, **overrides)
    assert response.status_code == 400 and title in response.text
    assert "location" not in response.headers


@pytest.mark.parametrize("overrides, reason", [
    ({"scope": "ZohoBooks.invoice.READ"}, "invalid_scope"),
    ({"scope": ""}, "invalid_scope"),
    ({"response_type": "token"}, "unsupported_response_type"),
])
async def test_consent_errors_after_a_good_redirect_uri_go_back_to_it(
        http: httpx2.AsyncClient, sandbox: Sandbox, overrides: dict[str, str], reason: str) -> None:
    query = _redirect(await _authorize(http, sandbox, **overrides))
    assert query["error"] == reason and "code" not in query and query["state"] == "xyz"


async def test_code_exchange_gives_tokens_with_the_consented_scope(http: httpx2.AsyncClient,
                                                                    sandbox: Sandbox) -> None:
    code = await _code(http, sandbox)
    body = await _token(http, sandbox, grant_type="authorization_code", code=code,
                        redirect_uri=sandbox.credentials.redirect_uri)
    assert set(body) == {"access_token", "refresh_token", "scope", "api_domain", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == INVOICES_READ
    assert body["api_domain"] == BASE
    assert body["access_token"].startswith("1000.") and body["refresh_token"].startswith("1000.")
    # A client that follows api_domain lands on the sandbox, with exactly the scope consented to.
    api = body["api_domain"] + "/books/v3"
    ok(await http.get(f"{api}/invoices", params={"organization_id": ORG}, headers=auth(body["access_token"])))
    error(await http.get(f"{api}/contacts", params={"organization_id": ORG},
                         headers=auth(body["access_token"])),
          401, 57)
    assert [(r.grant_type, r.outcome) for r in sandbox.token_requests] == [("authorization_code", "ok")]


async def test_codes_are_single_use_and_short_lived(http: httpx2.AsyncClient, sandbox: Sandbox,
                                                    clock: FakeClock) -> None:
    redirect = sandbox.credentials.redirect_uri
    code = await _code(http, sandbox)
    assert "access_token" in await _token(http, sandbox, grant_type="authorization_code", code=code,
                                          redirect_uri=redirect)
    again = await _token(http, sandbox, grant_type="authorization_code", code=code, redirect_uri=redirect)
    assert again == {"error": "invalid_code"}  # HTTP 200 with an error, as Zoho answers (§8.8)
    late = await _code(http, sandbox)
    clock.advance(sandbox.settings.grant_code_lifetime_seconds + 1)
    assert await _token(http, sandbox, grant_type="authorization_code", code=late, redirect_uri=redirect) == {
        "error": "invalid_code"}


@pytest.mark.parametrize("params, expected", [
    ({"client_secret": "wrong"}, "invalid_client"),
    ({"client_id": "1000.UNKNOWN"}, "invalid_client"),
    ({"redirect_uri": "http://127.0.0.1/other"}, "invalid_redirect_uri"),
    ({"code": "1000.nope.nope"}, "invalid_code"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
])
async def test_token_endpoint_errors_are_200_with_an_error_field(
        http: httpx2.AsyncClient, sandbox: Sandbox, params: dict[str, str], expected: str) -> None:
    code = await _code(http, sandbox)
    request = {"grant_type": "authorization_code", "code": code,
               "redirect_uri": sandbox.credentials.redirect_uri, **params}
    assert await _token(http, sandbox, **request) == {"error": expected}
    assert sandbox.token_requests[-1].outcome == expected


async def test_parameters_may_come_in_the_query_string(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    creds = sandbox.credentials
    response = await http.post("/oauth/v2/token", params={
        "grant_type": "refresh_token", "client_id": creds.client_id, "client_secret": creds.client_secret,
        "refresh_token": creds.refresh_token})
    assert response.status_code == 200 and "access_token" in response.json()


async def test_an_unreadable_body_is_a_json_error_too(http: httpx2.AsyncClient) -> None:
    response = await http.post("/oauth/v2/token", content=b"garbage",
                               headers={"content-type": "multipart/form-data"})
    assert response.status_code == 200 and response.json() == {"error": "unsupported_grant_type"}


async def test_refresh_gives_an_access_token_and_no_new_refresh_token(http: httpx2.AsyncClient,
                                                                      sandbox: Sandbox) -> None:
    body = await _token(http, sandbox, grant_type="refresh_token",
                        refresh_token=sandbox.credentials.refresh_token)
    assert set(body) == {"access_token", "scope", "api_domain", "token_type", "expires_in"}
    assert body["scope"] == "ZohoBooks.fullaccess.all"
    ok(await http.get("/books/v3/organizations", headers=auth(body["access_token"])))


async def test_refresh_token_of_another_client_is_refused(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.register_client("1000.OTHERCLIENT", "other-secret", ["http://127.0.0.1:9999/cb"])
    response = await http.post("/oauth/v2/token", data={
        "grant_type": "refresh_token", "client_id": "1000.OTHERCLIENT", "client_secret": "other-secret",
        "refresh_token": sandbox.credentials.refresh_token})
    assert response.json() == {"error": "invalid_client"}


async def test_offline_consent_gives_a_refresh_token_only_the_first_time(http: httpx2.AsyncClient,
                                                                         sandbox: Sandbox) -> None:
    redirect = sandbox.credentials.redirect_uri

    async def exchange(**overrides: str) -> dict[str, Any]:
        code = await _code(http, sandbox, **overrides)
        return await _token(http, sandbox, grant_type="authorization_code", code=code, redirect_uri=redirect)

    assert "refresh_token" in await exchange()
    assert "refresh_token" not in await exchange()  # §8.1: only on the first consent
    assert "refresh_token" in await exchange(prompt="consent")
    assert "refresh_token" not in await exchange(access_type="online", prompt="consent")


async def test_self_client_codes_need_no_redirect_uri(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    code = sandbox.mint_grant_code(["ZohoBooks.contacts.READ", "ZohoBooks.settings.READ"])
    body = await _token(http, sandbox, grant_type="authorization_code", code=code)
    assert body["scope"] == "ZohoBooks.contacts.READ,ZohoBooks.settings.READ" and "refresh_token" in body
    ok(await http.get("/books/v3/contacts", params={"organization_id": ORG},
                      headers=auth(body["access_token"])))


async def test_revoking_a_refresh_token_kills_its_access_tokens(
        http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    refresh = sandbox.mint_refresh_token(["ZohoBooks.invoices.ALL"])
    access = [(await _token(http, sandbox, grant_type="refresh_token", refresh_token=refresh))["access_token"]
              for _ in range(2)]
    unrelated = sandbox.mint_access_token(["ZohoBooks.invoices.ALL"])
    revoked = await http.post("/oauth/v2/token/revoke", params={"token": refresh})
    assert revoked.status_code == 200
    for token in access:
        error(await http.get("/books/v3/invoices", params={"organization_id": ORG}, headers=auth(token)), 401,
              57)
    ok(await http.get("/books/v3/invoices", params={"organization_id": ORG}, headers=auth(unrelated)))
    assert await _token(http, sandbox, grant_type="refresh_token", refresh_token=refresh) \
        == {"error": "invalid_code"}
    again = await http.post("/oauth/v2/token/revoke", params={"token": refresh})
    assert again.status_code == 400
    assert [(r.grant_type, r.outcome) for r in sandbox.token_requests[-3:]] == [
        ("revoke", "ok"), ("refresh_token", "invalid_code"), ("revoke", "invalid_token")]


async def test_a_short_token_lifetime_expires_tokens(http: httpx2.AsyncClient, sandbox: Sandbox,
                                                     clock: FakeClock) -> None:
    sandbox.settings.token_lifetime_seconds = 1.5
    body = await _token(http, sandbox, grant_type="refresh_token",
                        refresh_token=sandbox.credentials.refresh_token)
    assert body["expires_in"] == 2
    ok(await http.get("/books/v3/organizations", headers=auth(body["access_token"])))
    clock.advance(1.6)
    error(await http.get("/books/v3/organizations", headers=auth(body["access_token"])), 401, 57)
    fresh = await _token(http, sandbox, grant_type="refresh_token",
                         refresh_token=sandbox.credentials.refresh_token)
    ok(await http.get("/books/v3/organizations", headers=auth(fresh["access_token"])))


async def test_too_many_refreshes_is_access_denied(http: httpx2.AsyncClient, sandbox: Sandbox,
                                                   clock: FakeClock) -> None:
    sandbox.settings.max_refreshes_per_window = 2
    creds = sandbox.credentials
    data = {"grant_type": "refresh_token", "client_id": creds.client_id, "client_secret": creds.client_secret,
            "refresh_token": creds.refresh_token}
    for _ in range(2):
        assert "access_token" in (await http.post("/oauth/v2/token", data=data)).json()
    denied = await http.post("/oauth/v2/token", data=data)
    assert denied.status_code == 400
    assert denied.json() == {"error": "Access Denied", "error_description": "You have made too many requests "
                             "continuously. Please try again after some time.", "status": "failure"}
    clock.advance(sandbox.settings.refresh_window_seconds)
    assert "access_token" in (await http.post("/oauth/v2/token", data=data)).json()


async def test_live_access_tokens_per_refresh_token_can_be_capped(http: httpx2.AsyncClient,
                                                                  sandbox: Sandbox) -> None:
    sandbox.settings.max_access_tokens_per_refresh_token = 2
    tokens = [(await _token(http, sandbox, grant_type="refresh_token",
                            refresh_token=sandbox.credentials.refresh_token))["access_token"]
              for _ in range(3)]
    error(await http.get("/books/v3/organizations", headers=auth(tokens[0])), 401, 57)
    for token in tokens[1:]:
        ok(await http.get("/books/v3/organizations", headers=auth(token)))


async def test_api_domain_and_accounts_server_can_be_set(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.settings.api_domain = "https://www.zohoapis.eu"
    sandbox.settings.accounts_server = "https://accounts.zoho.eu"
    sandbox.settings.location = "eu"
    query = _redirect(await _authorize(http, sandbox))
    assert (query["location"], query["accounts-server"]) == ("eu", "https://accounts.zoho.eu")
    body = await _token(http, sandbox, grant_type="refresh_token",
                        refresh_token=sandbox.credentials.refresh_token)
    assert body["api_domain"] == "https://www.zohoapis.eu"
    info = (await http.get("/oauth/serverinfo")).json()
    assert info["locations"] == {"eu": "https://accounts.zoho.eu"}


async def test_token_records_hold_no_secrets(http: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await _token(http, sandbox, grant_type="refresh_token", refresh_token=sandbox.credentials.refresh_token)
    text = repr(sandbox.token_requests)
    assert sandbox.credentials.client_secret not in text and sandbox.credentials.refresh_token not in text


def test_settings_are_validated_on_assignment(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        sandbox.settings.token_lifetime_seconds = -1
    with pytest.raises(ValueError):
        sandbox.settings.daily_budget = "lots"  # type: ignore[assignment]
