"""`connection: per_user`: calls made with the signed-in person's own Zoho token, so Zoho's own roles and
organization memberships apply as well as the agent's config, and Zoho's records name the person.

Each person's refresh token is kept like a connection's (a 0600 file under $ZBMCP_HOME/tokens/people, or memory
when the sign-in connection keeps its own in memory) and has one TokenManager per process, so a refresh happens
once however many calls wait. Everything else (region, API host, limits, pacing per organization) is the
sign-in connection's.
"""

from __future__ import annotations

from pathlib import Path

from zbmcp.policy import scope_granted
from zbmcp.zoho.client import ZohoConnection
from zbmcp.zoho.oauth import OAuthClient, TokenManager
from zbmcp.zoho.regions import region_of_accounts_server
from zbmcp.zoho.tokens import FileTokenStore, MemoryTokenStore, TokenStore


class PersonalConnections:
    def __init__(self, base: ZohoConnection, home: Path) -> None:
        self._base = base  # the sign-in connection
        self._home = home
        self._memory: dict[str, MemoryTokenStore] = {}
        self._connections: dict[str, ZohoConnection] = {}

    def _store(self, user_id: str) -> TokenStore:
        if self._base.settings.token_store == "memory":
            return self._memory.setdefault(user_id, MemoryTokenStore())
        return FileTokenStore(self._home / "tokens" / "people" / f"{user_id}.json")

    def connection(self, user_id: str, email: str) -> ZohoConnection:
        if not user_id.isdigit():
            raise ValueError("a Zoho user id is digits")  # it names a file
        connection = self._connections.get(user_id)
        if connection is None:
            base = self._base.tokens.client
            client = OAuthClient(connection=f"{self._base.name} as {email}", client_id=base.client_id,
                                 client_secret=base.client_secret, accounts_url=base.accounts_url)
            tokens = TokenManager(client, self._store(user_id), transport=self._base.tokens.transport,
                                  timeout=self._base.settings.timeout_seconds)
            # Named like the sign-in connection: Zoho's limits are per organization, whoever calls.
            connection = self._connections[user_id] = ZohoConnection(self._base.name, self._base.settings, tokens)
        return connection

    def ready(self, user_id: str, email: str, scopes: list[str]) -> bool:
        """Whether the person's stored Zoho grant covers `scopes`, so no new Zoho consent is needed."""
        tokens = self.connection(user_id, email).tokens
        granted = tokens.granted_scopes
        if not tokens.stored_refresh_token() or granted is None:
            return False
        have = {scope.lower() for scope in granted}
        return all(scope_granted(scope, have) for scope in scopes)

    def adopt(self, user_id: str, email: str, token: dict[str, object], accounts_server: str) -> None:
        region = region_of_accounts_server(accounts_server)
        self.connection(user_id, email).tokens.adopt(dict(token), accounts_server=accounts_server,
                                                     extra={"region": region} if region else None)
