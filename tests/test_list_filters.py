"""The filters a bookkeeper uses, offered by the list tools and applied (issue #22.6): bills by due date."""

from __future__ import annotations

from tests.conftest import ORG, agent, mcp_client, running


async def test_an_agent_lists_the_bills_due_in_a_window(make_config, sandbox):
    store = sandbox.store(ORG)
    vendor = store.contact_id("Office Supplies Co")
    loaded = make_config({"payables": agent(["bills:*"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "payables") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["list_bills"].input_schema["properties"]["due_date_end"] == {"type": "string",
                                                                                  "format": "date"}
        for number, due in (("B-1", "2031-03-01"), ("B-2", "2031-03-15"), ("B-3", "2031-04-02")):
            made = await client.call_tool("create_bill", {
                "vendor_id": vendor, "bill_number": number, "date": "2031-02-20", "due_date": due,
                "line_items": [{"account_id": store.account_id("Office Supplies"), "rate": 10}]})
            assert not made.is_error, made.content[0].text
        due = await client.call_tool("list_bills", {"due_date_start": "2031-03-01",
                                                    "due_date_end": "2031-03-31"})
    assert not due.is_error, due.content[0].text
    listed = due.structured_content
    assert sorted(row["bill_number"] for row in listed["bills"]) == ["B-1", "B-2"]
    assert "did not apply" not in listed["summary"]
