"""Ids sent as JSON numbers, as the MCP Inspector's `--tool-arg organization_id=10234695` and some models send
them: through an MCP client, an exact number works as its digits, an inexact one is refused before anything
is sent, and the organization boundary holds whatever the type."""

from __future__ import annotations

import pytest

from tests.conftest import FOREIGN_ORG, ORG, OTHER_ORG, agent, mcp_client, running


@pytest.fixture
def two_orgs(make_config):
    return make_config({"clerk": agent(["*:*"], [ORG, OTHER_ORG])})


async def test_ids_sent_as_numbers_are_taken_as_their_digits(two_orgs, sandbox):
    async with running(two_orgs, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        customers = await client.call_tool("list_contacts",
                                           {"organization_id": int(ORG), "contact_type": "customer"})
        customer = customers.structured_content["contacts"][0]
        items = (await client.call_tool("list_items",
                                        {"organization_id": int(ORG)})).structured_content["items"]
        created = await client.call_tool("create_invoice", {
            "organization_id": int(ORG), "customer_id": int(customer["contact_id"]),
            "line_items": [{"item_id": int(items[0]["item_id"]), "quantity": 1}]})
    assert tools["list_invoices"].input_schema["properties"]["organization_id"] == {"type": "string",
                                                                                    "enum": [ORG, OTHER_ORG]}
    assert not customers.is_error and not created.is_error, created.content[0].text
    invoice = created.structured_content["invoice"]
    assert invoice["customer_id"] == customer["contact_id"]
    assert sandbox.api_requests[-1].query["organization_id"] == ORG
    assert [r["organization"] for r in runtime.audit.records] == [ORG, ORG, ORG]


async def test_an_id_too_large_to_be_exact_is_refused_and_nothing_is_sent(two_orgs, sandbox):
    async with running(two_orgs, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        before = len(sandbox.api_requests)
        refused = await client.call_tool("get_invoice",
                                         {"organization_id": ORG, "invoice_id": 460000000026049123})
    text = refused.content[0].text
    assert refused.is_error and "invoice_id" in text and "send ids as strings" in text
    assert refused.structured_content["error"]["fields"] == ["invoice_id"]
    assert len(sandbox.api_requests) == before
    assert [r["decision"] for r in runtime.audit.records] == ["denied"]


@pytest.mark.parametrize("organization", [int(FOREIGN_ORG), float(ORG)])
async def test_a_number_never_widens_the_organization_boundary(two_orgs, sandbox, organization):
    async with running(two_orgs, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        before = len(sandbox.api_requests)
        refused = await client.call_tool("list_invoices", {"organization_id": organization})
    assert refused.is_error and len(sandbox.api_requests) == before
    text = refused.content[0].text
    assert "got 10234695" not in text  # the old, contradictory "must be one of: 10234695, ...; got 10234695"
    if isinstance(organization, float):
        assert "send ids as strings" in text
    else:
        assert FOREIGN_ORG in text and refused.structured_content["error"]["rule"] != "invalid arguments"
