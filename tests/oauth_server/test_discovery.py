"""What a client that knows only the URL finds: the 401 challenge, then the two metadata documents."""

from __future__ import annotations

import httpx2

from tests.conftest import agent
from tests.oauth_server.conftest import ALICE, connector, mcp_call, person, rpc_result
from zbmcp.core.credentials import key_hash, new_api_key


async def test_the_401_points_to_the_resource_metadata_and_names_the_scope(make_config, sandbox):
    async with connector(make_config, sandbox, {"bookkeeper": person(["invoices:read"], [ALICE])}) as zb:
        async with httpx2.AsyncClient() as http:
            answer = await mcp_call(zb, http, None)
            resource = await http.get(f"{zb.url}/.well-known/oauth-protected-resource")
            server = await http.get(f"{zb.url}/.well-known/oauth-authorization-server")
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{zb.url}/.well-known/oauth-protected-resource"' in challenge
    assert 'scope="books:read"' in challenge
    assert "error=" not in challenge  # RFC 6750 §3: no error code when no credentials were sent
    assert resource.json() == {"resource": zb.url, "authorization_servers": [zb.url],
                               "scopes_supported": ["books:read"], "bearer_methods_supported": ["header"],
                               "resource_name": "zbmcp: Zoho Books"}
    metadata = server.json()
    assert metadata["issuer"] == zb.url  # RFC 8414: identical to the URL it was fetched under, no slash added
    assert metadata["authorization_endpoint"] == f"{zb.url}/authorize"
    assert metadata["token_endpoint"] == f"{zb.url}/token"
    assert metadata["registration_endpoint"] == f"{zb.url}/register"
    assert metadata["revocation_endpoint"] == f"{zb.url}/revoke"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["client_id_metadata_document_supported"] is True
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["scopes_supported"] == ["books:read", "books:write"]
    assert "none" in metadata["token_endpoint_auth_methods_supported"]


async def test_dynamic_registration_can_be_turned_off(make_config, sandbox):
    agents = {"bookkeeper": person(["invoices:read"], [ALICE])}
    async with connector(make_config, sandbox, agents, oauth={"dynamic_registration": False}) as zb:
        async with httpx2.AsyncClient() as http:
            metadata = (await http.get(f"{zb.url}/.well-known/oauth-authorization-server")).json()
            register = await http.post(f"{zb.url}/register",
                                       json={"redirect_uris": ["http://127.0.0.1:9/cb"]})
    assert "registration_endpoint" not in metadata
    assert register.status_code in (404, 405)


async def test_api_keys_keep_working_next_to_oauth(make_config, sandbox):
    key = new_api_key()[0]
    agents = {"bookkeeper": person(["invoices:read"], [ALICE]),
              "robot": agent(["contacts:read"], api_keys=[key_hash(key)])}
    async with connector(make_config, sandbox, agents) as zb:
        async with httpx2.AsyncClient() as http:
            listed = await mcp_call(zb, http, key)
            wrong = await mcp_call(zb, http, "zbmcp_not-a-key")
    assert {tool["name"] for tool in rpc_result(listed)["result"]["tools"]} \
        == {"list_contacts", "get_contact"}
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert [e["rule"] for e in zb.events("bearer")] == ["unknown access token"]
