"""Issue #22.7: the tools and the sandbox behave as Zoho Books does, seen through an agent's MCP client.

Each test is a mismatch found against Zoho's OpenAPI files (../shared/zoho-oas/) and public clients tested on
live organizations; docs/sandbox.md says where Zoho's behaviour is unverified and what the sandbox chose.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ORG, agent, mcp_client, running


@pytest.fixture
def bookkeeper(make_config):
    return make_config({"bookkeeper": agent(["*:*"])})


async def test_an_item_is_created_with_the_income_account_its_sales_post_to(bookkeeper, sandbox):
    view = sandbox.store(ORG)
    general = view.account_id("General Income")
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:

        async def call(tool: str, **arguments: Any) -> Any:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, result.content[0].text
            return result.structured_content

        item = (await call("create_item", name="Workshop", rate=500, account_id=general))["item"]
        invoice = (await call("create_invoice", customer_id=view.contact_id("Acme Corporation"),
                              line_items=[{"item_id": item["item_id"], "quantity": 1}]))["invoice"]
    assert item["account_id"] == general and item["account_name"] == "General Income"
    assert [line["account_id"] for line in invoice["line_items"]] == [general]
