"""Everything a running server holds, assembled once from the config: manifests, per-agent policies, the
Zoho connections with their tokens, the pacer and the audit log. The one place that owns the HTTP client."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from zbmcp.calls.approvals import ApprovalTickets
from zbmcp.audit.log import AuditLog
from zbmcp.core.config import PER_USER, Agent, Connection, LoadedConfig, sign_in_connection
from zbmcp.errors import PolicyDenied
from zbmcp.calls.inbox import ApprovalInbox
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.found import Organization
from zbmcp.core.manifest import ToolSpec
from zbmcp.zoho.personal import PersonalConnections
from zbmcp.core.policy import AgentPolicy, policies
from zbmcp.state import State, StateUnavailable, open_state
from zbmcp.state.tokens import EncryptedVault, StoreVault, TokenCipher, TokenVault, derive_key
from zbmcp.zoho.client import USER_AGENT, HttpOnFirstUse, RetryPolicy, ZohoClient, ZohoConnection
from zbmcp.zoho.limits import Pacer
from zbmcp.zoho.accounts import OAuthClient
from zbmcp.zoho.token_manager import TokenManager
from zbmcp.core.regions import data_center
from zbmcp.state.tokens import TokenStore
from zbmcp.zoho.tokens import token_store

log = logging.getLogger(__name__)

StoreFactory = Callable[[str, str], TokenStore]  # (connection name, configured kind) -> store
HEALTH_TIMEOUT_SECONDS = 2.0


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
    personal: PersonalConnections | None = None  # people's own Zoho tokens, for `connection: per_user` agents
    # organization id -> (its currency and decimal places, read by zbmcp.calls.lookups; until when)
    remembered_organizations: dict[str, tuple[Organization, float]] = field(default_factory=dict)
    clock: Callable[[], float] = time.time  # dates an undated create, in the organization's time zone

    def agent(self, name: str) -> Agent:
        return self.config.config.agents[name]

    def connection_of(self, agent: str) -> ZohoConnection:
        """Whose settings (region, API host, limits) the agent's calls use; for a per_user agent, the sign-in
        connection's."""
        name = self.agent(agent).connection
        if name == PER_USER:
            name = sign_in_connection(self.config.config) or name
        return self.connections[name]

    def calling_connection(self, agent: str, person: tuple[str, str] | None) -> ZohoConnection:
        """The connection a call goes out on: the agent's, or the signed-in person's own (user id, email)."""
        if self.agent(agent).connection != PER_USER:
            return self.connection_of(agent)
        if person is None or self.personal is None:
            raise PolicyDenied(
                f"Agent {agent!r} calls Zoho with each person's own token, so it is reachable only by people "
                "who signed in through zbmcp's OAuth server (a remote connector), not over stdio or with an "
                "API key. Nothing was sent to Zoho.", rule="per_user needs a signed-in person")
        user_id, email = person
        return self.personal.connection(user_id, email)

    async def healthy(self) -> bool:
        """Whether calls can be served: the State answers (the reason is logged, not told to the prober)."""
        with anyio.move_on_after(HEALTH_TIMEOUT_SECONDS):
            try:
                await self.state.ping()
                return True
            except StateUnavailable as exc:
                log.warning("health: %s", exc)
                return False
        log.warning("health: the State did not answer within %g s", HEALTH_TIMEOUT_SECONDS)
        return False


async def approval_key(loaded: LoadedConfig, state: State) -> bytes:
    """The key that signs approval tickets, the same for every process and replica sharing the config and
    State: http.approval_secret; else one derived from state.encryption_key (so nothing in Redis can forge a
    ticket); else a random key kept in the local State (0600 files, like the tokens)."""
    secret = loaded.config.http.approval_secret
    if secret is not None:
        return hashlib.sha256(secret.get_secret_value().encode()).digest()
    if loaded.config.state.encryption_key is not None:
        return derive_key(loaded.config.state.encryption_key.get_secret_value(), "approval tickets")
    try:
        await state.put_if_absent("keys", "approval-tickets", secrets.token_bytes(32), ttl=None)
        stored = await state.get("keys", "approval-tickets")
    except StateUnavailable as exc:
        log.warning("approval tickets: no shared key (%s); tickets are honoured by this process only", exc)
        return secrets.token_bytes(32)
    return stored if isinstance(stored, bytes) and len(stored) == 32 else secrets.token_bytes(32)


def token_store_kind(loaded: LoadedConfig, connection: Connection) -> str:
    """The configured token_store; unset, a fleet on Redis keeps tokens in the State, where every replica sees
    the one refreshed token (a file per replica would make each refresh its own)."""
    if "token_store" not in connection.model_fields_set and loaded.config.state.backend == "redis":
        return "state"
    return connection.token_store


def token_vault(loaded: LoadedConfig, name: str, settings: Connection, *, state: State | None,
                store_factory: StoreFactory | None) -> TokenVault:
    """Where the tokens called `name` live, as the connection's token_store says: its own vault per
    connection, and per person for `connection: per_user` ("main.person.<Zoho user id>")."""
    kind = token_store_kind(loaded, settings)
    if kind == "state":
        key = loaded.config.state.encryption_key
        if state is None:
            raise ValueError("token_store state needs the State: pass state=")
        if key is None:
            connection = name.split(".person.")[0]
            raise loaded.source.error(
                f"connections.{connection}.token_store: state keeps tokens encrypted in the State, which "
                "needs state.encryption_key (at least 32 random characters, e.g. ${ZBMCP_STATE_KEY})",
                ("connections", connection, "token_store"))
        return EncryptedVault(state, name, TokenCipher(key.get_secret_value()))
    return StoreVault((store_factory or (lambda n, k: token_store(k, loaded.home, n)))(name, kind))


def person_vaults(loaded: LoadedConfig, connection: str, state: State,
                  store_factory: StoreFactory | None) -> Callable[[str], TokenVault]:
    """Each signed-in person's vault (by Zoho user id), kept as the sign-in connection keeps its own."""
    settings = loaded.config.connections[connection]
    return lambda user_id: token_vault(loaded, f"{connection}.person.{user_id}", settings, state=state,
                                       store_factory=store_factory)


def token_managers(
    loaded: LoadedConfig,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    store_factory: StoreFactory | None = None,
    state: State | None = None,
) -> dict[str, TokenManager]:
    """One TokenManager per connection. With `state`, refreshes are one at a time across every process and
    replica sharing it; without, only within this process (and token_store: state is unavailable)."""
    managers = {}
    for name, settings in loaded.config.connections.items():
        vault = token_vault(loaded, name, settings, state=state, store_factory=store_factory)
        client = OAuthClient(
            connection=name,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            accounts_url=settings.accounts_url or data_center(settings.region).accounts_url,
            refresh_token=settings.refresh_token.get_secret_value() if settings.refresh_token else None,
        )
        managers[name] = TokenManager(client, vault, state=state, transport=transport,
                                      timeout=settings.timeout_seconds)
    return managers


async def load_tokens(managers: Mapping[str, TokenManager]) -> None:
    """Read the stored tokens (their scopes decide which tools are listed). A State that cannot be reached now
    only leaves the scopes unknown: the server starts, and calls say what is wrong."""
    for name, manager in managers.items():
        try:
            await manager.load()
        except StateUnavailable as exc:
            log.warning("connection %s: the stored token could not be read yet: %s", name, exc)


@contextlib.asynccontextmanager
async def token_session(loaded: LoadedConfig, **options: Any) -> AsyncIterator[dict[str, TokenManager]]:
    """The connections' TokenManagers with their tokens loaded, on a State opened for the occasion (the CLI's
    auth commands)."""
    state = open_state(loaded.config.state, loaded.home)
    try:
        managers = token_managers(loaded, state=state, **options)
        await load_tokens(managers)
        yield managers
    finally:
        await state.aclose()


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
    clock: Callable[[], float] = time.time,
    **client_options: Any,
) -> AsyncIterator[Runtime]:
    specs = specs if specs is not None else load_manifests()
    shared = state if state is not None else open_state(loaded.config.state, loaded.home)
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
        managers = token_managers(loaded, transport=transport, store_factory=store_factory, state=shared)
        await load_tokens(managers)
        granted = {name: manager.granted_scopes for name, manager in managers.items()}
        agent_policies = policies(loaded, specs, granted)
        connections = {
            name: ZohoConnection(name, loaded.config.connections[name], manager)
            for name, manager in managers.items()
        }
        signing_in = sign_in_connection(loaded.config)
        personal = PersonalConnections(
            connections[signing_in], person_vaults(loaded, signing_in, shared, store_factory), shared,
        ) if signing_in else None
        pacer = Pacer(shared)
        http = HttpOnFirstUse(transport=transport, follow_redirects=False, headers={"User-Agent": USER_AGENT})
        stack.push_async_callback(http.aclose)
        client = ZohoClient(http, connections, pacer, retry=retry or RetryPolicy(), **client_options)
        yield Runtime(
            config=loaded,
            specs=specs,
            policies=agent_policies,
            connections=connections,
            client=client,
            pacer=pacer,
            audit=audit,
            approvals=ApprovalTickets(await approval_key(loaded, shared), shared),
            personal=personal,
            state=shared,
            inbox=inbox,
            clock=clock,
        )
