"""The console in a real browser (Debian's chromium through Playwright), against zbmcp over real HTTP with a
real agent calling through MCP: sign in, read the README config's access matrix, approve and deny a pending
email and see the agent's call end, filter the audit log and watch new records arrive.

These tests also take the screenshots in docs/console/ (ZBMCP_SCREENSHOTS=1; otherwise
into a temporary folder).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import Page, expect

from tests.browser import Screenshots, browser_page
from tests.conftest import ORG, environ, running, serving
from tests.console.conftest import MAILER_KEY, OLIVIA, SECRET
from tests.test_readme import configuration_example
from zbmcp.audit.log import AuditLog
from zbmcp.core.config_parse import parse_config
from zbmcp.transports.http import HttpServer

REFRESH = 0.2  # the console's live refresh, fast for tests (2 s by default)


@pytest.fixture
def screenshots(tmp_path: Path) -> Screenshots:
    return Screenshots("console", tmp_path)


@contextlib.asynccontextmanager
async def agent_client(server: HttpServer, key: str = MAILER_KEY) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http),
                          mode="legacy") as client:
            yield client


async def sign_in(page: Page, server: HttpServer, name: str = "olivia", secret: str = SECRET) -> None:
    await page.goto(f"{server.url}/console/")
    await expect(page).to_have_url(re.compile(r"/console/sign-in"))
    await page.get_by_label("Operator").fill(name)
    await page.get_by_label("Secret").fill(secret)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#operator")).to_have_text(name)


async def first_draft(client: Client) -> str:
    listed = await client.call_tool("list_invoices", {"organization_id": ORG, "status": "draft"})
    return listed.structured_content["invoices"][0]["invoice_id"]


async def test_sign_in_and_read_the_readme_configs_access_matrix(sandbox, home, tmp_path, screenshots):
    text = configuration_example() + f"operators:\n  olivia: {{secret: \"{OLIVIA['secret']}\"}}\n"
    path = tmp_path / "zbmcp.yaml"
    path.write_text(text)
    env = {**environ(sandbox, home), "ZOHO_CLIENT_ID": "1000.README", "ZOHO_CLIENT_SECRET": "s",
           "ZOHO_REFRESH_TOKEN": "r"}
    loaded = parse_config(text, str(path), env)
    async with running(loaded, sandbox) as runtime, serving(runtime, console_refresh=REFRESH) as server, \
            browser_page(width=1720) as page:
        await page.goto(f"{server.url}/console/sign-in")
        await screenshots.take(page, "sign-in")
        await page.get_by_label("Operator").fill("olivia")
        await page.get_by_label("Secret").fill("not the secret")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#error")).to_have_text("Wrong operator name or secret.")
        await sign_in(page, server)

        await page.get_by_role("link", name="Access").click()
        reporting = page.locator('tr[data-agent="reporting"]')
        bookkeeper = page.locator('tr[data-agent="bookkeeper"]')
        await expect(reporting.locator('[data-module="invoices"]')).to_have_attribute("data-states", "read")
        await expect(bookkeeper.locator('[data-module="invoices"]')).to_have_attribute(
            "data-states", "read,write,approval")
        await expect(bookkeeper.locator('[data-module="bills"]')).to_have_attribute("data-states", "hidden")
        await expect(bookkeeper.locator(".orgs")).to_have_text("organizations 10234695")
        cell = bookkeeper.locator('[data-module="invoices"]')
        await cell.locator("summary").click()
        await expect(cell).to_contain_text("excluded by `exclude: delete_invoice`")
        await expect(cell).to_contain_text("a person approves each call (`require_approval: email_invoice`)")
        overflow = await page.locator(".scroll").evaluate("box => box.scrollWidth - box.clientWidth")
        assert overflow <= 0, (f"the matrix needs {overflow} px more than a wide window: "
                               "some modules are out of sight")
        await screenshots.take(page, "access")

        await page.get_by_role("link", name="Compare with another config").click()
        candidate = text.replace('tools: ["*:read"]', 'tools: ["*:*"]')
        await page.get_by_label("Candidate config (YAML)").fill(candidate)
        await page.get_by_role("button", name="Compare").click()
        changes = page.locator("#changes")
        await expect(changes).to_contain_text("create_invoice")
        await expect(changes.locator("tr.grants").first).to_contain_text("reporting")
        await screenshots.take(page, "compare")


@pytest.mark.parametrize("decision", ["Approve", "Deny"])
async def test_an_operator_decides_a_pending_email_and_the_agents_call_ends(console_config, sandbox, decision,
                                                                            screenshots):
    loaded = console_config(hold_seconds=60)
    past = {"Approve": "approved", "Deny": "denied"}[decision]
    async with running(loaded, sandbox) as runtime, serving(runtime, console_refresh=REFRESH) as server, \
            agent_client(server) as agent, browser_page() as page:
        invoice_id = await first_draft(agent)
        await sign_in(page, server)
        await expect(page.locator("#nothing-waiting")).to_be_visible()
        results: list[types.CallToolResult] = []
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                async def email() -> None:
                    results.append(await agent.call_tool("email_invoice", {
                        "organization_id": ORG, "invoice_id": invoice_id,
                        "to_mail_ids": ["ap@acme.example"]}))

                tg.start_soon(email)
                card = page.locator("article.held")  # appears without a reload: the inbox refreshes itself
                await expect(card).to_be_visible()
                await expect(card.locator(".recipients")).to_have_text("to ap@acme.example")
                await expect(card.locator(".agent")).to_have_text("bookkeeper")
                await expect(card.locator(".document")).to_contain_text(f"({invoice_id}) for ")
                await expect(card).to_contain_text(invoice_id)
                if decision == "Approve":
                    await screenshots.take(page, "inbox")
                assert sandbox.outbox == [] and results == []
                await card.get_by_role("button", name=decision).click()
                await expect(page.locator("#done")).to_contain_text(f"You {past} approval")
        [result] = results
        await expect(page.locator("table.grid")).to_contain_text("olivia")
    if decision == "Approve":
        assert not result.is_error, result.content[0].text
        assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]
    else:
        assert result.is_error and "Operator olivia denied email_invoice" in result.content[0].text
        assert sandbox.outbox == []
    assert runtime.audit.records[-1]["rule"].startswith(f"{past} by operator olivia")


async def test_filter_the_audit_and_watch_new_records_arrive(console_config, sandbox, tmp_path, screenshots):
    loaded = console_config()
    audit = AuditLog(loaded.audit_path)
    async with running(loaded, sandbox, audit=audit) as runtime, \
            serving(runtime, console_refresh=REFRESH) as server, agent_client(server) as agent, \
            browser_page(height=900) as page:
        invoice_id = await first_draft(agent)
        await agent.call_tool("list_contacts", {"organization_id": ORG})
        # excluded
        await agent.call_tool("delete_invoice", {"organization_id": ORG, "invoice_id": invoice_id})
        await sign_in(page, server)
        await page.get_by_role("link", name="Audit").click()
        rows = page.locator("#audit-rows tr")
        await expect(rows.first.locator(".sentence")).to_contain_text('operator "olivia" signed in')
        await expect(rows.nth(1).locator(".sentence")).to_contain_text('agent "bookkeeper" tried to '
                                                                       'delete an invoice')
        await page.get_by_label("Decision").select_option("denied")
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await expect(rows.first.locator(".badge")).to_have_text("denied")

        await page.get_by_label("Decision").select_option("")
        await page.get_by_label("Tool").select_option("list_contacts")
        await page.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(1)
        await agent.call_tool("list_contacts", {"organization_id": ORG, "page": 1})  # written while we watch
        await agent.call_tool("list_invoices", {"organization_id": ORG})  # filtered out
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_have_class(re.compile(r"\bnew\b"))
        await page.get_by_label("Tool").select_option("")
        await page.get_by_role("button", name="Filter").click()
        await expect(page.locator("#audit-rows")).to_contain_text('operator "olivia" signed in')
        chain = page.locator("#chain")
        for _ in range(50):  # the chain is verified in the background; the page shows the latest result
            if "intact" in (await chain.inner_text()):
                break
            await page.reload()
        await expect(chain).to_contain_text("Hash chain intact")
        await screenshots.take(page, "audit")


def test_the_screenshots_in_the_docs_exist():
    """docs/console.md shows these; they are retaken with ZBMCP_SCREENSHOTS=1."""
    folder = Path(__file__).resolve().parents[2] / "docs" / "console"
    for name in ("sign-in", "access", "compare", "inbox", "audit"):
        assert (folder / f"{name}.png").is_file(), \
            f"run ZBMCP_SCREENSHOTS=1 pytest {__file__} to take {name}.png"
