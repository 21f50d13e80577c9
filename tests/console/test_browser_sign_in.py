"""Signing in as a person does, in Chromium, on both ways of serving the console: `zbmcp console` (alone, for
a local user) and `zbmcp serve --transport http` (beside /mcp). The browser fetches what it fetches (its
favicon included; nothing is blocked), signs in, approves a call held by an agent's stdio server sharing the
same ZBMCP_HOME, and signs out.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.streams.text import TextReceiveStream
from mcp import types
from playwright.async_api import expect

from tests.browser import browser_page
from tests.conftest import ORG, agent, config_text, environ, mcp_client, running, said_port
from zbmcp.audit.log import AuditLog
from zbmcp.core.config_parse import parse_config

ZBMCP = [sys.executable, "-m", "zbmcp"]


def write_config(sandbox, home: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "zbmcp.yaml"
    path.write_text(config_text(sandbox, {"bookkeeper": agent(
        ["invoices:*", "contacts:read"], require_approval=["email_invoice"], approval="console",
        api_keys=["sha256:" + "0" * 64])}, audit={"path": str(tmp_path / "audit.jsonl")},
        console={"hold_seconds": 60}))
    return path, {**environ(sandbox, home), "PATH": "/usr/bin:/bin"}


@contextlib.asynccontextmanager
async def zbmcp(*args: str, env: dict[str, str], says: str) -> AsyncIterator[int]:
    """`zbmcp ARGS --port 0` until the test is done, once it has said `says` on stderr: the port it says."""
    async with await anyio.open_process([*ZBMCP, *args, "--port", "0"], env=env) as process:
        try:
            assert process.stderr is not None
            said = ""
            with anyio.fail_after(30):
                async for text in TextReceiveStream(process.stderr):
                    said += text
                    if says in said and said.endswith("\n"):
                        break
            assert says in said, said
            yield said_port(said, after=says)
        finally:
            process.terminate()
            with anyio.fail_after(15):
                await process.wait()


@pytest.mark.parametrize("command", ["console", "serve"])
async def test_a_person_signs_in_approves_and_signs_out_in_chromium(command, sandbox, home, tmp_path):
    path, env = write_config(sandbox, home, tmp_path)
    added = subprocess.run([*ZBMCP, "operator", "add", "olivia", "--config", str(path)], env=env,
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip()
    args = ["console"] if command == "console" else ["serve", "--transport", "http"]
    says = "console at " if command == "console" else "serving MCP on "
    loaded = parse_config(path.read_text(), str(path), env)
    async with zbmcp(*args, "--config", str(path), env=env, says=says) as port, \
            running(loaded, sandbox, audit=AuditLog(loaded.audit_path)) as runtime, \
            mcp_client(runtime, "bookkeeper", mode="legacy") as stdio_agent, browser_page() as page:
        base = f"http://127.0.0.1:{port}"
        await page.goto(f"{base}/console/")
        await expect(page).to_have_url(re.compile(r"/console/sign-in"))
        await page.get_by_label("Operator").fill("olivia")
        await page.get_by_label("Secret").fill(secret)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#operator")).to_have_text("olivia")

        listed = await stdio_agent.call_tool("list_invoices", {"organization_id": ORG, "status": "draft"})
        invoice_id = listed.structured_content["invoices"][0]["invoice_id"]
        results: list[types.CallToolResult] = []
        with anyio.fail_after(40):
            async with anyio.create_task_group() as tg:
                async def email() -> None:
                    results.append(await stdio_agent.call_tool("email_invoice", {
                        "organization_id": ORG, "invoice_id": invoice_id,
                        "to_mail_ids": ["ap@acme.example"]}))

                tg.start_soon(email)
                card = page.locator("article.held")
                await expect(card).to_be_visible(timeout=20_000)
                await card.get_by_role("button", name="Approve").click()
                await expect(page.locator("#done")).to_contain_text("You approved approval")
        [result] = results
        assert not result.is_error, result.content[0].text
        assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]

        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(re.compile(r"/console/sign-in"))
        await page.goto(f"{base}/console/approvals")
        await expect(page).to_have_url(re.compile(r"/console/sign-in"))  # the session really ended
        async with httpx2.AsyncClient() as http:
            favicon = await http.get(f"{base}/favicon.ico")
            unknown = await http.get(f"{base}/no-such-page")
    assert favicon.status_code == 404 and "set-cookie" not in favicon.headers
    assert unknown.status_code == 404 and "set-cookie" not in unknown.headers
