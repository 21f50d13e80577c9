"""A zbmcp that lets people sign in (its OAuth server on a real loopback port) in front of the sandbox (also on
a real port, with Zoho's sign-in page), a person's browser that follows redirects and fills forms, and the MCP
SDK's own OAuth client.

    async with connector(make_config, sandbox, agents) as zb:   # zb.url, zb.audit, zb.sandbox
        async with signed_in(zb, "alice@sandbox-trading.example") as client:
            await client.list_tools()
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.conftest import ORG, AuditCapture, free_port, running, serving
from zbmcp.config import LoadedConfig
from zbmcp.oauth_server.store import MemoryRecordStore, RecordStore
from zbmcp.runtime import Runtime
from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI
from zbmcp.sandbox.server import AsyncSandboxServer
from zbmcp.transports import HttpServer

ALICE = "alice@sandbox-trading.example"
SAM = "sam@sandbox-trading.example"
MALLORY = "mallory@outsider.example"
APP_REDIRECT = "http://127.0.0.1:9/callback"  # where the app (an MCP client) receives its code; never served


def person(tools: list[str], users: list[str], **options: Any) -> dict[str, Any]:
    """An agent that people sign in as."""
    return {"connection": "main", "organizations": [ORG], "tools": tools, "users": users, **options}


@dataclass
class Connector:
    url: str
    sandbox: Sandbox
    runtime: Runtime
    server: HttpServer
    audit: AuditCapture
    store: RecordStore

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.audit.records if r.get("kind") == "oauth" and (event is None or r["event"] == event)]

    def calls(self) -> list[dict[str, Any]]:
        return [r for r in self.audit.records if r.get("kind") != "oauth"]


@contextlib.asynccontextmanager
async def connector(make_config: Callable[..., LoadedConfig], sandbox: Sandbox, agents: dict[str, Any], *,
                    oauth: dict[str, Any] | None = None, port: int | None = None,
                    store: RecordStore | None = None) -> AsyncIterator[Connector]:
    sandbox.settings.sign_in = "form"
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    sandbox.register_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
                            [DEFAULT_REDIRECT_URI, f"{issuer}/oauth/zoho/callback"])
    store = store if store is not None else MemoryRecordStore()
    async with AsyncSandboxServer(sandbox) as zoho:
        loaded = make_config(agents, base_url=zoho.base_url, oauth={"issuer": issuer, **(oauth or {})})
        audit = AuditCapture()
        async with running(loaded, sandbox, transport=None, audit=audit) as runtime:
            async with serving(runtime, port=port, oauth_store=store) as server:
                yield Connector(server.url, sandbox, runtime, server, audit, store)


# -- a person's browser ---------------------------------------------------------------------------------------


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
    """Cookies, redirects followed one by one (so a test can stop at the app's redirect URI), forms filled in."""

    http: httpx2.AsyncClient = field(default_factory=lambda: httpx2.AsyncClient(follow_redirects=False,
                                                                                timeout=10))
    history: list[str] = field(default_factory=list)

    async def go(self, url: str, *, method: str = "GET", data: dict[str, str] | None = None) -> httpx2.Response:
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
    zoho = await browser.go(authorize_url)
    assert "Sign in to Zoho" in zoho.text, zoho.text[:500]
    consent = await browser.submit(zoho, email=email, password="sandbox", action="sign_in")
    if consent.status_code != 200 or 'action="/oauth/consent"' not in consent.text:
        return consent
    values = {"decision": decision}
    if agent is not None:
        values["agent"] = agent
    if not allow_writes:
        values["allow_writes"] = None  # type: ignore[assignment]
    return await browser.submit(consent, **values)


# -- the MCP SDK's OAuth client ---------------------------------------------------------------------------------


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

    def provider(self) -> OAuthClientProvider:
        metadata = OAuthClientMetadata(redirect_uris=[APP_REDIRECT], client_name="Test Desk",  # type: ignore[list-item]
                                       grant_types=["authorization_code", "refresh_token"],
                                       token_endpoint_auth_method="none")
        return OAuthClientProvider(self.url, metadata, self.storage, self._redirect, self._callback)

    async def _redirect(self, url: str) -> None:
        self.authorizations += 1
        answer = app_redirect(await sign_in_and_consent(self.browser, url, self.email,
                                                        allow_writes=self.allow_writes))
        self._result = AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

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
                async with Client(streamable_http_client(f"{zb.url}/mcp", http_client=http), mode=mode) as client:
                    client.sdk = sdk  # type: ignore[attr-defined]
                    yield client
    finally:
        await browser.aclose()


TOKEN = re.compile(r"zb(at|rt)_[A-Za-z0-9_-]{20,}")
