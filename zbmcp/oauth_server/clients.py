"""Who the OAuth clients are: registered through RFC 7591 (kept for older clients), or described by a Client
ID Metadata Document at their https client_id.

Every client is offered every scope zbmcp knows: what a token may do is settled by the person on the consent
page and by the agent's config, not by what a client wrote when it registered.
"""

from __future__ import annotations

from mcp.server.auth.provider import RegistrationError
from mcp.shared.auth import OAuthClientInformationFull

from zbmcp.audit.oauth import note
from zbmcp.oauth_server.cimd import ClientDocuments, DocumentRefused, is_document_client_id
from zbmcp.oauth_server.redirects import redirect_uri_problem
from zbmcp.oauth_server.scopes import SUPPORTED
from zbmcp.oauth_server.records import Records

NAMESPACE = "oauth_clients"
REGISTRATION_DAYS = 365  # a registration nobody uses for a year is forgotten


class ClientRegistry:
    def __init__(self, store: Records, documents: ClientDocuments) -> None:
        self._store = store
        self.documents = documents

    async def get(self, client_id: str) -> OAuthClientInformationFull | None:
        if is_document_client_id(client_id):
            try:
                return await self.documents.client(client_id)
            except DocumentRefused as refused:
                note(f"client metadata document refused: {refused}")
                return None
        record = await self._store.get(NAMESPACE, client_id)
        if record is None:
            note("unknown client_id")
            return None
        client = OAuthClientInformationFull.model_validate(record)
        return client.model_copy(update={"scope": " ".join(SUPPORTED)})

    async def register(self, client: OAuthClientInformationFull) -> None:
        for uri in client.redirect_uris or []:
            problem = redirect_uri_problem(str(uri))
            if problem:
                raise RegistrationError("invalid_redirect_uri", f"{uri}: {problem}")
        if client.client_name and len(client.client_name) > 100:
            raise RegistrationError("invalid_client_metadata", "client_name is longer than 100 characters")
        await self._store.put(NAMESPACE, client.client_id, client.model_dump(mode="json", exclude_none=True),
                              ttl=REGISTRATION_DAYS * 86400)
