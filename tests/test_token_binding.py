"""Issue #22.3: a cached Zoho token belongs to the accounts server and the client it came from. A config that
now names others gets neither its access token nor its refresh token sent anywhere, and `zbmcp doctor` and
the tools say exactly that, on both token stores (the 0600 file, and the State encrypted in Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import AuditCapture, agent, config_text, environ, mcp_client
from tests.test_shared_state import STATE_KEY
from zbmcp.calls.runtime import open_runtime, token_session
from zbmcp.cli.doctor import doctor
from zbmcp.cli.login import exchange, revoke
from zbmcp.errors import AuthError
from zbmcp.core.config import LoadedConfig
from zbmcp.core.config_parse import parse_config
from zbmcp.sandbox import Sandbox, SandboxSettings
from zbmcp.sandbox.server import AsyncSandboxServer
from zbmcp.state import new_id

OTHER_CLIENT = "1000.OTHERCLIENT"
OTHER_SECRET = "other-client-secret-7c1e"


@pytest.fixture(params=["file", "redis"])
def stores(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where the token is cached: the connection's 0600 file, or the State (Redis), encrypted."""
    if request.param == "file":
        return {"connection": {"token_store": "file", "refresh_token": None}}
    return {"connection": {"token_store": None, "refresh_token": None},
            "state": {"backend": "redis", "url": request.getfixturevalue("redis_url"),
                      "key_prefix": f"t-{new_id()[:10]}:", "encryption_key": STATE_KEY}}


def config_at(sandbox: Sandbox, base_url: str, home: Path, stores: dict[str, Any],
              **connection: Any) -> LoadedConfig:
    options = {**stores, "connection": {**stores["connection"], **connection}}
    text = config_text(sandbox, {"a": agent(["list_invoices", "list_organizations"])}, base_url=base_url,
                       **options)
    path = home.parent / "zbmcp.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    env = {**environ(sandbox, home), "OTHER_SECRET": OTHER_SECRET}
    return parse_config(text, str(path), env)


async def logged_in_at(sandbox: Sandbox, loaded: LoadedConfig, base_url: str) -> None:
    code = sandbox.mint_grant_code(["ZohoBooks.invoices.READ", "ZohoBooks.settings.READ"])
    async with token_session(loaded) as managers:
        await exchange(managers["main"], code, base_url)


async def checked(loaded: LoadedConfig) -> tuple[bool, list[str], Any]:
    """What `zbmcp doctor` says, and what an agent's tool call answers, on that config."""
    async with open_runtime(loaded, audit=AuditCapture()) as runtime:
        healthy, lines = await doctor(loaded, runtime)
        async with mcp_client(runtime, "a") as client:
            called = await client.call_tool("list_invoices", {})
    return healthy, lines, called


async def test_a_token_from_one_accounts_server_is_never_sent_to_another(stores, home):
    first, second = Sandbox(SandboxSettings()), Sandbox(SandboxSettings())
    with anyio.fail_after(30):
        async with AsyncSandboxServer(first) as a, AsyncSandboxServer(second) as b:
            await logged_in_at(first, config_at(first, a.base_url, home, stores), a.base_url)
            healthy, lines, called = await checked(config_at(second, b.base_url, home, stores))
            still, _, _ = await checked(config_at(first, a.base_url, home, stores))
    assert second.api_requests == [] and second.token_requests == []  # B received nothing at all
    assert not healthy and called.is_error
    said = (f"the stored Zoho token was issued by accounts server {a.base_url} (the config names "
            f"{b.base_url}), so zbmcp sends neither its access token nor its refresh token")
    assert [line for line in lines if said in line and line.startswith("FAIL connection 'main'")], lines
    assert said in called.content[0].text and "zbmcp auth login --connection main" in called.content[0].text
    assert not any("scope" in line for line in lines if line.startswith("FAIL")), lines
    assert still  # pointed back at A, the same token works again: nothing was deleted


async def test_a_token_issued_to_one_client_is_not_used_by_another(stores, home):
    sandbox = Sandbox(SandboxSettings())
    sandbox.register_client(OTHER_CLIENT, OTHER_SECRET, [])
    with anyio.fail_after(30):
        async with AsyncSandboxServer(sandbox) as server:
            await logged_in_at(sandbox, config_at(sandbox, server.base_url, home, stores), server.base_url)
            sent = len(sandbox.api_requests)
            healthy, lines, called = await checked(config_at(
                sandbox, server.base_url, home, stores, client_id=OTHER_CLIENT,
                client_secret="${OTHER_SECRET}"))
    assert [t.grant_type for t in sandbox.token_requests] == ["authorization_code"]  # no refresh
    assert sandbox.api_requests[sent:] == []  # nor the access token
    said = (f"the stored Zoho token was issued to client {sandbox.credentials.client_id} (the config names "
            f"{OTHER_CLIENT})")
    assert not healthy and [line for line in lines if said in line], lines
    assert called.is_error and said in called.content[0].text


async def test_logging_out_does_not_send_or_drop_a_token_from_elsewhere(stores, home):
    first, second = Sandbox(SandboxSettings()), Sandbox(SandboxSettings())
    with anyio.fail_after(30):
        async with AsyncSandboxServer(first) as a, AsyncSandboxServer(second) as b:
            await logged_in_at(first, config_at(first, a.base_url, home, stores), a.base_url)
            async with token_session(config_at(second, b.base_url, home, stores)) as managers:
                with pytest.raises(AuthError) as refused:
                    await revoke(managers["main"])
            healthy, _, _ = await checked(config_at(first, a.base_url, home, stores))
    assert "neither revokes nor deletes it" in str(refused.value)
    assert second.token_requests == [] and [t.grant_type for t in first.token_requests] == [
        "authorization_code"]
    assert healthy  # still there, still A's: pointed back at A, zbmcp works and can log out of it
