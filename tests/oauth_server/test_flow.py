"""A client that knows only the URL: 401, discovery, Zoho sign-in, consent, tokens, tools; then refresh."""

from __future__ import annotations

from tests.conftest import ORG
from tests.oauth_server.conftest import ALICE, connector, person, signed_in


async def test_a_person_signs_in_with_zoho_and_the_client_lists_and_calls_the_agents_tools(make_config, sandbox):
    agents = {"bookkeeper": person(["invoices:read", "contacts:read"], [ALICE])}
    async with connector(make_config, sandbox, agents) as zb:
        async with signed_in(zb, ALICE) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("list_invoices", {"organization_id": ORG})
    assert tools == {"list_invoices", "get_invoice", "list_contacts", "get_contact"}
    assert not result.is_error, result.content
    assert zb.calls()[-1]["person"] == ALICE and zb.calls()[-1]["agent"] == "bookkeeper"
