"""The Zoho accounts server, apart from refreshing: a connection's OAuth client, the consent URL, the code
exchange and who signed in.

authlib talks to the accounts server; it is imported only where needed, as it costs ~150 ms at start-up and a
cached token needs none of it. A client secret goes only to a known Zoho accounts server, or to the
connection's own configured accounts_url.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2

from zbmcp.core.regions import KNOWN_ACCOUNTS_SERVERS
from zbmcp.errors import AuthError

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

AUTH_SCHEME = "Zoho-oauthtoken"
PROFILE_SCOPE = "AaaServer.profile.READ"  # who signed in: GET {accounts}/oauth/user/info


@dataclass(frozen=True)
class OAuthClient:
    """One Zoho OAuth client (from the API console) as a connection uses it."""

    connection: str
    client_id: str
    client_secret: str
    accounts_url: str
    refresh_token: str | None = None  # from the config; else the one `zbmcp auth login` stored

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return (f"OAuthClient(connection={self.connection!r}, client_id={self.client_id!r}, "
                f"accounts_url={self.accounts_url!r})")


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


class TokenRefused(Exception):
    """The accounts server answered a token request with an OAuth error (Zoho: HTTP 200, {"error": ...})."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.description = description


async def refresh_access_token(client: OAuthClient, accounts_server: str, refresh_token: str, *,
                               transport: httpx2.AsyncBaseTransport | None = None,
                               timeout: float = 30.0) -> dict[str, Any]:
    """Zoho's answer to a refresh (access_token, expires_in, api_domain, ...), or TokenRefused;
    httpx2.HTTPError when the server cannot be reached or answers 5xx. A plain form POST, not authlib's
    client: the one OAuth request every server makes, and authlib's import (~150 ms, ~4 MiB) is then needed
    only to sign in."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client.client_id,
            "client_secret": client.client_secret}  # Zoho wants id and secret as form fields
    async with httpx2.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False) as http:
        response = await http.post(token_endpoint(accounts_server), data=form,
                                   headers={"Accept": "application/json"})
    if response.status_code >= 500:
        response.raise_for_status()
    try:
        token = response.json()
    except ValueError:
        token = None
    if not isinstance(token, dict):
        raise TokenRefused("unreadable", f"not a token answer (HTTP {response.status_code})")
    if "error" in token:
        raise TokenRefused(str(token["error"]), str(token.get("error_description") or ""))
    if "access_token" not in token:
        raise TokenRefused("unreadable", "no access_token in the answer")
    return token


def authorization_url(client: OAuthClient, accounts_url: str, redirect_uri: str, scopes: list[str],
                      state: str, *, offline: bool) -> str:
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
        token = await oauth.fetch_token(token_endpoint(accounts_server), grant_type="authorization_code",
                                        code=code, **extra)
    except OAuthError as exc:
        hint = {
            "invalid_code": "the code is wrong, already used or expired (codes last minutes); "
                            "generate a new one",
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
    """Who an access token (with AaaServer.profile.READ) belongs to, from the accounts server's user info."""
    url = f"{accounts_server.rstrip('/')}/oauth/user/info"
    try:
        async with httpx2.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False) as http:
            response = await http.get(url, headers={"Authorization": f"{AUTH_SCHEME} {access_token}"})
    except httpx2.HTTPError as exc:
        raise AuthError(f"Could not reach {accounts_server} to learn who signed in "
                        f"({type(exc).__name__}).") from None
    try:
        body = response.json() if response.status_code == 200 else None
    except ValueError:
        body = None
    user_id = body.get("ZUID") if isinstance(body, dict) else None
    email = body.get("Email") if isinstance(body, dict) else None
    if body is None or not isinstance(email, str) or not str(user_id or "").isdigit():
        raise AuthError(f"Zoho did not say who signed in "
                        f"(HTTP {response.status_code} from /oauth/user/info).")
    assert isinstance(body, dict)
    name = " ".join(str(body.get(part) or "") for part in ("First_Name", "Last_Name")).strip()
    return ZohoIdentity(user_id=str(user_id), email=email.strip().lower(), name=name or email)

