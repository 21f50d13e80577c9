"""Sandbox: one emulated Zoho (Books API + Accounts) with its state, settings, records and faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette

from zbmcp.sandbox import scopes as scope_rules
from zbmcp.sandbox import seed
from zbmcp.sandbox.app import build_app
from zbmcp.sandbox.defaults import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
    DEFAULT_REFRESH_TOKEN,
)
from zbmcp.sandbox.faults import Faults
from zbmcp.sandbox.generic import seed as generic_seed
from zbmcp.sandbox.limits import Limiter
from zbmcp.sandbox.records import ApiRequest, OutboxEmail, TokenRequest
from zbmcp.sandbox.rules.base import Env
from zbmcp.sandbox.settings import SandboxSettings
from zbmcp.sandbox.store import IdGenerator, OrgStore
from zbmcp.sandbox.tokens import TokenRegistry
from zbmcp.sandbox.users import Directory
from zbmcp.sandbox.view import StoreView
from zbmcp.sandbox.workflows import Workflows


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    refresh_token: str  # scope ZohoBooks.fullaccess.all, for the default user
    organization_ids: list[str]
    redirect_uri: str
    scope: str = scope_rules.FULL_ACCESS


class Sandbox:
    """Fresh, seeded state per instance. `clock` (seconds since the epoch) drives token expiry, limits and
    dates; `bulk_invoices` adds that many invoices, with their customers, payments, bills and expenses, to the
    default organization (zbmcp/sandbox/volume.py)."""

    def __init__(self, settings: SandboxSettings | None = None, *, clock: Callable[[], float] = time.time,
                 bulk_invoices: int = 0) -> None:
        self._settings = settings if settings is not None else SandboxSettings()
        self.clock = clock
        # A test thread may mint tokens or read the store while a SandboxServer thread serves requests.
        self.lock = threading.RLock()
        self.api_requests: list[ApiRequest] = []
        self.token_requests: list[TokenRequest] = []
        self.outbox: list[OutboxEmail] = []
        self.faults = Faults()
        self.tokens = TokenRegistry(self._settings, clock)
        self.limiter = Limiter(self._settings, clock)
        self.default_user_id = seed.DEFAULT_USER_ID
        self.users = Directory()
        self.webhooks = Workflows(self)  # workflow rules' webhook actions, fired on the sandbox's own events
        # Seeding goes through the business rules with default settings, whatever this sandbox's are.
        self._stores = seed.build(IdGenerator(), lambda: Env(SandboxSettings(), [], clock), clock,
                                  bulk_invoices)
        generic_seed.populate(self._stores, self.users)
        self.tokens.register_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, [DEFAULT_REDIRECT_URI])
        self.tokens.mint_refresh_token(DEFAULT_CLIENT_ID, self.default_user_id, [scope_rules.FULL_ACCESS],
                                       token=DEFAULT_REFRESH_TOKEN)
        self.credentials = Credentials(
            client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET,
            refresh_token=DEFAULT_REFRESH_TOKEN,
            organization_ids=self.organization_ids_of(self.default_user_id),
            redirect_uri=DEFAULT_REDIRECT_URI,
        )
        self.app: Starlette = build_app(self)

    @property
    def settings(self) -> SandboxSettings:
        return self._settings

    @settings.setter
    def settings(self, new: SandboxSettings) -> None:
        # Copy into the live object: the token registry and the limiter hold it.
        for name in SandboxSettings.model_fields:
            setattr(self._settings, name, getattr(new, name))

    def organization_ids_of(self, user_id: str) -> list[str]:
        member_of = self.users.memberships(user_id)
        return [org_id for org_id, store in self._stores.items()
                if store.organization.owner_user_id == user_id or org_id in member_of]

    def org_store(self, organization_id: str) -> OrgStore:
        """The live store (for the sandbox's own code); tests should use store()."""
        return self._stores[organization_id]

    def store(self, organization_id: str) -> StoreView:
        """Read access to one organization's records, shaped as the API shows them."""
        return StoreView(self._stores[organization_id], self.lock)

    def register_client(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> None:
        with self.lock:
            self.tokens.register_client(client_id, client_secret, redirect_uris)

    def mint_refresh_token(self, scopes: list[str], *, user_id: str | None = None,
                           client_id: str | None = None) -> str:
        """A refresh token as if the user had consented to `scopes` (for the default client unless named)."""
        _check(scopes)
        with self.lock:
            return self.tokens.mint_refresh_token(client_id or DEFAULT_CLIENT_ID,
                                                  user_id or self.default_user_id, scopes)

    def mint_access_token(self, scopes: list[str], lifetime_seconds: float | None = None, *,
                          user_id: str | None = None) -> str:
        _check(scopes)
        with self.lock:
            return self.tokens.mint_access_token(user_id or self.default_user_id, scopes, lifetime_seconds)

    def mint_grant_code(self, scopes: list[str], *, redirect_uri: str | None = None, offline: bool = True,
                        lifetime_seconds: float | None = None) -> str:
        """A self-client grant code (§8.7): exchangeable by any registered client, redirect_uri optional."""
        _check(scopes)
        with self.lock:
            return self.tokens.grant(None, self.default_user_id, scopes, redirect_uri, offline=offline,
                                     lifetime=lifetime_seconds)

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.tokens.expire_all()


def _check(requested: list[str]) -> None:
    bad = scope_rules.invalid(requested)
    if not requested or bad:
        raise ValueError(f"not Zoho Books scopes: {bad or requested}")
