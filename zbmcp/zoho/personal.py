"""`connection: per_user`: calls made with the signed-in person's own Zoho token, so Zoho's own roles and
organization memberships apply as well as the agent's config, and Zoho's records name the person.

Each person's token goes through the token broker like a connection's (zbmcp.zoho.token_manager): kept
where the sign-in connection keeps its own (a 0600 file, memory, or encrypted in the State for replicas, as
"<connection>.person.<Zoho user id>"), refreshed once at a time across every process and replica sharing the
State. Everything else (region, API host, limits, pacing per organization) is the sign-in connection's.
"""

from __future__ import annotations

from collections.abc import Callable

from zbmcp.core.policy import scope_granted
from zbmcp.state import State
from zbmcp.state.tokens import TokenVault
from zbmcp.zoho.client import ZohoConnection
from zbmcp.zoho.accounts import OAuthClient
from zbmcp.zoho.token_manager import TokenManager
from zbmcp.core.regions import region_of_accounts_server


class PersonalConnections:
    def __init__(self, base: ZohoConnection, vaults: Callable[[str], TokenVault], state: State) -> None:
        self._base = base  # the sign-in connection
        self._vaults = vaults
        self._state = state
        self._connections: dict[str, ZohoConnection] = {}

    def connection(self, user_id: str, email: str) -> ZohoConnection:
        if not user_id.isdigit():
            raise ValueError("a Zoho user id is digits")  # it names a vault (a file, a State key)
        connection = self._connections.get(user_id)
        if connection is None:
            base = self._base.tokens.client
            client = OAuthClient(connection=f"{self._base.name}.person.{user_id}", client_id=base.client_id,
                                 client_secret=base.client_secret, accounts_url=base.accounts_url)
            tokens = TokenManager(client, self._vaults(user_id), state=self._state,
                                  transport=self._base.tokens.transport,
                                  timeout=self._base.settings.timeout_seconds)
            # Named like the sign-in connection: Zoho's limits are per organization, whoever calls.
            connection = ZohoConnection(self._base.name, self._base.settings, tokens)
            self._connections[user_id] = connection
        return connection

    async def ready(self, user_id: str, email: str, scopes: list[str]) -> bool:
        """Whether the person's stored Zoho grant covers `scopes`, so no new Zoho consent is needed."""
        tokens = self.connection(user_id, email).tokens
        await tokens.load()
        granted = tokens.granted_scopes
        if not tokens.stored_refresh_token() or granted is None:
            return False
        have = {scope.lower() for scope in granted}
        return all(scope_granted(scope, have) for scope in scopes)

    async def adopt(self, user_id: str, email: str, token: dict[str, object], accounts_server: str) -> None:
        region = region_of_accounts_server(accounts_server)
        await self.connection(user_id, email).tokens.adopt(dict(token), accounts_server=accounts_server,
                                                           extra={"region": region} if region else None)
