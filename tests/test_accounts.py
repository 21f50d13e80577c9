"""Issue #5: connecting a Zoho account against the sandbox's accounts server, and living
with Zoho's token rules."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest

from tests.conftest import ORG, agent, environ, mcp_client, running
from zbmcp import cli
from zbmcp.core.config_parse import parse_config
from zbmcp.errors import AuthError
from zbmcp.cli.login import browser_login, exchange, revoke
from zbmcp.calls.runtime import token_managers
from zbmcp.sandbox.server import AsyncSandboxServer, SandboxServer
from zbmcp.files import write_private_file
from zbmcp.zoho.tokens import FileTokenStore

LOGIN_CLIENT_ID = "1000.LOGINTEST"
LOGIN_SECRET = "login-test-secret-3f9a"


def login_config(sandbox, home: Path, base_url: str, *, tokens: str = "file",
                 refresh_token: str | None = None):
    lines = [
        "connections:",
        "  main:",
        "    region: eu",
        f"    client_id: {LOGIN_CLIENT_ID}",
        f"    client_secret: {LOGIN_SECRET}",
        f"    api_base_url: {base_url}/books/v3",
        f"    accounts_url: {base_url}",
        f"    token_store: {tokens}",
    ]
    if refresh_token:
        lines.append(f"    refresh_token: {refresh_token}")
    lines += ["agents:", "  bookkeeper:", "    connection: main", f"    organizations: ['{ORG}']",
              "    tools: ['invoices:read', list_organizations]"]
    text = "\n".join(lines) + "\n"
    path = home.parent / "zbmcp.yaml"
    path.write_text(text)
    return parse_config(text, str(path), environ(sandbox, home))


class Browser:
    """Plays the user's browser: opens the consent URL, which redirects to zbmcp's loopback listener.

    The login listens on port 0 (a port picked free beforehand could be taken by a neighbouring test before
    the login binds it), so the app's redirect is registered with the sandbox's Zoho once the consent URL
    names it, as its developer would have registered it."""

    def __init__(self, sandbox, tamper=None) -> None:
        self.opened: list[str] = []
        self.sandbox = sandbox
        self.tamper = tamper

    async def __call__(self, url: str) -> None:
        self.opened.append(url)
        redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        self.sandbox.register_client(LOGIN_CLIENT_ID, LOGIN_SECRET, [redirect_uri])
        async with httpx2.AsyncClient(timeout=10) as http:
            consent = await http.get(url)
            assert consent.status_code == 302, consent.text
            target = consent.headers["location"]
            if self.tamper:
                target = self.tamper(target)
            await http.get(target)


def replace_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query[name] = value
    return parts._replace(query=httpx2.QueryParams(query).__str__()).geturl()


@pytest.fixture
def login_sandbox(sandbox):
    sandbox.register_client(LOGIN_CLIENT_ID, LOGIN_SECRET, [])  # the redirect: see Browser
    return sandbox, 0


async def test_browser_login_asks_least_privilege_offline_consent_and_stores_the_tokens(login_sandbox, home):
    sandbox, port = login_sandbox
    async with AsyncSandboxServer(sandbox) as server:
        loaded = login_config(sandbox, home, server.base_url)
        manager = token_managers(loaded)["main"]
        browser = Browser(sandbox)
        with anyio.fail_after(20):
            result = await browser_login(manager, region="eu", scopes=["ZohoBooks.invoices.READ",
                                         "ZohoBooks.settings.READ"], open_browser=browser, port=port,
                                         accounts_url=server.base_url)
    consent = {k: v[0] for k, v in parse_qs(urlsplit(browser.opened[0]).query).items()}
    assert consent["scope"] == "ZohoBooks.invoices.READ,ZohoBooks.settings.READ"
    assert consent["access_type"] == "offline" and consent["prompt"] == "consent"
    assert consent["client_id"] == LOGIN_CLIENT_ID and consent["response_type"] == "code"
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*/callback", consent["redirect_uri"])
    assert len(consent["state"]) >= 20
    assert result.scopes == ["ZohoBooks.invoices.READ", "ZohoBooks.settings.READ"]
    stored = FileTokenStore(home / "tokens" / "main.json").load()
    assert stored["refresh_token"] and stored["access_token"] and stored["accounts_server"] == server.base_url
    assert stat.S_IMODE(os.stat(home / "tokens" / "main.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home / "tokens").st_mode) == 0o700


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (lambda url: replace_param(url, "state", "forged-state"), "wrong state"),
        (lambda url: replace_param(url, "accounts-server", "https://accounts.evil.example"),
         "not a Zoho accounts"),
    ],
)
async def test_a_tampered_redirect_is_refused_before_any_secret_is_sent(login_sandbox, home, tamper, says):
    sandbox, port = login_sandbox
    async with AsyncSandboxServer(sandbox) as server:
        manager = token_managers(login_config(sandbox, home, server.base_url))["main"]
        with anyio.fail_after(20), pytest.raises(AuthError) as refused:
            await browser_login(manager, region="eu", scopes=["ZohoBooks.invoices.READ"],
                                open_browser=Browser(sandbox, tamper), port=port,
                                accounts_url=server.base_url)
    assert says in str(refused.value)
    assert [t for t in sandbox.token_requests if t.grant_type == "authorization_code"] == []
    assert not (home / "tokens" / "main.json").exists()


@contextlib.contextmanager
def exchanged_on_the_command_line(sandbox, home: Path) -> Iterator[tuple[SandboxServer, list[str], str]]:
    """A loopback sandbox, a config file for it, and `zbmcp auth exchange` done with a Self Client code."""
    with SandboxServer(sandbox) as server:
        loaded = login_config(sandbox, home, server.base_url)
        config = ["--config", loaded.source.file]
        code = sandbox.mint_grant_code(["ZohoBooks.invoices.READ", "ZohoBooks.settings.READ"])
        os.environ["ZBMCP_HOME"] = str(home)
        try:
            assert cli.main(["auth", "exchange", "--connection", "main", "--code", code, *config]) == 0
            yield server, config, code
        finally:
            del os.environ["ZBMCP_HOME"]


def test_self_client_exchange_status_and_logout_from_the_command_line(login_sandbox, home, capsys):
    sandbox, _ = login_sandbox
    with exchanged_on_the_command_line(sandbox, home) as (_, config, code):
        assert cli.main(["auth", "status", *config]) == 0
        status = capsys.readouterr().out
        assert cli.main(["doctor", *config]) == 0
        doctor = capsys.readouterr().out
        assert cli.main(["auth", "logout", "--connection", "main", *config]) == 0
        assert cli.main(["auth", "exchange", "--connection", "main", "--code", code, *config]) == 1
        reused = capsys.readouterr().err
    assert "region eu" in status and "ZohoBooks.invoices.READ" in status \
        and "access token: valid for" in status
    assert ORG in status and "Sandbox Trading" in status
    assert "FAIL" not in doctor and f"organizations {ORG} reachable" in doctor
    assert [(t.grant_type, t.outcome) for t in sandbox.token_requests][-2:] == [
        ("revoke", "ok"), ("authorization_code", "invalid_code")]
    assert not (home / "tokens" / "main.json").exists()
    assert "invalid_code" in reused and "generate a new one" in reused
    assert LOGIN_SECRET not in status + doctor + reused


def test_status_doctor_and_logout_exit_1_when_the_token_is_revoked_or_zoho_is_gone(
        login_sandbox, home, capsys):
    sandbox, _ = login_sandbox
    with exchanged_on_the_command_line(sandbox, home) as (server, config, _):
        stored = json.loads((home / "tokens" / "main.json").read_text())
        with sandbox.lock:  # revoked elsewhere (say, in the user's Zoho account): every refresh now fails
            assert sandbox.tokens.revoke(stored["refresh_token"])
        capsys.readouterr()
        status_code = cli.main(["auth", "status", *config])
        status = capsys.readouterr().out
        doctor_code = cli.main(["doctor", *config])
        doctor = capsys.readouterr().out
        server.stop()  # the accounts server is gone: the revocation cannot be confirmed
        logout_code = cli.main(["auth", "logout", "--connection", "main", *config])
        logout = capsys.readouterr().err
    assert (status_code, doctor_code, logout_code) == (1, 1, 1)
    assert "problem:" in status and "zbmcp auth login --connection main" in status
    assert "FAIL connection 'main'" in doctor
    assert "Zoho did not confirm the revocation" in logout and "connected apps" in logout


async def test_tokens_are_reused_across_restarts(login_sandbox, home):
    sandbox, _ = login_sandbox
    loaded = login_config(sandbox, home, "http://sandbox.test")
    code = sandbox.mint_grant_code(["ZohoBooks.invoices.READ"])
    transport = httpx2.ASGITransport(app=sandbox.app)
    await exchange(token_managers(loaded, transport=transport)["main"], code, "http://sandbox.test")
    for _restart in range(3):
        async with running(loaded, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
            assert not (await client.call_tool("list_invoices", {})).is_error
    assert [t.grant_type for t in sandbox.token_requests] == ["authorization_code"]  # no refresh at all


async def test_a_revoked_refresh_token_gives_an_actionable_error_and_backs_off(login_sandbox, home):
    sandbox, _ = login_sandbox
    refresh = sandbox.mint_refresh_token(["ZohoBooks.invoices.READ"], client_id=LOGIN_CLIENT_ID)
    loaded = login_config(sandbox, home, "http://sandbox.test", tokens="memory", refresh_token=refresh)
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        assert not (await client.call_tool("list_invoices", {})).is_error
        await revoke(runtime.connections["main"].tokens, transport=httpx2.ASGITransport(app=sandbox.app))
        first = await client.call_tool("list_invoices", {})
        asked = len(sandbox.token_requests)
        second = await client.call_tool("list_invoices", {})
    assert first.is_error and "zbmcp auth login --connection main" in first.content[0].text
    assert second.is_error and len(sandbox.token_requests) == asked  # it did not hammer the accounts server


async def test_too_many_refreshes_are_explained_and_not_retried_at_once(make_config, sandbox):
    sandbox.settings.max_refreshes_per_window = 1
    loaded = make_config({"a": agent(["list_items"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        assert not (await client.call_tool("list_items", {})).is_error
        sandbox.expire_access_tokens()
        refused = await client.call_tool("list_items", {})
        asked = len(sandbox.token_requests)
        again = await client.call_tool("list_items", {})
    assert refused.is_error and "too many refreshes" in refused.content[0].text
    assert again.is_error and len(sandbox.token_requests) == asked


def test_the_token_file_is_private_even_if_it_was_not(tmp_path):
    path = tmp_path / "tokens" / "main.json"
    path.parent.mkdir(mode=0o755)
    path.write_text("{}")
    os.chmod(path, 0o644)
    write_private_file(path, b'{"access_token": "x"}')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["main.json"]  # no temporary file left behind
