"""A call that moves money without saying how much (a bank line matched to records it only names) has an
unknown amount for the argument rules, never 0: `deny: amount > 250` must not let a 1,200 match through."""

from __future__ import annotations

from typing import Any

from tests.conftest import ORG, agent, mcp_client, running
from zbmcp.calls.catalog import load_catalog

CATALOG = load_catalog()


async def test_a_bank_match_is_not_taken_for_a_zero_amount(make_config, sandbox):
    config = make_config({"closer": agent(["*:*"], catalog="whole", rules=[
        {"deny": "amount > 250.0", "name": "small-matches", "tools": ["match_bank_transaction"]}])})
    async with running(config, sandbox, specs=CATALOG) as runtime, mcp_client(runtime, "closer") as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, {"organization_id": ORG, **arguments})
            assert not result.is_error, (tool, result.content[0].text)
            return dict(result.structured_content or {})

        feed = (await call("list_bank_transactions", fields="description"))["banktransactions"]
        deposit = next(row for row in feed if row["description"] == "FASTER PAYMENT")
        best = (await call("get_matching_bank_transactions", transaction_id=deposit["transaction_id"]))[
            "matching_transactions"][0]
        sent = len(sandbox.api_requests)
        refused = await client.call_tool("match_bank_transaction", {
            "organization_id": ORG, "transaction_id": deposit["transaction_id"],
            "transactions_to_be_matched": [{"transaction_id": best["transaction_id"],
                                            "transaction_type": "invoice"}]})
        assert refused.is_error, refused.content[0].text
        assert "transactions_to_be_matched" in refused.content[0].text  # says what it could not weigh
        assert len(sandbox.api_requests) == sent  # nothing reached Zoho
        line = (await call("get_bank_transaction", bank_transaction_id=deposit["transaction_id"]))
        assert line["banktransaction"]["status"] == "uncategorized"
