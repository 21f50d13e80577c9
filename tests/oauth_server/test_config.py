"""The `oauth:` section and what depends on it: every mistake named with its line and its fix."""

from __future__ import annotations

import httpx2
import pytest

from tests.conftest import ORG, agent, running, serving
from tests.oauth_server.conftest import ALICE, person
from zbmcp.errors import ConfigError
from zbmcp.core.credentials import key_hash, new_api_key


@pytest.mark.parametrize("issuer, message", [
    ("http://zbmcp.example.com", "OAuth needs https"),
    ("https://zbmcp.example.com/mcp", "is not an origin"),
    ("zbmcp.example.com", "is not an origin"),
])
def test_the_issuer_must_be_an_https_origin(make_config, issuer, message):
    with pytest.raises(ConfigError, match=message):
        make_config({"a": person(["invoices:read"], [ALICE])}, oauth={"issuer": issuer})


def test_people_and_per_user_need_an_oauth_section(make_config):
    with pytest.raises(ConfigError, match=r"agents.a.users: people sign in only through zbmcp's "
                                          r"OAuth server"):
        make_config({"a": person(["invoices:read"], [ALICE])})
    with pytest.raises(ConfigError, match=r"agents.b.connection: .*add an `oauth:` section"):
        make_config({"b": {"connection": "per_user", "organizations": [ORG], "tools": ["invoices:read"]}})


def test_users_are_emails_or_zoho_user_ids(make_config):
    with pytest.raises(ConfigError, match="'alice' is neither an email address nor a Zoho user id"):
        make_config({"a": person(["invoices:read"], ["alice"])},
                    oauth={"issuer": "https://zbmcp.example.com"})
    loaded = make_config({"a": person(["invoices:read"], ["Alice@Example.com", 700000000000003])},
                         oauth={"issuer": "https://zbmcp.example.com"})
    assert loaded.config.agents["a"].users == ["alice@example.com", "700000000000003"]


def test_a_per_user_agent_takes_no_api_key(make_config):
    own = {"connection": "per_user", "organizations": [ORG], "tools": ["invoices:read"],
           "api_keys": [key_hash(new_api_key()[0])]}
    with pytest.raises(ConfigError, match=r"agents.a.api_keys: a per_user agent calls Zoho as the person"):
        make_config({"a": own}, oauth={"issuer": "https://zbmcp.example.com"})


def test_the_sign_in_connection_must_be_named_when_there_are_several(make_config):
    with pytest.raises(ConfigError, match="oauth.connection: name the connection"):
        make_config({"a": person(["invoices:read"], [ALICE])}, oauth={"issuer": "https://zbmcp.example.com"},
                    extra_connections={"other": {}})
    with pytest.raises(ConfigError, match="oauth.connection: no connection named 'nope'"):
        make_config({"a": person(["invoices:read"], [ALICE])},
                    oauth={"issuer": "https://zbmcp.example.com", "connection": "nope"})


async def test_the_issuers_host_is_accepted_without_listing_it_by_mcp_and_the_console(make_config, sandbox):
    key = new_api_key()[0]
    loaded = make_config({"robot": agent(["invoices:read"], api_keys=[key_hash(key)])},
                         oauth={"issuer": "https://zbmcp.example.com"})
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient(timeout=10) as http:  # as a TLS-terminating proxy would pass it on
            listed = await http.post(f"{server.url}/mcp", json=request,
                                     headers={**headers, "Host": "zbmcp.example.com"})
            foreign = await http.post(f"{server.url}/mcp", json=request,
                                      headers={**headers, "Host": "elsewhere.example"})
            console = await http.get(f"{server.url}/console/sign-in", headers={"Host": "zbmcp.example.com"})
            console_foreign = await http.get(f"{server.url}/console/sign-in",
                                             headers={"Host": "elsewhere.example"})
    assert listed.status_code == 200 and "list_invoices" in listed.text
    assert foreign.status_code == 421
    # the operator's console, on the same origin, answers there too (and only there)
    assert console.status_code == 200 and "Sign in" in console.text
    assert console_foreign.status_code == 421
