"""zbmcp's authorization server behind the MCP SDK's OAuth endpoints (`mcp.server.auth`).

The SDK's handlers parse and check the protocol (client authentication, redirect URI, PKCE S256, code expiry,
scope subsets, grant types); this provider answers what only zbmcp knows: which clients exist, where a person
signs in (Zoho, then the consent page: signin.py), and what codes and tokens mean (tokens.py).
"""

from __future__ import annotations

from mcp.server.auth.provider import (
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from zbmcp.audit.oauth import AuthAudit, note
from zbmcp.oauth_server.clients import ClientRegistry
from zbmcp.oauth_server.people import People
from zbmcp.oauth_server.scopes import DEFAULT, SUPPORTED
from zbmcp.oauth_server.settings import ServerSettings
from zbmcp.oauth_server.signin import SignInFlow
from zbmcp.oauth_server.tokens import Access, Code, Refresh, TokenService


class ZbmcpAuthProvider(OAuthAuthorizationServerProvider[Code, Refresh, Access]):

    def __init__(self, settings: ServerSettings, clients: ClientRegistry, tokens: TokenService,
                 people: People, sign_in: SignInFlow, audit: AuthAudit) -> None:
        self._settings = settings
        self._clients = clients
        self._tokens = tokens
        self._people = people
        self._sign_in = sign_in
        self._audit = audit

    # -- clients ------------------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return await self._clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        await self._clients.register(client_info)
        self._audit.record("register", "allowed", f"registered {client_info.client_name or 'a client'} "
                           f"(redirects to {', '.join(str(u) for u in client_info.redirect_uris or [])})",
                           client=client_info.client_id)

    # -- the authorization request ------------------------------------------------------------------------

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        audience = self._settings.audience_of(params.resource)
        if audience is None:
            note(f"resource {params.resource!r} is not this server")
            raise AuthorizeError("invalid_target",
                                 f"This server is {self._settings.resource}; it issues no tokens "
                                 f"for {params.resource}.")
        scopes = [scope for scope in (params.scopes or DEFAULT) if scope in SUPPORTED] or list(DEFAULT)
        return await self._sign_in.start(client, params, scopes, audience)

    # -- codes ---------------------------------------------------------------------------------------------

    async def load_authorization_code(self, client: OAuthClientInformationFull,
                                      authorization_code: str) -> Code | None:
        return await self._tokens.load_code(authorization_code)

    async def exchange_authorization_code(self, client: OAuthClientInformationFull, authorization_code: Code
                                          ) -> OAuthToken:
        if not await self._people.may_act_as(authorization_code.subject or "", authorization_code.person,
                                             authorization_code.agent):
            note(f"{authorization_code.person} may no longer act as agent {authorization_code.agent}")
            raise TokenError("invalid_grant", "The person who signed in may no longer use this agent.")
        issued = await self._tokens.exchange_code(authorization_code)
        if issued is None:
            raise TokenError("invalid_grant",
                             "The authorization code was already used; its tokens were revoked.")
        answer, access = issued
        await self._clients.in_use(client.client_id)
        self._audit.record("token", "allowed", f"issued tokens ({answer.scope})", client=client.client_id,
                           person=access.person, agent=access.agent)
        return answer

    # -- refresh tokens ------------------------------------------------------------------------------------

    async def load_refresh_token(self, client: OAuthClientInformationFull,
                                 refresh_token: str) -> Refresh | None:
        return await self._tokens.load_refresh(refresh_token)

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: Refresh,
                                     scopes: list[str]) -> OAuthToken:
        if not await self._people.may_act_as(refresh_token.subject or "", refresh_token.person,
                                             refresh_token.agent):
            await self._tokens.revoke_family(refresh_token.family)
            note(f"{refresh_token.person} may no longer act as agent {refresh_token.agent}: tokens revoked")
            raise TokenError("invalid_grant", "The person who signed in may no longer use this agent.")
        issued = await self._tokens.rotate(refresh_token, scopes)
        if issued is None:
            raise TokenError("invalid_grant",
                             "The refresh token was already used; every token of that sign-in was "
                             "revoked. Sign in again.")
        answer, access = issued
        await self._clients.in_use(client.client_id)
        self._audit.record("refresh", "allowed", f"rotated tokens ({answer.scope})", client=client.client_id,
                           person=access.person, agent=access.agent)
        return answer

    # -- access tokens and revocation ---------------------------------------------------------------------

    async def load_access_token(self, token: str) -> Access | None:
        return await self._tokens.load_access(token)

    async def revoke_token(self, token: Access | Refresh) -> None:
        await self._tokens.revoke_family(token.family)
        self._audit.record("revoke", "allowed", "the client revoked its tokens (every token of that sign-in)",
                           client=token.client_id, person=token.person, agent=token.agent)
