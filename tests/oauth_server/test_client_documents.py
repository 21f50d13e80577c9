"""Client ID Metadata Documents: a client identified by the https URL of its metadata, fetched by zbmcp, which
must not become a way to make zbmcp fetch whatever a stranger points it at."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.responses import RedirectResponse, Response

from tests.oauth_server.conftest import ALICE, APP_REDIRECT, Browser, SdkClient, connector, person
from tests.oauth_server.tls import metadata_host

AGENTS = {"bookkeeper": person(["invoices:read"], [ALICE])}


def trusting(host, **policy):
    return {"client_metadata_documents": {"allow_private_networks": True, "ca_file": str(host.ca_file),
                                          **policy}}


async def authorize(zb, client_id: str, redirect_uri: str = APP_REDIRECT) -> httpx2.Response:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
              "code_challenge_method": "S256", "state": "s", "resource": zb.url}
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.get(f"{zb.url}/authorize", params=params)


def refusal(zb) -> str:
    return [e for e in zb.events("authorize") if e["decision"] == "denied"][-1]["rule"]


async def test_a_client_known_only_by_its_metadata_url_signs_a_person_in(make_config, sandbox, tmp_path):
    async with metadata_host(tmp_path) as host:
        client_id = host.publish("/oauth/desk.json")
        async with connector(make_config, sandbox, AGENTS, oauth=trusting(host)) as zb:
            browser = Browser()
            provider = SdkClient(zb.url, ALICE, browser).provider(client_metadata_url=client_id)
            async with httpx2.AsyncClient(auth=provider, timeout=10) as http:
                async with Client(streamable_http_client(f"{zb.url}/mcp", http_client=http)) as client:
                    tools = {tool.name for tool in (await client.list_tools()).tools}
            await browser.aclose()
    assert tools == {"list_invoices", "get_invoice"}
    assert not zb.events("register")  # no dynamic registration happened
    assert zb.events("consent")[-1]["client"] == client_id
    assert host.fetches == ["/oauth/desk.json"]  # fetched once, then cached


async def test_the_consent_page_says_where_the_client_is_published(make_config, sandbox, tmp_path):
    async with metadata_host(tmp_path) as host:
        client_id = host.publish("/desk.json")
        async with connector(make_config, sandbox, AGENTS, oauth=trusting(host)) as zb:
            browser = Browser()
            zoho = await browser.go((await authorize(zb, client_id)).headers["location"])
            consent = await browser.submit(zoho, email=ALICE, password="sandbox", action="sign_in")
            await browser.aclose()
    assert "Metadata Desk" in consent.text and "published at localhost" in consent.text
    assert "127.0.0.1:9" in consent.text  # where the code will go, and a warning that it is this computer
    assert "on this computer" in consent.text


async def test_documents_on_private_addresses_are_not_fetched_unless_allowed(make_config, sandbox, tmp_path):
    async with metadata_host(tmp_path) as host:
        client_id = host.publish("/client.json")
        async with connector(make_config, sandbox, AGENTS) as zb:  # the default policy
            answer = await authorize(zb, client_id)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "location" not in answer.headers
    assert "non-public address (127.0.0.1)" in refusal(zb)
    assert host.fetches == []


@pytest.mark.parametrize("client_id, reason", [
    ("https://localhost:1/x.json#frag", "must not have a fragment"),
    ("https://localhost:1/a/../x.json", "must not contain . or .. path segments"),
    ("https://localhost:1", "must have a path"),
    ("https://user@localhost:1/x.json", "must not carry user information"),
    ("https://localhost:1/" + "x" * 1000, "at most 1000 characters"),
])
async def test_client_id_urls_of_the_wrong_shape_are_refused_before_any_fetch(make_config, sandbox, tmp_path,
                                                                            client_id, reason):
    async with metadata_host(tmp_path) as host:
        async with connector(make_config, sandbox, AGENTS, oauth=trusting(host)) as zb:
            answer = await authorize(zb, client_id)
    assert answer.status_code == 400 and reason in refusal(zb)
    assert host.fetches == []


async def test_only_trusted_hosts_when_the_operator_says_so(make_config, sandbox, tmp_path):
    async with metadata_host(tmp_path) as host:
        client_id = host.publish("/client.json")
        async with connector(make_config, sandbox, AGENTS,
                             oauth=trusting(host, allowed_hosts=["claude.ai"])) as zb:
            answer = await authorize(zb, client_id)
    assert answer.status_code == 400 and "not trusted here" in refusal(zb)
    assert host.fetches == []


BAD_DOCUMENTS = [
    ({"client_id": "https://elsewhere.example/client.json"}, "not the URL it was fetched from"),
    ({"client_secret": "s3cret"}, "must not carry a client secret"),
    ({"token_endpoint_auth_method": "client_secret_post"}, "needs a shared secret"),
    ({"redirect_uris": ["http://evil.example/cb"]}, "must use https, or http to this machine"),
    ({"redirect_uris": []}, "needs redirect_uris"),
    ({"client_name": ""}, "needs a client_name"),
    ({"padding": "x" * 6000}, "larger than 5120 bytes"),
]


@pytest.mark.parametrize("change, reason", BAD_DOCUMENTS)
async def test_documents_that_break_the_rules_are_refused(make_config, sandbox, tmp_path, change, reason):
    async with metadata_host(tmp_path) as host:
        client_id = host.publish("/client.json", **change)
        async with connector(make_config, sandbox, AGENTS, oauth=trusting(host)) as zb:
            answer = await authorize(zb, client_id)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert reason in refusal(zb)


@pytest.mark.parametrize("served, reason", [
    (RedirectResponse("https://localhost:1/elsewhere.json", status_code=302), "answered HTTP 302"),
    (Response("not json", media_type="application/json"), "is not JSON"),
    (Response(status_code=500), "answered HTTP 500"),
])
async def test_redirects_and_broken_answers_are_refused(make_config, sandbox, tmp_path, served, reason):
    async with metadata_host(tmp_path) as host:
        host.documents["/client.json"] = served
        async with connector(make_config, sandbox, AGENTS, oauth=trusting(host)) as zb:
            answer = await authorize(zb, host.client_id())
    assert answer.status_code == 400 and reason in refusal(zb)


async def test_a_redirect_uri_the_document_does_not_list_is_refused(make_config, sandbox, tmp_path):
    async with metadata_host(tmp_path) as host:
        client_id = host.publish("/client.json")
        async with connector(make_config, sandbox, AGENTS, oauth=trusting(host)) as zb:
            answer = await authorize(zb, client_id, redirect_uri="http://127.0.0.1:9/not-listed")
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "not registered" in refusal(zb)


async def test_an_untrusted_certificate_is_refused(make_config, sandbox, tmp_path):
    async with metadata_host(tmp_path) as host:
        client_id = host.publish("/client.json")
        async with connector(make_config, sandbox, AGENTS,
                             oauth={"client_metadata_documents": {"allow_private_networks": True}}) as zb:
            answer = await authorize(zb, client_id)
    assert answer.status_code == 400 and "could not fetch" in refusal(zb)


async def test_a_host_that_does_not_answer_is_given_up_on(make_config, sandbox, tmp_path, monkeypatch):
    monkeypatch.setattr("zbmcp.oauth_server.cimd.TIMEOUT_SECONDS", 0.5)  # the real limit is 5 s
    async with metadata_host(tmp_path) as host:
        release = anyio.Event()
        host.documents["/slow.json"] = release
        async with connector(make_config, sandbox, AGENTS, oauth=trusting(host)) as zb:
            answer = await authorize(zb, host.client_id("/slow.json"))
        release.set()
    assert answer.status_code == 400 and "did not arrive within 0.5 s" in refusal(zb)
