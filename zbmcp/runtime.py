"""Everything a running server holds, assembled once from the config: manifests, per-agent policies, the
Zoho connections with their tokens, the pacer and the audit log. The one place that owns the HTTP client."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from zbmcp.approvals import ApprovalTickets
from zbmcp.audit import AuditLog
from zbmcp.config import Agent, LoadedConfig
from zbmcp.inbox import ApprovalInbox
from zbmcp.manifest import ToolSpec, load_manifests
from zbmcp.policy import AgentPolicy, policies
from zbmcp.state import State, open_state
from zbmcp.zoho.client import USER_AGENT, RetryPolicy, ZohoClient, ZohoConnection
from zbmcp.zoho.limits import Pacer
from zbmcp.zoho.oauth import OAuthClient, TokenManager
from zbmcp.zoho.regions import data_center
from zbmcp.zoho.tokens import TokenStore, token_store

StoreFactory = Callable[[str, str], TokenStore]  # (connection name, configured kind) -> store


@dataclass
class Runtime:
    config: LoadedConfig
    specs: Mapping[str, ToolSpec]
    policies: Mapping[str, AgentPolicy]
    connections: Mapping[str, ZohoConnection]
    client: ZohoClient
    pacer: Pacer
    audit: AuditLog
    approvals: ApprovalTickets
    state: State  # what processes and replicas share (zbmcp.state)
    inbox: ApprovalInbox  # calls held for an operator's decision, in the shared state

    def agent(self, name: str) -> Agent:
        return self.config.config.agents[name]


def approval_key(loaded: LoadedConfig) -> bytes | None:
    secret = loaded.config.http.approval_secret
    return hashlib.sha256(secret.get_secret_value().encode()).digest() if secret else None


def token_managers(
    loaded: LoadedConfig,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    store_factory: StoreFactory | None = None,
) -> dict[str, TokenManager]:
    managers = {}
    for name, settings in loaded.config.connections.items():
        store = (store_factory or (lambda n, kind: token_store(kind, loaded.home, n)))(name, settings.token_store)
        client = OAuthClient(
            connection=name,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            accounts_url=settings.accounts_url or data_center(settings.region).accounts_url,
            refresh_token=settings.refresh_token.get_secret_value() if settings.refresh_token else None,
        )
        managers[name] = TokenManager(client, store, transport=transport, timeout=settings.timeout_seconds)
    return managers


@contextlib.asynccontextmanager
async def open_runtime(
    loaded: LoadedConfig,
    *,
    specs: Mapping[str, ToolSpec] | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    store_factory: StoreFactory | None = None,
    retry: RetryPolicy | None = None,
    audit: AuditLog | None = None,
    state: State | None = None,
    **client_options: Any,
) -> AsyncIterator[Runtime]:
    specs = specs if specs is not None else load_manifests()
    managers = token_managers(loaded, transport=transport, store_factory=store_factory)
    granted = {name: manager.granted_scopes for name, manager in managers.items()}
    agent_policies = policies(loaded, specs, granted)
    connections = {
        name: ZohoConnection(name, loaded.config.connections[name], manager) for name, manager in managers.items()
    }
    shared = state if state is not None else open_state(loaded.config.state, loaded.home)
    pacer = Pacer(shared)
    audit = audit or AuditLog(loaded.audit_path, sync=loaded.config.audit.sync)
    console = loaded.config.console
    inbox = ApprovalInbox(
        shared, audit, approval_seconds=console.approval_minutes * 60.0, hold_seconds=console.hold_seconds,
        webhook_url=console.webhook_url.get_secret_value() if console.webhook_url else None,
        public_url=console.public_url,
    )
    async with contextlib.AsyncExitStack() as stack:
        if state is None:
            stack.push_async_callback(shared.aclose)
        http = await stack.enter_async_context(
            httpx2.AsyncClient(transport=transport, follow_redirects=False, headers={"User-Agent": USER_AGENT}))
        client = ZohoClient(http, connections, pacer, retry=retry or RetryPolicy(), **client_options)
        yield Runtime(
            config=loaded,
            specs=specs,
            policies=agent_policies,
            connections=connections,
            client=client,
            pacer=pacer,
            audit=audit,
            approvals=ApprovalTickets(approval_key(loaded)),
            state=shared,
            inbox=inbox,
        )
