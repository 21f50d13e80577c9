"""The pages a person sees, in a real browser (Debian's chromium through Playwright): Zoho's sign-in
page (the sandbox's), zbmcp's consent page naming the agent, its tools and organizations, and
the answers an app gets."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx2
from playwright.async_api import Page, Route

from tests.browser import Screenshots, browser_page
from tests.conftest import ORG
from tests.oauth_server.conftest import ALICE, APP_REDIRECT, MALLORY, connector, person, register

AGENTS = {"bookkeeper": person(["invoices:*", "contacts:read"], [ALICE])}


async def catch_app_redirect(page: Page) -> list[str]:
    """The app's redirect URI is never served: answer it in the browser, and keep the URL it was given."""
    seen: list[str] = []

    async def answer(route: Route) -> None:
        seen.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html",
                            body="<title>App</title><p>Back in the app.</p>")

    await page.route(f"{APP_REDIRECT}**", answer)
    return seen


async def sign_in(page: Page, email: str) -> None:
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("sandbox")
    await page.get_by_role("button", name="Sign in and accept").click()


async def test_signing_in_and_allowing_in_a_real_browser_gives_the_app_a_working_code(make_config, sandbox,
                                                                                     tmp_path):
    shots = Screenshots("connectors", tmp_path)
    async with connector(make_config, sandbox, AGENTS) as zb:
        async with httpx2.AsyncClient(timeout=10) as http:
            client = await register(zb, http, client_name="Claude")
            async with browser_page(width=900, height=900) as page:
                redirects = await catch_app_redirect(page)
                await page.goto(client.authorize_url(scope="books:read books:write"))
                await page.get_by_role("heading", name="Sign in to Zoho").wait_for()
                await shots.take(page, "zoho-sign-in")
                await sign_in(page, ALICE)
                await page.get_by_role("heading", name="Connect Claude to Zoho Books").wait_for()
                await shots.take(page, "consent")
                text = await page.inner_text("body")
                writes = page.locator('[data-kind="writes"]')
                assert await writes.get_by_text("create_invoice").is_visible()
                await page.get_by_role("button", name="Allow").click()
                await page.wait_for_url(f"{APP_REDIRECT}**")
            query = {key: values[0] for key, values in parse_qs(urlsplit(redirects[-1]).query).items()}
            issued = await client.exchange(http, query["code"])
    assert "Signed in with Zoho as Alice Accountant (alice@sandbox-trading.example)" in text
    assert "Agent bookkeeper" in text and f"Organizations: {ORG}" in text
    assert "list_invoices" in text and "list_contacts" in text
    assert "a name the app gave itself, not checked by anyone" in text
    assert "127.0.0.1:9" in text and "on this computer" in text
    assert query["iss"] == zb.url and query["state"] == "st-1"
    assert issued.status_code == 200 and issued.json()["scope"] == "books:read books:write"


async def test_unticking_changes_and_denying_in_a_real_browser(make_config, sandbox):
    async with connector(make_config, sandbox, AGENTS) as zb:
        async with httpx2.AsyncClient(timeout=10) as http:
            client = await register(zb, http)
            async with browser_page() as page:
                redirects = await catch_app_redirect(page)
                await page.goto(client.authorize_url(scope="books:read books:write"))
                await sign_in(page, ALICE)
                await page.get_by_label("Also allow changes").uncheck()
                await page.get_by_role("button", name="Allow").click()
                await page.wait_for_url(f"{APP_REDIRECT}**")
                reads_only = parse_qs(urlsplit(redirects[-1]).query)["code"][0]
                await page.goto(client.authorize_url(state="st-2"))  # Zoho remembers the browser now
                await page.get_by_role("button", name="Deny").click()
                await page.wait_for_url(f"{APP_REDIRECT}**")
            issued = await client.exchange(http, reads_only)
    denied = parse_qs(urlsplit(redirects[-1]).query)
    assert issued.json()["scope"] == "books:read"
    assert denied["error"] == ["access_denied"] and denied["state"] == ["st-2"] and "code" not in denied


async def test_a_person_no_agent_lists_is_told_why_and_can_return_to_the_app(make_config, sandbox, tmp_path):
    shots = Screenshots("connectors", tmp_path)
    async with connector(make_config, sandbox, AGENTS) as zb:
        async with httpx2.AsyncClient(timeout=10) as http:
            client = await register(zb, http)
            async with browser_page() as page:
                redirects = await catch_app_redirect(page)
                await page.goto(client.authorize_url())
                await sign_in(page, MALLORY)
                await page.get_by_role("heading", name="Your Zoho account may not use this zbmcp").wait_for()
                await shots.take(page, "not-allowed")
                text = await page.inner_text("body")
                await page.get_by_role("link", name="Return to the app").click()
                await page.wait_for_url(f"{APP_REDIRECT}**")
    assert MALLORY in text and "enrollment link" in text
    back = parse_qs(urlsplit(redirects[-1]).query)
    assert back["error"] == ["access_denied"] and back["iss"] == [zb.url]
