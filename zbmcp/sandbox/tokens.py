"""Zoho Accounts state: OAuth clients, grant codes, refresh tokens and access tokens (§8).

Rules reproduced:
- grant codes are single-use and expire (grant_code_lifetime_seconds, §8.1);
- access_type=offline yields a refresh token on the first consent of a user to a client only; later consents
  need prompt=consent to get another (§8.1);
- refresh tokens never expire; revoking one kills every access token it minted (§8.6);
- access tokens expire after token_lifetime_seconds; optional caps: refreshes per window per refresh token
  ("Access Denied", §8.5) and live access tokens per refresh token (the oldest is invalidated, §8.5).
Token strings look like Zoho's: "1000.<32 hex>.<32 hex>".
"""

from __future__ import annotations

import math
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from zbmcp.sandbox.settings import SandboxSettings

ACCESS_DENIED = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "status": "failure",
}


class TokenError(Exception):
    """A token-endpoint refusal; `error` is Zoho's value for the "error" key (invalid_code,
    invalid_client...)."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


def new_token() -> str:
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class GrantCode:
    code: str
    client_id: str | None  # None: a self-client code any registered client may exchange
    user_id: str
    scopes: list[str]
    redirect_uri: str | None  # None: self-client codes need no redirect_uri (§8.7)
    offline: bool
    expires_at: float
    used: bool = False


@dataclass
class RefreshToken:
    token: str
    client_id: str
    user_id: str
    scopes: list[str]
    revoked: bool = False
    refreshes: deque[float] = field(default_factory=deque)
    access_tokens: list[str] = field(default_factory=list)


@dataclass
class AccessToken:
    token: str
    user_id: str
    scopes: list[str]
    expires_at: float
    refresh_token: str | None = None
    revoked: bool = False


class TokenRegistry:
    def __init__(self, settings: SandboxSettings, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self.clients: dict[str, OAuthClient] = {}
        self._codes: dict[str, GrantCode] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._access: dict[str, AccessToken] = {}
        self._consented: set[tuple[str, str]] = set()

    # -- clients and consent ------------------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> OAuthClient:
        client = OAuthClient(client_id, client_secret, list(redirect_uris))
        self.clients[client_id] = client
        return client

    def grant(self, client_id: str | None, user_id: str, scopes: list[str], redirect_uri: str | None, *,
              offline: bool, force_consent: bool = False, lifetime: float | None = None) -> str:
        """A grant code, as the consent screen (or the API console's self client) would hand out."""
        if client_id is not None and offline:
            first = (user_id, client_id) not in self._consented
            offline = first or force_consent
            self._consented.add((user_id, client_id))
        code = new_token()
        self._codes[code] = GrantCode(
            code=code, client_id=client_id, user_id=user_id, scopes=list(scopes), redirect_uri=redirect_uri,
            offline=offline,
            expires_at=self._clock() + (lifetime or self._settings.grant_code_lifetime_seconds),
        )
        return code

    # -- the token endpoint -------------------------------------------------------------------------------

    def exchange_code(self, client_id: str, client_secret: str, code: str,
                      redirect_uri: str | None) -> tuple[AccessToken, RefreshToken | None]:
        client = self._client(client_id, client_secret)
        grant = self._codes.get(code)
        if grant is None or grant.used or grant.expires_at <= self._clock():
            raise TokenError("invalid_code")
        if grant.client_id is not None and grant.client_id != client.client_id:
            raise TokenError("invalid_code")
        if grant.redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise TokenError("invalid_redirect_uri")
        grant.used = True
        refresh = None
        if grant.offline:
            refresh = self._new_refresh(client.client_id, grant.user_id, grant.scopes)
        access = self._new_access(grant.user_id, grant.scopes, refresh)
        return access, refresh

    def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> AccessToken:
        client = self._client(client_id, client_secret)
        refresh = self._refresh.get(refresh_token)
        if refresh is None or refresh.revoked:
            raise TokenError("invalid_code")
        if refresh.client_id != client.client_id:
            raise TokenError("invalid_client")
        limit = self._settings.max_refreshes_per_window
        now = self._clock()
        window = self._settings.refresh_window_seconds
        while refresh.refreshes and refresh.refreshes[0] <= now - window:
            refresh.refreshes.popleft()
        if limit is not None and len(refresh.refreshes) >= limit:
            raise TokenError("Access Denied")
        refresh.refreshes.append(now)
        return self._new_access(refresh.user_id, refresh.scopes, refresh)

    def revoke(self, token: str) -> bool:
        refresh = self._refresh.get(token)
        if refresh is None or refresh.revoked:
            return False
        refresh.revoked = True
        for access_token in refresh.access_tokens:
            self._access[access_token].revoked = True
        return True

    def expires_in(self, access: AccessToken) -> int:
        return max(1, math.ceil(access.expires_at - self._clock()))

    # -- minting for tests, and checking tokens on API calls ------------------------------------------------

    def mint_refresh_token(self, client_id: str, user_id: str, scopes: list[str],
                           token: str | None = None) -> str:
        return self._new_refresh(client_id, user_id, scopes, token).token

    def mint_access_token(self, user_id: str, scopes: list[str], lifetime: float | None = None) -> str:
        return self._new_access(user_id, scopes, None, lifetime).token

    def expire_all(self) -> None:
        now = self._clock()
        for access in self._access.values():
            access.expires_at = min(access.expires_at, now)

    def authenticate(self, token: str) -> AccessToken | None:
        """The live access token, or None for an unknown, expired or revoked one (all answer code 57)."""
        access = self._access.get(token)
        if access is None or access.revoked or access.expires_at <= self._clock():
            return None
        return access

    def _client(self, client_id: str, client_secret: str) -> OAuthClient:
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.client_secret.encode(),
                                                        client_secret.encode()):
            raise TokenError("invalid_client")
        return client

    def _new_refresh(self, client_id: str, user_id: str, scopes: list[str],
                     token: str | None = None) -> RefreshToken:
        refresh = RefreshToken(token or new_token(), client_id, user_id, list(scopes))
        self._refresh[refresh.token] = refresh
        return refresh

    def _new_access(self, user_id: str, scopes: list[str], refresh: RefreshToken | None,
                    lifetime: float | None = None) -> AccessToken:
        lifetime = lifetime if lifetime is not None else self._settings.token_lifetime_seconds
        access = AccessToken(new_token(), user_id, list(scopes), self._clock() + lifetime,
                             refresh.token if refresh else None)
        self._access[access.token] = access
        if refresh is not None:
            refresh.access_tokens.append(access.token)
            cap = self._settings.max_access_tokens_per_refresh_token
            live = [token for token in refresh.access_tokens if self.authenticate(token) is not None]
            if cap is not None and len(live) > cap:
                self._access[live[0]].revoked = True  # §8.5: the oldest goes when a new one exceeds the cap
        return access
