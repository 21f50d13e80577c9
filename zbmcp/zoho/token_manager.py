"""The token broker: one connection's access token, refreshed at the accounts server once per expiry.

Zoho's rules shape this module (../shared/zoho-books-api.md §8): access tokens last an hour; one refresh token
may mint only about ten access tokens per ten minutes and keep only a few alive; refresh answers carry no new
refresh token; errors come back as HTTP 200 with an "error" key. So a token is reused until shortly before it
expires (across restarts, via the token store), refreshed by exactly one task however many calls are waiting,
and a refused refresh makes zbmcp back off instead of hammering the accounts server.

"Exactly one task" holds across processes and replicas too: the refresh happens under a lock in the State
(zbmcp.state), and whoever waited for it reads the token the refresher stored (in the token vault: the 0600
file on one machine, the State encrypted for a fleet) instead of minting another. A refusal is shared the same
way, so the back-off holds for every replica.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx2

from zbmcp.errors import AuthError
from zbmcp.state import LockTimeout, State
from zbmcp.state.tokens import TokenVault
from zbmcp.core.regions import KNOWN_ACCOUNTS_SERVERS
from zbmcp.zoho.accounts import OAuthClient, TokenRefused, refresh_access_token

log = logging.getLogger(__name__)

MAX_LEEWAY_SECONDS = 300.0
BACKOFF_START_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 600.0  # Zoho's refresh window is ten minutes
# The refresh lock lasts this long unless its holder renews it (it does, every third of it, while it
# refreshes): a refresher that dies holds up the other replicas' refreshes for at most this. Waiters wait up
# to the refresh's own timeout plus this margin.
LOCK_TTL_SECONDS = 5.0
LOCK_MARGIN_SECONDS = 10.0
REFUSALS = "zoho-token-refusals"  # State namespace: a refusal, shared until its back-off ends


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class TokenManager:
    """Owns one connection's current access token; refreshes it at most once per expiry, across tasks."""

    def __init__(
        self,
        client: OAuthClient,
        vault: TokenVault,
        *,
        state: State | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self._vault = vault
        self._state = state  # shares the refresh lock and refusals; None: this process alone
        self._transport = transport
        self._timeout = timeout
        self._clock = clock
        self._lock = anyio.Lock()
        self._token: dict[str, Any] = {}
        self._loaded = False
        self._blocked_until = 0.0
        self._block_error: AuthError | None = None
        self._backoff = BACKOFF_START_SECONDS
        self._foreign: str | None = None  # why the stored token is not this config's to use, if it is not
        self.refreshes = 0

    # -- what callers read ---------------------------------------------------------------------------

    @property
    def api_domain(self) -> str | None:
        return self._token.get("api_domain")

    @property
    def transport(self) -> httpx2.AsyncBaseTransport | None:
        return self._transport

    @property
    def accounts_server(self) -> str | None:
        return self._token.get("accounts_server")

    @property
    def granted_scopes(self) -> list[str] | None:
        scope = self._token.get("scope")
        return [s for s in scope.replace(" ", ",").split(",") if s] if scope else None

    @property
    def foreign(self) -> str | None:
        """Why the stored token is not the configured accounts server's and client's, if it is not (once
        loaded)."""
        return self._foreign

    def seconds_left(self) -> float | None:
        expires_at = self._token.get("expires_at")
        return None if expires_at is None else expires_at - self._clock()

    async def load(self) -> None:
        """Read the stored token, once (the first call does it otherwise)."""
        if not self._loaded:
            self._token = await self._usable_stored_token() or {}
            self._loaded = True
            if self._foreign:
                log.warning("%s", self._foreign)

    async def access_token(self) -> str:
        if self._fresh(self._token):  # fast path: no lock
            return str(self._token["access_token"])
        async with self._lock:
            await self.load()
            if not self._fresh(self._token):  # someone else may have refreshed while we waited
                await self._refresh_shared()
            return str(self._token["access_token"])

    async def invalidate(self, rejected_access_token: str) -> None:
        """Zoho said 401 to this token: refresh, unless another task already did."""
        async with self._lock:
            if self._token.get("access_token") == rejected_access_token:
                await self._refresh_shared()

    # -- refreshing ----------------------------------------------------------------------------------

    async def _refresh_shared(self) -> None:
        """One refresh of this connection at a time across every process and replica sharing the State."""
        if self._state is None:
            await self._refresh_locked()
            return
        name = self.client.connection
        wait = self._timeout + LOCK_MARGIN_SECONDS
        try:
            async with self._state.lock(f"zoho-token-refresh:{name}", ttl=LOCK_TTL_SECONDS, wait=wait):
                await self._refresh_locked()
        except LockTimeout:
            raise AuthError(
                f"Connection {name!r}: another zbmcp process has been refreshing the Zoho access token for "
                f"over {wait:g} s. Nothing was sent to Zoho; retry in a moment."
            ) from None

    async def _refresh_locked(self) -> None:
        stored = await self._usable_stored_token()
        current = self._token.get("access_token")
        if stored and self._fresh(stored) and stored.get("access_token") != current:
            self._token = stored  # another process refreshed and saved it: use theirs, mint nothing
            return
        now = self._clock()
        if now < self._blocked_until and self._block_error is not None:
            raise self._block_error
        if self._state is not None:
            shared = await self._state.get(REFUSALS, self.client.connection)
            if isinstance(shared, dict) and isinstance(shared.get("message"), str):
                # another replica was refused moments ago: do not ask again
                raise AuthError(shared["message"])
        refresh_token = await self._refresh_token()
        server = self._token.get("accounts_server") or self.client.accounts_url
        # Shielded: a cancelled tool call must not waste a token Zoho has already minted.
        with anyio.CancelScope(shield=True):
            try:
                token = await refresh_access_token(self.client, server, refresh_token,
                                                   transport=self._transport, timeout=self._timeout)
            except TokenRefused as exc:
                raise await self._share(self._refused(exc.error, exc.description)) from None
            except httpx2.HTTPError as exc:
                raise await self._share(self._refused("unreachable", f"{type(exc).__name__}")) from None
            self.refreshes += 1
            self._backoff = BACKOFF_START_SECONDS
            self._blocked_until = 0.0
            self._block_error = None
            await self._set(dict(token), accounts_server=server, refresh_token=refresh_token)

    def _refused(self, error: str, description: str) -> AuthError:
        name = self.client.connection
        if error == "Access Denied":
            what = (
                "Zoho refused to mint another access token: too many refreshes in a short time "
                f"(Zoho allows about ten per ten minutes). zbmcp will wait {int(self._backoff)} s before "
                "asking again."
            )
        elif error in ("invalid_code", "invalid_token"):
            what = (
                "Zoho refused the refresh token (invalid_code): it was revoked, expired, or belongs to "
                f"another client. Run `zbmcp auth login --connection {name}` (or update refresh_token in the "
                "config)."
            )
        elif error == "invalid_client":
            what = (f"Zoho does not recognise the client id/secret of connection {name!r}; check them in the "
                    "config.")
        elif error == "unreachable":
            what = (f"could not reach the Zoho accounts server ({description}); check the network and "
                    "accounts_url.")
        else:
            what = f"Zoho refused to refresh the token ({error}{': ' + description if description else ''})."
        failure = AuthError(f"Connection {name!r}: {what}")
        self._blocked_until = self._clock() + self._backoff
        self._block_error = failure
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_SECONDS)
        log.warning("connection %s: token refresh refused (%s)", name, error)
        return failure

    async def _share(self, failure: AuthError) -> AuthError:
        """Every replica backs off, not only the one that asked."""
        if self._state is not None:
            seconds = self._blocked_until - self._clock()
            if seconds > 0:
                await self._state.put(REFUSALS, self.client.connection, {"message": str(failure)},
                                      ttl=seconds)
        return failure

    async def _refresh_token(self) -> str:
        token = self.client.refresh_token or self._token.get("refresh_token")
        if not token:
            stored = await self._usable_stored_token() or {}
            token = stored.get("refresh_token")
        if not token and self._foreign:
            raise AuthError(self._foreign)
        if not token:
            name = self.client.connection
            raise AuthError(
                f"Connection {name!r} has no Zoho refresh token. Run `zbmcp auth login --connection {name}`, "
                "or set refresh_token in the config."
            )
        return str(token)

    def _fresh(self, token: dict[str, Any]) -> bool:
        return bool(token.get("access_token")) and self._clock() < float(token.get("refresh_at", 0))

    async def _set(self, token: dict[str, Any], *, accounts_server: str, refresh_token: str) -> None:
        """Keep and persist a token answer (Zoho's fields; our own keys are added back)."""
        now = self._clock()
        expires_in = float(token.get("expires_in") or 3600)
        leeway = min(MAX_LEEWAY_SECONDS, expires_in * 0.1)
        record: dict[str, Any] = {
            "access_token": token["access_token"],
            "expires_at": now + expires_in,
            "refresh_at": now + expires_in - leeway,
            "api_domain": token.get("api_domain") or self._token.get("api_domain"),
            "accounts_server": accounts_server,
            "scope": token.get("scope") or self._token.get("scope"),
            "refresh_token_fingerprint": fingerprint(refresh_token),
            "client_id": self.client.client_id,
        }
        # A refresh token the user keeps in the config (or its ${ENV}) is not copied to disk.
        if self.client.refresh_token is None:
            record["refresh_token"] = refresh_token
        for key in ("region", "location"):
            if key in self._token:
                record[key] = self._token[key]
        self._token = record
        await self._vault.save(record)

    async def _usable_stored_token(self) -> dict[str, Any] | None:
        stored = await self._vault.load()
        self._foreign = None
        if not stored:
            return None
        configured = self.client.refresh_token
        if configured and stored.get("refresh_token_fingerprint") != fingerprint(configured):
            return None  # saved for a different refresh token: useless, and not ours to reuse
        self._foreign = self._foreign_token(stored)
        return None if self._foreign else stored

    def _foreign_token(self, stored: dict[str, Any]) -> str | None:
        """Why a stored token belongs to another accounts server or client than the config names, if it does.

        Neither its access token nor its refresh token may then be sent: the config's accounts server (or the
        API host beside it) would receive a token another server issued. A config that names a Zoho accounts
        server accepts a token from any of Zoho's (a login through one lands a person in their own data
        center, as login's redirect check allows); one that names another server accepts only that server's.
        A token saved before tokens recorded their client has no client_id, and is judged by its server alone.
        """
        name = self.client.connection
        configured = self.client.accounts_url.rstrip("/")
        server = str(stored.get("accounts_server") or configured).rstrip("/")
        client_id = stored.get("client_id")
        differences = []
        if server != configured and not (server in KNOWN_ACCOUNTS_SERVERS
                                         and configured in KNOWN_ACCOUNTS_SERVERS):
            differences.append(f"by accounts server {server} (the config names {configured})")
        if client_id is not None and client_id != self.client.client_id:
            differences.append(f"to client {client_id} (the config names {self.client.client_id})")
        if not differences:
            return None
        return (f"Connection {name!r}: the stored Zoho token was issued {' and '.join(differences)}, so "
                "zbmcp sends neither its access token nor its refresh token. Run `zbmcp auth login "
                f"--connection {name}` to connect through the configured ones, or restore the old settings.")

    # -- logging in (zbmcp auth ...) ----------------------------------------------------------------

    async def adopt(self, token: dict[str, Any], *, accounts_server: str,
                    extra: dict[str, Any] | None = None) -> None:
        """Store the answer to a code exchange (it carries the refresh token)."""
        refresh_token = token.get("refresh_token")
        if not refresh_token:
            raise AuthError("Zoho's answer carried no refresh token; log in again with access_type=offline")
        self._token = dict(extra or {})
        self.client = OAuthClient(
            self.client.connection, self.client.client_id, self.client.client_secret,
            self.client.accounts_url, None,
        )
        await self._set(token, accounts_server=accounts_server, refresh_token=str(refresh_token))
        self._loaded = True
        if self._state is not None:  # a new login ends a refusal's back-off
            await self._state.delete(REFUSALS, self.client.connection)

    def stored_refresh_token(self) -> str | None:
        return self.client.refresh_token or self._token.get("refresh_token")

    async def forget(self) -> None:
        self._token = {}
        self._loaded = True
        await self._vault.delete()

