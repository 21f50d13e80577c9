"""The MCP server through the SDK's own client, against the sandbox: what an agent sees and gets."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from tests.conftest import ORG, OTHER_ORG, agent, mcp_client, running
from zbmcp.calls.catalog import load_manifests
from zbmcp.sandbox import Fault

# what `*:*` grants without `catalog: whole`: the hand-written tools (tests/test_catalog_tools.py calls the
# generated ones)
SPECS = {name: spec for name, spec in load_manifests().items() if not spec.generated}


def body(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return result.structured_content


def error(result: Any) -> dict[str, Any]:
    assert result.is_error, result.content
    return result.structured_content["error"]


async def find(client, tool: str, key: str, match: dict[str, str], **arguments: Any) -> dict[str, Any]:
    rows = body(await client.call_tool(tool, {"organization_id": ORG, **arguments}))[key]
    return next(row for row in rows if all(row.get(k) == v for k, v in match.items()))


@pytest.fixture
def demo(make_config):
    # every tool listed, however many there are (docs/context.md): each one's hints are checked below
    return make_config({"demo": agent(["*:*"], [ORG, OTHER_ORG], tool_list_bytes=10_000_000)})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_tool_is_listed_with_its_scope_access_and_hints(demo, sandbox, mode):
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo", mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert list(tools) == list(SPECS)
    defaults = {"read_only_hint": False, "destructive_hint": True, "idempotent_hint": False,
                "open_world_hint": True}

    def hint(hints: Any, key: str) -> bool:  # a hint left out is MCP's default
        value = getattr(hints, key)
        return defaults[key] if value is None else value

    for name, tool in tools.items():
        spec = SPECS[name]
        assert tool.meta == {"zbmcp/scope": spec.scope}
        hints = tool.annotations
        # send=true emails
        emails = name.startswith("email_") or name in ("create_invoice", "create_estimate")
        assert hints.title == spec.title
        assert hint(hints, "read_only_hint") is (spec.access == "read")
        if spec.access == "write":
            assert hint(hints, "destructive_hint") is (name.startswith("delete_") or emails)
            assert hint(hints, "idempotent_hint") is (spec.method in ("PUT", "DELETE"))
        assert hint(hints, "open_world_hint") is emails
        if name != "list_organizations":  # two organizations: the agent must say which
            assert tool.input_schema["properties"]["organization_id"] == {"type": "string",
                                                                          "enum": [ORG, OTHER_ORG]}
            assert "organization_id" in tool.input_schema["required"]


async def test_every_tool_works_against_the_sandbox(demo, sandbox):
    called: set[str] = set()

    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:

        async def call(tool: str, **arguments: Any) -> dict[str, Any]:
            if tool != "list_organizations":
                arguments.setdefault("organization_id", ORG)
            called.add(tool)
            return body(await client.call_tool(tool, arguments))

        organizations = await call("list_organizations")
        assert {o["organization_id"] for o in organizations["organizations"]} == {ORG, OTHER_ORG}
        customers = (await call("list_contacts", contact_type="customer"))["contacts"]
        acme = next(c for c in customers if c["contact_name"].startswith("Acme"))
        vendors = (await call("list_contacts", contact_type="vendor"))["contacts"]
        vendor = vendors[0]
        assert (await call("get_contact", contact_id=acme["contact_id"]))["contact"]["contact_id"] \
            == acme["contact_id"]
        new = (await call("create_contact", contact_name="Umbrella plc", contact_type="customer"))["contact"]
        await call("update_contact", contact_id=new["contact_id"], contact_name="Umbrella Corporation")
        await call("delete_contact", contact_id=new["contact_id"])

        items = (await call("list_items"))["items"]
        consulting = next(i for i in items if i["name"] == "Consulting")
        await call("create_item", name="Training day", rate=900)
        assert (await call("get_item", item_id=consulting["item_id"]))["item"]["rate"] == 150
        accounts = (await call("list_chart_of_accounts"))["chartofaccounts"]
        expense_account = next(a for a in accounts if a["account_type"] == "expense")
        await call("get_chart_of_account", account_id=expense_account["account_id"])
        await call("create_chart_of_account", account_name="Software", account_type="expense")
        banks = (await call("list_bank_accounts"))["bankaccounts"]
        await call("get_bank_account", account_id=banks[0]["account_id"])
        await call("create_bank_account", account_name="Savings", account_type="bank")

        lines = [{"item_id": consulting["item_id"], "quantity": 3}]
        invoice = (await call("create_invoice", customer_id=acme["contact_id"], line_items=lines))["invoice"]
        invoice_id = invoice["invoice_id"]
        assert invoice["status"] == "draft"
        assert (await call("get_invoice", invoice_id=invoice_id))["invoice"]["total"] == invoice["total"]
        await call("update_invoice", invoice_id=invoice_id, customer_id=acme["contact_id"],
                   line_items=[{"item_id": consulting["item_id"], "quantity": 4}])
        await call("mark_invoice_sent", invoice_id=invoice_id)
        await call("email_invoice", invoice_id=invoice_id, to_mail_ids=["ap@acme.example"])
        assert (await call("list_invoices", status="sent", customer_id=acme["contact_id"]))["invoices"]
        payment = (await call("create_customer_payment", customer_id=acme["contact_id"],
                              payment_mode="banktransfer", amount=100, date=invoice["date"],  # not before it
                              invoices=[{"invoice_id": invoice_id, "amount_applied": 100}]))["payment"]
        assert (await call("list_customer_payments", customer_id=acme["contact_id"]))["customerpayments"]
        applied = (await call("get_customer_payment",
                              payment_id=payment["payment_id"]))["payment"]["invoices"]
        assert [entry["invoice_id"] for entry in applied] == [invoice_id]
        await call("delete_customer_payment", payment_id=payment["payment_id"])
        draft = (await call("create_invoice", customer_id=acme["contact_id"], line_items=lines,
                            idempotency_key="a second invoice"))["invoice"]  # the same arguments again
        await call("delete_invoice", invoice_id=draft["invoice_id"])
        await call("mark_invoice_void", invoice_id=invoice_id)
        await call("mark_invoice_draft", invoice_id=invoice_id)
        assert (await call("get_invoice", invoice_id=invoice_id))["invoice"]["status"] == "draft"

        estimate = (await call("create_estimate", customer_id=acme["contact_id"],
                               line_items=lines))["estimate"]
        await call("email_estimate", estimate_id=estimate["estimate_id"], to_mail_ids=["buyer@acme.example"])
        await call("list_estimates")
        await call("get_estimate", estimate_id=estimate["estimate_id"])
        order = (await call("create_sales_order", customer_id=acme["contact_id"],
                            line_items=lines))["salesorder"]
        await call("list_sales_orders")
        await call("get_sales_order", salesorder_id=order["salesorder_id"])
        bill = (await call("create_bill", vendor_id=vendor["contact_id"], bill_number="B-2026-11",
                           line_items=[{"account_id": expense_account["account_id"], "rate": 80,
                                        "quantity": 1}]))["bill"]
        await call("list_bills")
        await call("get_bill", bill_id=bill["bill_id"])
        paid = (await call("create_vendor_payment", vendor_id=vendor["contact_id"], amount=80,
                           paid_through_account_id=banks[0]["account_id"],
                           bills=[{"bill_id": bill["bill_id"], "amount_applied": 80}]))["vendorpayment"]
        assert (await call("get_bill", bill_id=bill["bill_id"]))["bill"]["status"] == "paid"
        assert (await call("list_vendor_payments", vendor_id=vendor["contact_id"]))["vendorpayments"]
        await call("get_vendor_payment", payment_id=paid["payment_id"])
        purchase = (await call("create_purchase_order", vendor_id=vendor["contact_id"],
                               line_items=[{**lines[0], "account_id": expense_account["account_id"]}]))
        await call("list_purchase_orders")
        await call("get_purchase_order", purchase_order_id=purchase["purchaseorder"]["purchaseorder_id"])
        expense = (await call("create_expense", account_id=expense_account["account_id"], date="2026-11-25",
                              amount=42.5, paid_through_account_id=banks[0]["account_id"]))["expense"]
        await call("list_expenses")
        await call("get_expense", expense_id=expense["expense_id"])

        await call("get_profit_and_loss", filter_by="TransactionDate.ThisYear")
        sheet = (await call("get_balance_sheet"))["balance_sheet"]
        assert sheet[0]["total"] == sheet[1]["total"]  # assets == liabilities and equities
        owed = (await call("get_aged_receivables"))["aged_receivables"]["customers"]
        assert {row["name"] for row in owed} == {"Acme Corporation", "Globex Ltd"}
        assert (await call("get_aged_payables"))["aged_payables"]["total"] == 180 + 12  # the two seeded bills
        trial = (await call("get_trial_balance"))["trial_balance"][0]
        assert trial["net_debit_total"] == trial["net_credit_total"]
        await call("get_general_ledger", filter_by="TransactionDate.ThisYear")
        await call("get_account_transactions", account_id=banks[0]["account_id"])
        await call("get_cash_flow", filter_by="TransactionDate.ThisYear")

    assert called == set(SPECS)
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"], ["buyer@acme.example"]]


async def test_a_result_is_one_compact_object_as_structured_content_and_as_its_text(demo, sandbox):
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        result = await client.call_tool("list_contacts", {"organization_id": ORG, "per_page": 1})
    structured = result.structured_content
    [block] = result.content  # one copy for clients that read text, the same for those that read structure
    assert block.text == json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    assert structured["summary"].startswith("Listed 1 contact (page 1; more on page 2)")
    assert structured["page_context"] == {"page": 1, "per_page": 1, "has_more_page": True}


async def test_lists_default_to_fifty_rows_and_fields_shape_them_without_reaching_zoho(demo, sandbox):
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        plain = body(await client.call_tool("list_invoices", {"organization_id": ORG}))
        plain_query = sandbox.api_requests[-1].query
        more = body(await client.call_tool("list_invoices", {"organization_id": ORG, "per_page": 2,
                                                             "fields": ["created_time", "is_emailed"]}))
        more_query = sandbox.api_requests[-1].query
    assert plain_query["per_page"] == "50" and more_query["per_page"] == "2"
    assert "fields" not in plain_query and "fields" not in more_query
    assert "created_time" not in plain["invoices"][0]
    assert all({"created_time", "is_emailed"} <= set(row) for row in more["invoices"])
    assert plain["sums"]["balance"] == sum(row["balance"] for row in plain["invoices"])


async def test_fields_cannot_smuggle_anything_to_zoho(demo, sandbox):
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        seen = len(sandbox.api_requests)
        smuggled = error(await client.call_tool("list_invoices", {"organization_id": ORG,
                                                                  "fields": ["x&organization_id=10234696"]}))
        on_a_record = error(await client.call_tool("get_invoice", {"organization_id": ORG, "invoice_id": "1",
                                                                   "fields": ["total"]}))
    assert smuggled["fields"] == on_a_record["fields"] == ["fields"]
    assert len(sandbox.api_requests) == seen


async def test_a_wrong_sort_or_filter_value_is_refused_with_the_values_zoho_takes(demo, sandbox):
    """The listing names a few sort columns and filters; the refusal of a wrong one names them all."""
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        seen = len(sandbox.api_requests)
        wrong_sort = error(await client.call_tool("list_invoices",
                                                  {"organization_id": ORG, "sort_column": "amount"}))
        wrong_filter = error(await client.call_tool("list_contacts", {"organization_id": ORG,
                                                                      "filter_by": "Invoice.Overdue"}))
        refused = len(sandbox.api_requests) - seen
        biggest = body(await client.call_tool("list_invoices",
                                              {"organization_id": ORG, "sort_column": "balance",
                                               "sort_order": "D", "per_page": 3}))
    assert refused == 0
    assert wrong_sort["fields"] == ["sort_column"]
    for column in ("customer_name", "invoice_number", "date", "due_date", "total", "balance", "created_time"):
        assert column in wrong_sort["message"]
    assert wrong_filter["fields"] == ["filter_by"] and "Invoice.OverDue" in wrong_filter["message"]
    balances = [row["balance"] for row in biggest["invoices"]]
    assert balances == sorted(balances, reverse=True) and len(balances) == 3


async def test_bad_arguments_are_refused_naming_the_field_and_nothing_is_sent(demo, sandbox):
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        seen = len(sandbox.api_requests)
        missing = error(await client.call_tool("create_invoice", {"organization_id": ORG}))
        traversal = error(await client.call_tool("get_invoice",
                                                 {"organization_id": ORG, "invoice_id": "../1"}))
        mistyped = error(await client.call_tool("list_invoices", {"organization_id": ORG, "page": "two"}))
    assert missing["fields"] == ["customer_id", "line_items"]
    assert traversal["fields"] == ["invoice_id"] and "digits only" in traversal["message"]
    assert mistyped["fields"] == ["page"] and "must be an integer" in mistyped["message"]
    assert len(sandbox.api_requests) == seen


async def test_zoho_errors_become_tool_errors_that_say_what_to_do(demo, sandbox):
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        unknown = error(await client.call_tool("get_invoice", {"organization_id": ORG, "invoice_id": "123"}))
        rejected = error(await client.call_tool("create_invoice", {
            "organization_id": ORG, "customer_id": "999", "line_items": [{"item_id": "1", "quantity": 1}]}))
    assert (unknown["http_status"], unknown["zoho_code"]) == (404, 1002)
    assert "Check the id" in unknown["message"]
    assert rejected["http_status"] == 400 and "Fix the field" in rejected["message"]


async def test_an_expired_token_is_refreshed_once_and_the_call_succeeds(demo, sandbox):
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        body(await client.call_tool("list_invoices", {"organization_id": ORG}))
        sandbox.expire_access_tokens()
        body(await client.call_tool("list_invoices", {"organization_id": ORG}))
    refreshes = [t for t in sandbox.token_requests if t.grant_type == "refresh_token"]
    assert [t.outcome for t in refreshes] == ["ok", "ok"]
    assert [r.status for r in sandbox.api_requests] == [200, 401, 200]


async def test_a_missing_scope_is_retried_once_then_explained(make_config, sandbox):
    narrow = sandbox.mint_refresh_token(["ZohoBooks.invoices.READ"])
    loaded = make_config({"demo": agent(["invoices:*"])}, connection={"refresh_token": narrow})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        refused = error(await client.call_tool("mark_invoice_sent", {"invoice_id": "460000000000001"}))
    assert refused["http_status"] == 401 and refused["zoho_code"] == 57
    assert "ZohoBooks.invoices.CREATE" in refused["message"]
    assert len([r for r in sandbox.api_requests if r.method == "POST"]) == 2  # the call, and one retry
    assert len([t for t in sandbox.token_requests if t.grant_type == "refresh_token"]) == 2


async def test_fifty_concurrent_calls_with_an_expired_token_make_one_refresh(demo, sandbox):
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        body(await client.call_tool("list_items", {"organization_id": ORG}))
        sandbox.expire_access_tokens()
        before = len(sandbox.token_requests)
        results: list[Any] = []

        async def one() -> None:
            results.append(await client.call_tool("list_items", {"organization_id": ORG}))

        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                for _ in range(50):
                    group.start_soon(one)
    assert [r.is_error for r in results] == [False] * 50
    assert len(sandbox.token_requests) - before == 1


async def test_reads_retry_through_5xx_and_429_but_a_failed_write_is_not_repeated(demo, sandbox):
    sandbox.faults.add(Fault(kind="error", status=503, route="GET /invoices", times=2))
    sandbox.faults.add(Fault(kind="rate_limit", route="GET /items", times=2))
    sandbox.faults.add(Fault(kind="error", status=500, route="POST /contacts", times=1))
    async with running(demo, sandbox) as runtime, mcp_client(runtime, "demo") as client:
        body(await client.call_tool("list_invoices", {"organization_id": ORG}))
        body(await client.call_tool("list_items", {"organization_id": ORG}))
        unknown = error(await client.call_tool("create_contact",
                                               {"organization_id": ORG, "contact_name": "X"}))
    assert unknown["type"] == "OutcomeUnknown" and "list_contacts" in unknown["message"]
    assert len([r for r in sandbox.api_requests if r.method == "POST"]) == 1


async def test_list_organizations_shows_only_the_agents_organizations(make_config, sandbox):
    loaded = make_config({"one": agent(["list_organizations"], [OTHER_ORG])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "one") as client:
        organizations = body(await client.call_tool("list_organizations", {}))["organizations"]
    assert [o["organization_id"] for o in organizations] == [OTHER_ORG]


async def test_agents_on_different_connections_stay_with_their_own_zoho_user(make_config, sandbox):
    other_user = sandbox.mint_refresh_token(["ZohoBooks.fullaccess.all"], user_id="700000000000002")
    loaded = make_config({"ours": agent(["list_invoices"]),
                          "theirs": {**agent(["list_invoices"], ["20987654"]), "connection": "nordwind"}},
                         extra_connections={"nordwind": {"refresh_token": other_user}})
    async with running(loaded, sandbox) as runtime:
        async with mcp_client(runtime, "ours") as ours, mcp_client(runtime, "theirs") as theirs:
            mine = await ours.call_tool("list_invoices", {})
            nordwind = await theirs.call_tool("list_invoices", {})
            crossing = await ours.call_tool("list_invoices", {"organization_id": "20987654"})
    assert not mine.is_error and not nordwind.is_error
    assert crossing.is_error and "may not touch organization 20987654" in crossing.content[0].text
    assert {r.organization_id for r in sandbox.api_requests} == {ORG, "20987654"}
