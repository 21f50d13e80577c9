"""Which agent a presented API key belongs to.

A request carries `Authorization: Bearer <key>`. The config holds only `sha256:<hex>` of each key; a key is
matched by hashing it and comparing every stored hash in constant time. The matched agent's name becomes the
caller identity the MCP server reads, so an agent sees and calls only its own tools. Zoho tokens never leave
the server, and the key itself is not kept past the check.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from mcp.server.auth.provider import AccessToken

from zbmcp.calls.server import KEY_CLAIM

MCP_SCOPE = "mcp"  # what every agent's key, token or loopback identity grants: the MCP endpoints


class ApiKeyVerifier:
    """Maps a presented key to the agent that owns it."""

    def __init__(self, hashes_by_agent: Mapping[str, list[str]]) -> None:
        self._entries = [
            (bytes.fromhex(h.removeprefix("sha256:")), agent)
            for agent, hashes in hashes_by_agent.items()
            for h in hashes
        ]
        self._names = {digest: "sha256:" + digest.hex()[:16] for digest, _ in self._entries}

    async def verify_token(self, token: str) -> AccessToken | None:
        presented = hashlib.sha256(token.encode()).digest()
        found = None
        for digest, agent in self._entries:  # no early exit: the time taken says nothing about which key
            if hmac.compare_digest(presented, digest):
                found = (agent, digest)
        if found is None:
            return None
        # The key itself is deliberately not kept in the identity object handed to the rest of the server:
        # only the start of its hash from the config, which names the key an approval is bound to.
        return AccessToken(token="", client_id=found[0], scopes=[MCP_SCOPE],
                           claims={KEY_CLAIM: self._names[found[1]]})
