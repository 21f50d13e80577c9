"""Who the OAuth clients are: registered through RFC 7591 (kept for older clients), or described by a Client
ID Metadata Document at their https client_id.

Every client is offered every scope zbmcp knows: what a token may do is settled by the person on the consent
page and by the agent's config, not by what a client wrote when it registered.

Anyone may register, so what registrations can make zbmcp keep is bounded (oauth.registration; the size and
rate limits are checked at the door, doors.py). A registration starts "unused", in a namespace capped
at `max_unused` records that are forgotten after `unused_days`: a flood pushes out its own oldest, never a
client a person has used. Once a person signs in through it (their code becomes tokens), it moves to the
clients in use, kept for a year after its last sign-in or refresh.
"""

from __future__ import annotations

import json
import logging

from mcp.server.auth.provider import RegistrationError
from mcp.shared.auth import OAuthClientInformationFull

from zbmcp.audit.oauth import note
from zbmcp.core.config_hosting import Registration
from zbmcp.oauth_server.cimd import ClientDocuments, DocumentRefused, is_document_client_id
from zbmcp.oauth_server.records import Record, Records
from zbmcp.oauth_server.redirects import redirect_uri_problem
from zbmcp.oauth_server.scopes import SUPPORTED
from zbmcp.state import StateUnavailable

log = logging.getLogger(__name__)

NAMESPACE = "oauth_clients"  # in use: a person signed in through them
UNUSED = "oauth_clients_unused"
USED_DAYS = 365  # a client in use that nobody uses for a year is forgotten
MAX_RECORD_BYTES = 6 * 1024  # a stored registration: its metadata (at most doors.MAX_METADATA_BYTES)
# and what zbmcp adds (client_id, secret, times)


class ClientRegistry:
    def __init__(self, store: Records, documents: ClientDocuments, limits: Registration) -> None:
        self._store = store
        self.documents = documents
        self._limits = limits

    async def get(self, client_id: str) -> OAuthClientInformationFull | None:
        if is_document_client_id(client_id):
            try:
                return await self.documents.client(client_id)
            except DocumentRefused as refused:
                note(f"client metadata document refused: {refused}")
                return None
        record = await self._record(client_id)
        if record is None:
            note("unknown client_id (never registered, or unused for "
                 f"{self._limits.unused_days:g} days, or pushed out by newer unused registrations)")
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
        record = client.model_dump(mode="json", exclude_none=True)
        size = len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_RECORD_BYTES:
            raise RegistrationError("invalid_client_metadata",
                                    f"the registration would take {size} bytes; zbmcp keeps at most "
                                    f"{MAX_RECORD_BYTES}: send fewer or shorter fields")
        await self._store.put(UNUSED, client.client_id, record, ttl=self._limits.unused_days * 86400,
                              most=self._limits.max_unused)

    async def in_use(self, client_id: str) -> None:
        """A person signed in through this client, or refreshed its tokens: kept for a year from now. Best
        effort: the tokens are issued already, and a State that fails here only leaves the client unused."""
        if is_document_client_id(client_id):
            return
        try:
            record = await self._record(client_id)
            if record is not None:
                await self._store.put(NAMESPACE, client_id, record, ttl=USED_DAYS * 86400)
                await self._store.delete(UNUSED, client_id)
        except StateUnavailable as unavailable:
            log.warning("client %s could not be marked as in use: %s", client_id[:40], unavailable)

    async def _record(self, client_id: str) -> Record | None:
        return await self._store.get(NAMESPACE, client_id) or await self._store.get(UNUSED, client_id)
