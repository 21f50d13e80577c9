"""Shared fixtures: a fresh sandbox per test, configs that point at it, and MCP clients
over real transports."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import yaml
from mcp import Client, types

from tests.isolation import pytest_runtest_makereport, pytest_runtest_teardown  # noqa: F401
from tests.redis_server import RedisNotInstalled, RedisServer, redis_server
from zbmcp.audit.log import AuditLog, fold_calls
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.config import LoadedConfig
from zbmcp.core.config_parse import parse_config
from zbmcp.calls.runtime import Runtime, open_runtime
from zbmcp.sandbox import Sandbox, SandboxSettings
from zbmcp.calls.server import ZbmcpServer
from zbmcp.state import State, new_id
from zbmcp.state.local import LocalState
from zbmcp.state.redis import RedisState
from zbmcp.transports.http import HttpServer
from zbmcp.zoho.client import RetryPolicy

SANDBOX_URL = "http://sandbox.test"
ORG = "10234695"
OTHER_ORG = "10234696"
FOREIGN_ORG = "20987654"  # exists in the sandbox, but belongs to another Zoho user


def said_port(said: str, after: str = "") -> int:
    """The port a server started with `--port 0` listens on, from what it said: the first
    http://127.0.0.1:PORT after `after`. (A port picked free beforehand may be taken by a neighbour before
    the server binds it; a server binding port 0 and saying which it got cannot race.)"""
    found = re.search(re.escape(after) + r"http://127\.0\.0\.1:([1-9][0-9]*)", said)
    assert found, f"no {after}http://127.0.0.1:PORT in what it said:\n{said}"
    return int(found.group(1))


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(SandboxSettings())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def config_text(sandbox: Sandbox, agents: dict[str, Any], *, audit: dict[str, Any] | None = None,
                connection: dict[str, Any] | None = None, base_url: str = SANDBOX_URL,
                extra_connections: dict[str, dict[str, Any]] | None = None,
                http: dict[str, Any] | None = None, state: dict[str, Any] | None = None,
                operators: dict[str, Any] | None = None, console: dict[str, Any] | None = None,
                oauth: dict[str, Any] | None = None, hooks: dict[str, Any] | None = None) -> str:
    credentials = sandbox.credentials
    main: dict[str, Any] = {
        "region": "eu",
        "client_id": credentials.client_id,
        "client_secret": "${SANDBOX_CLIENT_SECRET}",
        "refresh_token": "${SANDBOX_REFRESH_TOKEN}",
        "api_base_url": f"{base_url}/books/v3",
        "accounts_url": base_url,
        "token_store": "memory",
    }
    for key, value in (connection or {}).items():
        if value is None:
            main.pop(key, None)  # None: leave the setting out, as a user's config would
        else:
            main[key] = value
    connections = {"main": main}
    for name, overrides in (extra_connections or {}).items():
        connections[name] = {**main, **overrides}  # another Zoho user on the same sandbox
    document: dict[str, Any] = {"connections": connections, "agents": agents}
    if audit:
        document["audit"] = audit
    if http:
        document["http"] = http
    if state:
        document["state"] = state
    if oauth:
        document["oauth"] = oauth
    if operators:
        document["operators"] = operators
    if console:
        document["console"] = console
    if hooks:
        document["hooks"] = hooks
    return yaml.safe_dump(document, sort_keys=False)


def environ(sandbox: Sandbox, home: Path) -> dict[str, str]:
    return {
        "SANDBOX_CLIENT_SECRET": sandbox.credentials.client_secret,
        "SANDBOX_REFRESH_TOKEN": sandbox.credentials.refresh_token,
        "ZBMCP_HOME": str(home),
    }


def assert_demo_listing(names: Iterable[str]) -> None:
    """What agent demo (every tool, the sandbox's two organizations) lists: every tool when they fit in its
    25,000 bytes of tool list, else some beside the meta tools that reach the rest (docs/context.md)."""
    listed, tools = set(names), set(load_manifests())
    meta = {"find_tools", "describe_tools", "call_tool"}
    assert listed == tools or (meta <= listed and listed - meta - {"enable_tools"} < tools), sorted(listed)


def ok(result: types.CallToolResult) -> dict[str, Any]:
    """A tool call's structured answer, failing the test with Zoho's or zbmcp's words if it was refused."""
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


def refused(result: types.CallToolResult) -> str:
    """The refusal's text, failing the test if the call went through."""
    assert result.is_error, result.content
    text = result.content[0].text
    assert isinstance(text, str)
    return text


def agent(tools: list[str], organizations: list[str] | None = None, **options: Any) -> dict[str, Any]:
    return {"connection": "main", "organizations": organizations or [ORG], "tools": tools, **options}


@pytest.fixture
def make_config(sandbox: Sandbox, home: Path, tmp_path: Path) -> Callable[..., LoadedConfig]:
    def make(agents: dict[str, Any], **kwargs: Any) -> LoadedConfig:
        path = tmp_path / "zbmcp.yaml"
        text = config_text(sandbox, agents, **kwargs)
        path.write_text(text)
        return parse_config(text, str(path), environ(sandbox, home))

    return make


class AuditCapture(AuditLog):
    """The real audit log, writing JSON lines into memory for the test to read back."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        super().__init__(None, self.buffer)

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Every record written: a call that sent a request has an intent record, then its outcome."""
        return [json.loads(line) for line in self.buffer.getvalue().splitlines() if line.strip()]

    @property
    def records(self) -> list[dict[str, Any]]:
        """One record per call, with its final state (as `zbmcp audit` shows them)."""
        return fold_calls(self.lines)


FAST_RETRIES = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


@contextlib.asynccontextmanager
async def running(loaded: LoadedConfig, sandbox: Sandbox, **options: Any) -> AsyncIterator[Runtime]:
    """A Runtime whose Zoho is the sandbox, over httpx2's ASGI transport (real HTTP semantics, no socket)."""
    options.setdefault("retry", FAST_RETRIES)
    options.setdefault("audit", AuditCapture())
    options.setdefault("transport", httpx2.ASGITransport(app=sandbox.app))
    async with open_runtime(loaded, **options) as runtime:
        yield runtime


@contextlib.asynccontextmanager
async def serving(runtime: Runtime, **options: Any) -> AsyncIterator[HttpServer]:
    """zbmcp's HTTP server on 127.0.0.1 and a free port, in this event loop; stopped gracefully, promptly."""
    server = HttpServer(runtime, host="127.0.0.1", **{"port": 0, **options})
    with anyio.fail_after(None) as deadline:
        async with anyio.create_task_group() as tg:
            with anyio.fail_after(10):
                await tg.start(server.serve)
            try:
                yield server
            finally:
                server.stop()
                deadline.deadline = anyio.current_time() + 10


@contextlib.asynccontextmanager
async def mcp_client(runtime: Runtime, agent_name: str, **client_options: Any) -> AsyncIterator[Client]:
    """The SDK's own MCP client, in memory, against the server as an agent sees it over stdio."""
    client_options.setdefault("raise_exceptions", True)
    async with Client(ZbmcpServer(runtime, agent=agent_name).server, **client_options) as client:
        yield client


# -- the shared state (zbmcp.state): both backends, Redis for real -------------------------------------------


@contextlib.contextmanager
def own_redis_server(directory: Path, **options: Any) -> Iterator[RedisServer]:
    """A redis-server of the caller's own (options: password, tls); the test is skipped without one."""
    try:
        with redis_server(directory, **options) as server:
            yield server
    except RedisNotInstalled as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for the whole run; tests keep apart by key prefix (see `state`)."""
    with own_redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and start again."""
    with own_redis_server(tmp_path / "redis") as server:
        yield server


@pytest.fixture(params=["local", "redis"])
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[State]:
    """A State of each backend, empty: run a test against both to show they behave the same."""
    if request.param == "local":
        opened: State = LocalState(tmp_path / "state")
    else:
        opened = RedisState(request.getfixturevalue("redis_url"), prefix=f"test-{new_id()[:12]}:")
    try:
        yield opened
    finally:
        await opened.aclose()


# .ci/run sets ZBMCP_NO_SKIPS=1: CI installs everything the tests need, so a skip there means something is
# missing. Allowed: Zoho's own OpenAPI files are not in the repository (tests/unit/test_manifests.py), and the
# docs' commands that need Zoho, a browser or a registry (tests/test_docs_commands.py says why of each).
SKIPS_ALLOWED_IN_CI = ("Zoho's OpenAPI files are not at", "a doc's command, not run offline:")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("ZBMCP_NO_SKIPS"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [report for report in (reporter.stats.get("skipped", []) if reporter else [])
               if not any(allowed in str(report.longrepr) for allowed in SKIPS_ALLOWED_IN_CI)]
    if skipped and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter.write_line(f"ZBMCP_NO_SKIPS: {len(skipped)} test(s) skipped, which CI must not do; "
                            "install what they need (the summary says why)", red=True)

