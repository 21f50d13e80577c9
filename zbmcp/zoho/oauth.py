"""Zoho OAuth: authlib talks to the accounts server; ZohoAuth signs API requests and handles their 401s.

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
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

from zbmcp.errors import AuthError
from zbmcp.state import LockTimeout, State
from zbmcp.state.tokens import TokenVault
from zbmcp.core.regions import KNOWN_ACCOUNTS_SERVERS

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = logging.getLogger(__name__)

AUTH_SCHEME = "Zoho-oauthtoken"
PROFILE_SCOPE = "AaaServer.profile.READ"  # who signed in: GET {accounts}/oauth/user/info
MAX_LEEWAY_SECONDS = 300.0
BACKOFF_START_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 600.0  # Zoho's refresh window is ten minutes
# The refresh lock lasts this long unless its holder renews it (it does, every third of it, while it refreshes):
# a refresher that dies holds up the other replicas' refreshes for at most this. Waiters wait up to the
# refresh's own timeout plus this margin.
LOCK_TTL_SECONDS = 5.0
LOCK_MARGIN_SECONDS = 10.0
REFUSALS = "zoho-token-refusals"  # State namespace: a refusal, shared until its back-off ends


@dataclass(frozen=True)
class OAuthClient:
    """One Zoho OAuth client (from the API console) as a connection uses it."""

    connection: str
    client_id: str
    client_secret: str
    accounts_url: str
    refresh_token: str | None = None  # from the config; else the one `zbmcp auth login` stored

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"OAuthClient(connection={self.connection!r}, client_id={self.client_id!r}, accounts_url={self.accounts_url!r})"


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def token_endpoint(accounts_url: str) -> str:
    return f"{accounts_url.rstrip('/')}/oauth/v2/token"


def accounts_client(
    client: OAuthClient, transport: httpx2.AsyncBaseTransport | None = None, timeout: float = 30.0
) -> AsyncOAuth2Client:
    """An authlib client for the accounts server only."""
    # Imported here: authlib costs ~150 ms at start-up, and a cached token needs none of it.
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    return AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        token_endpoint_auth_method="client_secret_post",  # Zoho wants id and secret as form fields
        # no scope= here: authlib would add it to every refresh body
        transport=transport,
        timeout=timeout,
    )


def authorization_url(client: OAuthClient, accounts_url: str, redirect_uri: str, scopes: list[str], state: str,
                      *, offline: bool) -> str:
    """Where to send a person's browser to grant `scopes` to this client at Zoho."""
    extra = {"access_type": "offline",  # a refresh token, so calls can go on for months
             "prompt": "consent"} if offline else {}  # a fresh refresh token even if consented before
    url, _ = accounts_client(client).create_authorization_url(
        f"{accounts_url.rstrip('/')}/oauth/v2/auth",
        redirect_uri=redirect_uri,
        scope=",".join(scopes),  # Zoho separates scopes with commas
        state=state,
        **extra,
    )
    return str(url)


def trusted_accounts_server(server: str, configured_accounts_url: str) -> str:
    """The accounts server a login redirect named, if a client secret may be sent there; else AuthError."""
    server = server.rstrip("/")
    if server in KNOWN_ACCOUNTS_SERVERS or server == configured_accounts_url.rstrip("/"):
        return server
    raise AuthError(
        f"The login redirect named accounts server {server!r}, which is not a Zoho accounts server; "
        "the client secret was not sent. Start the login again."
    )


async def exchange_code(
    client: OAuthClient,
    code: str,
    accounts_server: str,
    *,
    redirect_uri: str | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Trade a grant code for Zoho's token answer at `accounts_server` (already checked as trusted)."""
    from authlib.integrations.base_client import OAuthError

    oauth = accounts_client(client, transport, timeout)
    try:
        extra = {"redirect_uri": redirect_uri} if redirect_uri else {}
        token = await oauth.fetch_token(token_endpoint(accounts_server), grant_type="authorization_code", code=code,
                                        **extra)
    except OAuthError as exc:
        hint = {
            "invalid_code": "the code is wrong, already used or expired (codes last minutes); generate a new one",
            "invalid_client": "the client id/secret in the config do not match the Zoho API console",
            "invalid_redirect_uri": "the redirect URI is not the one registered for this client",
        }.get(exc.error or "", exc.description or "")
        raise AuthError(f"Zoho refused the code exchange ({exc.error}): {hint}.") from None
    except httpx2.HTTPError as exc:
        raise AuthError(f"Could not reach {accounts_server} ({type(exc).__name__}).") from None
    finally:
        await oauth.aclose()
    return dict(token)


@dataclass(frozen=True)
class ZohoIdentity:
    """A person as Zoho Accounts knows them."""

    user_id: str  # the ZUID
    email: str
    name: str


async def fetch_identity(
    accounts_server: str,
    access_token: str,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
) -> ZohoIdentity:
    """Who an access token (with AaaServer.profile.READ) belongs to, from the accounts server's user-info endpoint."""
    url = f"{accounts_server.rstrip('/')}/oauth/user/info"
    try:
        async with httpx2.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False) as http:
            response = await http.get(url, headers={"Authorization": f"{AUTH_SCHEME} {access_token}"})
    except httpx2.HTTPError as exc:
        raise AuthError(f"Could not reach {accounts_server} to learn who signed in ({type(exc).__name__}).") from None
    try:
        body = response.json() if response.status_code == 200 else None
    except ValueError:
        body = None
    user_id = body.get("ZUID") if isinstance(body, dict) else None
    email = body.get("Email") if isinstance(body, dict) else None
    if body is None or not isinstance(email, str) or not str(user_id or "").isdigit():
        raise AuthError(f"Zoho did not say who signed in (HTTP {response.status_code} from /oauth/user/info).")
    assert isinstance(body, dict)
    name = " ".join(str(body.get(part) or "") for part in ("First_Name", "Last_Name")).strip()
    return ZohoIdentity(user_id=str(user_id), email=email.strip().lower(), name=name or email)


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

    def seconds_left(self) -> float | None:
        expires_at = self._token.get("expires_at")
        return None if expires_at is None else expires_at - self._clock()

    async def load(self) -> None:
        """Read the stored token, once (the first call does it otherwise)."""
        if not self._loaded:
            self._token = await self._usable_stored_token() or {}
            self._loaded = True

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
                f"Connection {name!r}: another zbmcp process has been refreshing the Zoho access token for over "
                f"{wait:g} s. Nothing was sent to Zoho; retry in a moment."
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
                raise AuthError(shared["message"])  # another replica was refused moments ago: do not ask again
        refresh_token = await self._refresh_token()
        server = self._token.get("accounts_server") or self.client.accounts_url
        # Shielded: a cancelled tool call must not waste a token Zoho has already minted.
        from authlib.integrations.base_client import OAuthError

        with anyio.CancelScope(shield=True):
            oauth = accounts_client(self.client, self._transport, self._timeout)
            try:
                token = await oauth.refresh_token(token_endpoint(server), refresh_token=refresh_token)
            except OAuthError as exc:
                raise await self._share(self._refused(exc.error or "", exc.description or "")) from None
            except httpx2.HTTPError as exc:
                raise await self._share(self._refused("unreachable", f"{type(exc).__name__}")) from None
            finally:
                await oauth.aclose()
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
                f"(Zoho allows about ten per ten minutes). zbmcp will wait {int(self._backoff)} s before asking again."
            )
        elif error in ("invalid_code", "invalid_token"):
            what = (
                "Zoho refused the refresh token (invalid_code): it was revoked, expired, or belongs to another "
                f"client. Run `zbmcp auth login --connection {name}` (or update refresh_token in the config)."
            )
        elif error == "invalid_client":
            what = f"Zoho does not recognise the client id/secret of connection {name!r}; check them in the config."
        elif error == "unreachable":
            what = f"could not reach the Zoho accounts server ({description}); check the network and accounts_url."
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
                await self._state.put(REFUSALS, self.client.connection, {"message": str(failure)}, ttl=seconds)
        return failure

    async def _refresh_token(self) -> str:
        token = self.client.refresh_token or self._token.get("refresh_token")
        if not token:
            stored = await self._vault.load() or {}
            token = stored.get("refresh_token")
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
        """Keep and persist a token answer. authlib replaces the whole dict, so our own keys are added back."""
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
        if not stored:
            return None
        configured = self.client.refresh_token
        if configured and stored.get("refresh_token_fingerprint") != fingerprint(configured):
            return None  # saved for a different refresh token: useless, and not ours to reuse
        return stored

    # -- logging in (zbmcp auth ...) ----------------------------------------------------------------

    async def adopt(self, token: dict[str, Any], *, accounts_server: str, extra: dict[str, Any] | None = None) -> None:
        """Store the answer to a code exchange (it carries the refresh token)."""
        refresh_token = token.get("refresh_token")
        if not refresh_token:
            raise AuthError("Zoho's answer carried no refresh token; log in again with access_type=offline")
        self._token = dict(extra or {})
        self.client = OAuthClient(
            self.client.connection, self.client.client_id, self.client.client_secret, self.client.accounts_url, None
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


class ZohoAuth(httpx2.Auth):
    """Signs each request with `Zoho-oauthtoken`; on a 401, refreshes once (single-flight) and retries once."""

    requires_request_body = True  # buffered, so the retry can send the same body again

    def __init__(self, tokens: TokenManager) -> None:
        self._tokens = tokens

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("ZohoAuth works only with an AsyncClient")
        yield request  # pragma: no cover

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        await request.aread()
        access_token = await self._tokens.access_token()
        request.headers["Authorization"] = f"{AUTH_SCHEME} {access_token}"
        response = yield request
        if response.status_code != 401:
            return
        await self._tokens.invalidate(access_token)
        request.headers["Authorization"] = f"{AUTH_SCHEME} {await self._tokens.access_token()}"
        yield request  # a second 401 goes back to the caller: refreshing did not help (e.g. a missing scope)
