"""Where a connection's Zoho tokens live, as the token broker (zbmcp.zoho.token_manager) sees them.

    StoreVault       a TokenStore of zbmcp.zoho.tokens (the 0600 file, the keychain, memory): one machine
    EncryptedVault   a record in the State, encrypted: with backend redis, every replica reads the token
                     one of them refreshed, and Redis (its memory, its dumps, its replicas) never holds a
                     usable token

The vault holds the token; the refresh lock (State.lock) makes the others wait while one refreshes.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zbmcp.state.base import State

log = logging.getLogger(__name__)



class TokenStore(Protocol):
    """Where one connection's token is kept: the 0600 file, the keychain or memory (zbmcp.zoho.tokens), or a
    vault below."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, token: dict[str, Any]) -> None: ...

    def delete(self) -> None: ...


NAMESPACE = "zoho-tokens"
# AES-256-GCM, key from HKDF-SHA256 of the configured secret; a later format gets another byte
FORMAT = b"\x01"
NONCE_BYTES = 12


class TokenVault(Protocol):
    async def load(self) -> dict[str, Any] | None: ...

    async def save(self, token: dict[str, Any]) -> None: ...

    async def delete(self) -> None: ...


class StoreVault:
    """A TokenStore (file, keyring, memory): reads and writes are local and quick."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store

    async def load(self) -> dict[str, Any] | None:
        return self.store.load()

    async def save(self, token: dict[str, Any]) -> None:
        self.store.save(token)

    async def delete(self) -> None:
        self.store.delete()


class TokenCipher:
    """AES-256-GCM with a key derived from the configured secret; each token is bound to its connection's name
    (associated data), so a record copied to another connection's key does not decrypt."""

    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(derive_key(secret, "zoho token at rest"))

    def seal(self, connection: str, token: dict[str, Any]) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(token, sort_keys=True).encode()
        return FORMAT + nonce + self._aead.encrypt(nonce, plain, _bound(connection))

    def open(self, connection: str, sealed: bytes) -> dict[str, Any] | None:
        """The token, or None (with a warning) when it was sealed with another key, for another connection, or
        altered."""
        from cryptography.exceptions import InvalidTag

        if not sealed.startswith(FORMAT) or len(sealed) < 1 + NONCE_BYTES + 16:
            log.warning("the stored token of connection %s is not in a format zbmcp writes; it "
                        "will be replaced",
                        connection)
            return None
        nonce, body = sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:]
        try:
            token = json.loads(self._aead.decrypt(nonce, body, _bound(connection)))
        except InvalidTag:
            log.warning("the stored token of connection %s does not decrypt with state.encryption_key "
                        "(was the key changed?); it will be replaced", connection)
            return None
        return token if isinstance(token, dict) else None


class EncryptedVault:
    def __init__(self, state: State, connection: str, cipher: TokenCipher) -> None:
        self._state = state
        self._connection = connection
        self._cipher = cipher

    async def load(self) -> dict[str, Any] | None:
        sealed = await self._state.get(NAMESPACE, self._connection)
        return self._cipher.open(self._connection, sealed) if isinstance(sealed, bytes) else None

    async def save(self, token: dict[str, Any]) -> None:
        await self._state.put(NAMESPACE, self._connection, self._cipher.seal(self._connection, token),
                              ttl=None)

    async def delete(self) -> None:
        await self._state.delete(NAMESPACE, self._connection)


def derive_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose from state.encryption_key: one secret in the config, independent keys."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"zbmcp state", info=purpose.encode()).derive(
        secret.encode())


def _bound(connection: str) -> bytes:
    return f"zbmcp zoho token of connection {connection}".encode()
