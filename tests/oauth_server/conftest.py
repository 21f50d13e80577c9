"""A zbmcp that lets people sign in (its OAuth server on a real loopback port) in front of the sandbox (also
on a real port, with Zoho's sign-in page), a person's browser that follows redirects and fills forms, and
the MCP SDK's own OAuth client.

    async with connector(make_config, sandbox, agents) as zb:   # zb.url, zb.audit, zb.sandbox
        async with signed_in(zb, "alice@sandbox-trading.example") as client:
            await client.list_tools()
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.conftest import ORG, AuditCapture, running, serving
from zbmcp.audit.log import fold_calls, read_records
from zbmcp.core.config import LoadedConfig
from zbmcp.listen import bind_listener
from zbmcp.state import State
from zbmcp.calls.runtime import Runtime
from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI
from zbmcp.sandbox.server import AsyncSandboxServer
from zbmcp.transports.http import HttpServer

ALICE = "alice@sandbox-trading.example"
SAM = "sam@sandbox-trading.example"
MALLORY = "mallory@outsider.example"
APP_REDIRECT = "http://127.0.0.1:9/callback"  # where the app (an MCP client) receives its code; never served


def person(tools: list[str], users: list[str], **options: Any) -> dict[str, Any]:
    """An agent that people sign in as."""
    return {"connection": "main", "organizations": [ORG], "tools": tools, "users": users, **options}


class FakeClock:
    """When tokens and codes expire, moved by the test (connector(clock=...))."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Connector:
    url: str
    sandbox: Sandbox
    runtime: Runtime
    server: HttpServer
    audit: AuditCapture | None  # None: the records go to the config's audit file

    @property
    def records(self) -> list[dict[str, Any]]:
        if self.audit is not None:
            return self.audit.records
        path = self.runtime.config.audit_path
        assert path is not None
        return fold_calls(read_records(path))

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        """The sign-in steps (audit events named oauth.<step>), each with its step as "step"."""
        found = [{**r, "step": r["event"].removeprefix("oauth.")} for r in self.records
                 if str(r.get("event", "")).startswith("oauth.")]
        return [r for r in found if event is None or r["step"] == event]

    def calls(self) -> list[dict[str, Any]]:
        return [r for r in self.records if "event" not in r]


@contextlib.asynccontextmanager
async def connector(make_config: Callable[..., LoadedConfig], sandbox: Sandbox, agents: dict[str, Any], *,
                    oauth: dict[str, Any] | None = None, listener: socket.socket | None = None,
                    state: State | None = None, clock: Callable[[], float] | None = None,
                    audit_file: str | None = None, state_config: dict[str, Any] | None = None,
                    **config: Any) -> AsyncIterator[Connector]:
    """`listener`: the test's own listening socket, for a zbmcp restarted on the same address (default: one
    on a free port, closed after); `state`: the shared State (default: the config's, files under the test's
    ZBMCP_HOME, which a second connector in the same test shares); `clock`: when tokens expire;
    `audit_file`: the real, chained audit log (default: records kept in memory); `state_config`: the
    config's `state:` section; `config`: more of make_config's options (connection=, ...)."""
    with contextlib.ExitStack() as stack:
        if listener is None:  # bound before the issuer names it (a port picked and bound later races)
            listener = stack.enter_context(bind_listener("127.0.0.1", 0))
        async with _connector(make_config, sandbox, agents, oauth, listener, state, clock, audit_file,
                              state_config, config) as zb:
            yield zb


@contextlib.asynccontextmanager
async def _connector(make_config: Callable[..., LoadedConfig], sandbox: Sandbox, agents: dict[str, Any],
                     oauth: dict[str, Any] | None, listener: socket.socket, state: State | None,
                     clock: Callable[[], float] | None, audit_file: str | None,
                     state_config: dict[str, Any] | None, config: dict[str, Any]) -> AsyncIterator[Connector]:
    sandbox.settings.sign_in = "form"
    issuer = f"http://127.0.0.1:{listener.getsockname()[1]}"
    sandbox.register_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
                            [DEFAULT_REDIRECT_URI, f"{issuer}/oauth/zoho/callback"])
    async with AsyncSandboxServer(sandbox) as zoho:
        loaded = make_config(agents, base_url=zoho.base_url, oauth={"issuer": issuer, **(oauth or {})},
                             audit={"path": audit_file} if audit_file else None, state=state_config, **config)
        audit = None if audit_file else AuditCapture()
        options: dict[str, Any] = {"state": state} if state is not None else {}
        async with running(loaded, sandbox, transport=None, audit=audit, **options) as runtime:
            # a duplicate: the server closes its socket when it stops, the test's listener stays bound
            async with serving(runtime, sock=listener.dup(), oauth_clock=clock) as server:
                yield Connector(server.url, sandbox, runtime, server, audit)


# -- a person's browser --------------------------------------------------------------------------------------


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "fields": {}, "choices": {}})
        elif tag == "input" and self.forms:
            form = self.forms[-1]
            kind = attributes.get("type", "text")
            name = attributes.get("name")
            if not name:
                return
            if kind in ("radio", "checkbox"):
                form["choices"].setdefault(name, []).append(attributes.get("value", "on"))
                if "checked" in attributes:
                    form["fields"][name] = attributes.get("value", "on")
            else:
                form["fields"][name] = attributes.get("value", "")


def form_of(page: httpx2.Response) -> dict[str, Any]:
    parser = _Forms()
    parser.feed(page.text)
    assert parser.forms, f"no form on the page (HTTP {page.status_code}): {page.text[:500]}"
    return parser.forms[0]


@dataclass
class Browser:
    """Cookies, redirects followed one by one (so a test can stop at the app's redirect
    URI), forms filled in."""

    http: httpx2.AsyncClient = field(default_factory=lambda: httpx2.AsyncClient(follow_redirects=False,
                                                                                timeout=10))
    history: list[str] = field(default_factory=list)

    async def go(self, url: str, *, method: str = "GET",
                 data: dict[str, str] | None = None) -> httpx2.Response:
        """Follow redirects until a page, or until the app's redirect URI (returned unvisited as a 302)."""
        response = await self.http.request(method, url, data=data)
        self.history.append(url)
        while response.status_code in (302, 303):
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(APP_REDIRECT):
                return response
            self.history.append(location)
            response = await self.http.get(location)
        return response

    async def submit(self, page: httpx2.Response, **values: str) -> httpx2.Response:
        form = form_of(page)
        fields = {**form["fields"], **values}
        fields = {key: value for key, value in fields.items() if value is not None}
        return await self.go(urljoin(str(page.url), form["action"]), method="POST", data=fields)

    async def aclose(self) -> None:
        await self.http.aclose()


def app_redirect(response: httpx2.Response) -> dict[str, str]:
    """The query the app receives at its redirect URI."""
    assert response.status_code == 302, f"HTTP {response.status_code}: {response.text[:500]}"
    location = response.headers["location"]
    assert location.startswith(APP_REDIRECT), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def sign_in_and_consent(browser: Browser, authorize_url: str, email: str, *, decision: str = "allow",
                              allow_writes: bool = True, agent: str | None = None) -> httpx2.Response:
    """The person's side: Zoho's sign-in page, then zbmcp's consent page. Returns the last response."""
    consent = await browser.go(authorize_url)
    if "Sign in to Zoho" in consent.text:  # else Zoho remembers this browser and signs it in at once
        consent = await browser.submit(consent, email=email, password="sandbox", action="sign_in")
    if consent.status_code != 200 or 'action="/oauth/consent"' not in consent.text:
        return consent
    values = {"decision": decision}
    if agent is not None:
        values["agent"] = agent
    if not allow_writes:
        values["allow_writes"] = None  # type: ignore[assignment]
    return await browser.submit(consent, **values)


# -- the MCP SDK's OAuth client ------------------------------------------------------------------------------


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@dataclass
class SdkClient:
    """The Python MCP SDK's OAuth client provider, with a person answering the browser part."""

    url: str
    email: str
    browser: Browser
    storage: MemoryStorage = field(default_factory=MemoryStorage)
    allow_writes: bool = True
    authorizations: int = 0
    _result: AuthorizationCodeResult | None = None

    def provider(self, client_metadata_url: str | None = None) -> OAuthClientProvider:
        metadata = OAuthClientMetadata(redirect_uris=[APP_REDIRECT], client_name="Test Desk",  # type: ignore[list-item]
                                       grant_types=["authorization_code", "refresh_token"],
                                       token_endpoint_auth_method="none")
        return OAuthClientProvider(self.url, metadata, self.storage, self._redirect, self._callback,
                                   client_metadata_url=client_metadata_url)

    async def _redirect(self, url: str) -> None:
        self.authorizations += 1
        answer = app_redirect(await sign_in_and_consent(self.browser, url, self.email,
                                                        allow_writes=self.allow_writes))
        self._result = AuthorizationCodeResult(code=answer["code"], state=answer.get("state"),
                                               iss=answer.get("iss"))

    async def _callback(self) -> AuthorizationCodeResult:
        assert self._result is not None
        return self._result


@contextlib.asynccontextmanager
async def signed_in(zb: Connector, email: str, *, allow_writes: bool = True, mode: str = "auto"
                    ) -> AsyncIterator[Client]:
    browser = Browser()
    sdk = SdkClient(zb.url, email, browser, allow_writes=allow_writes)
    try:
        with anyio.fail_after(30):
            async with httpx2.AsyncClient(auth=sdk.provider(), timeout=10) as http:
                async with Client(streamable_http_client(f"{zb.url}/mcp", http_client=http),
                                  mode=mode) as client:
                    client.sdk = sdk  # type: ignore[attr-defined]
                    yield client
    finally:
        await browser.aclose()


TOKEN = re.compile(r"zb(at|rt)_[A-Za-z0-9_-]{20,}")


# -- an OAuth client done by hand, to send what a well-behaved one never would -------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class RawClient:
    zb: Connector
    client_id: str
    client_secret: str | None = None
    verifier: str = ""
    challenge: str = ""

    def __post_init__(self) -> None:
        self.verifier, self.challenge = pkce()

    def authorize_url(self, **overrides: str | None) -> str:
        params: dict[str, str | None] = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": APP_REDIRECT,
            "code_challenge": self.challenge, "code_challenge_method": "S256", "state": "st-1",
            "scope": "books:read", "resource": self.zb.url}
        params.update(overrides)
        return f"{self.zb.url}/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})

    async def token(self, http: httpx2.AsyncClient, **fields: str | None) -> httpx2.Response:
        data: dict[str, str | None] = {"client_id": self.client_id, "client_secret": self.client_secret,
                                       **fields}
        return await http.post(f"{self.zb.url}/token", data={k: v for k, v in data.items() if v is not None})

    async def exchange(self, http: httpx2.AsyncClient, code: str, **overrides: str | None) -> httpx2.Response:
        fields: dict[str, str | None] = {"grant_type": "authorization_code", "code": code,
                                         "redirect_uri": APP_REDIRECT, "code_verifier": self.verifier,
                                         "resource": self.zb.url}
        fields.update(overrides)
        return await self.token(http, **fields)

    async def refresh(self, http: httpx2.AsyncClient, refresh_token: str,
                      **overrides: str | None) -> httpx2.Response:
        return await self.token(http, grant_type="refresh_token", refresh_token=refresh_token, **overrides)


async def register(zb: Connector, http: httpx2.AsyncClient, **metadata: Any) -> RawClient:
    body = {"redirect_uris": [APP_REDIRECT], "client_name": "Raw Client",
            "grant_types": ["authorization_code", "refresh_token"], **metadata}
    answer = await http.post(f"{zb.url}/register", json=body)
    assert answer.status_code == 201, answer.text
    registered = answer.json()
    return RawClient(zb, registered["client_id"], registered.get("client_secret"))


async def grant(client: RawClient, email: str = ALICE, **authorize: str | None) -> dict[str, str]:
    """A person signs in and allows: the query the app's redirect URI receives."""
    browser = Browser()
    try:
        return app_redirect(await sign_in_and_consent(browser, client.authorize_url(**authorize), email))
    finally:
        await browser.aclose()


async def tokens(client: RawClient, http: httpx2.AsyncClient, email: str = ALICE, **authorize: str | None
                 ) -> dict[str, Any]:
    answer = await client.exchange(http, (await grant(client, email, **authorize))["code"])
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "MCP-Protocol-Version": "2025-11-25"}


async def mcp_call(zb: Connector, http: httpx2.AsyncClient, token: str | None, method: str = "tools/list",
                   params: dict[str, Any] | None = None) -> httpx2.Response:
    """One JSON-RPC request to /mcp, as a stateless 2025-11-25 client would send it."""
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    return await http.post(f"{zb.url}/mcp", json=body, headers=headers)


def rpc_result(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC answer in a /mcp response, whether sent as JSON or as one server-sent event."""
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:300]}"
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    message: dict[str, Any] = json.loads(text)
    return message
