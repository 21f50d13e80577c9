"""Where a connection's Zoho tokens are kept between runs.

The default store is one JSON file per connection, written atomically with mode 0600 in a 0700 folder under
$ZBMCP_HOME/tokens. Persisting the access token matters: Zoho lets one refresh token mint only about ten
access tokens per ten minutes, and stdio servers are restarted often (../shared/zoho-books-api.md §8.5).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

KEYRING_SERVICE = "zbmcp"


class TokenStore(Protocol):
    def load(self) -> dict[str, Any] | None: ...

    def save(self, token: dict[str, Any]) -> None: ...

    def delete(self) -> None: ...


class MemoryTokenStore:
    """Keeps nothing between runs: the sandbox and tests."""

    def __init__(self, token: dict[str, Any] | None = None) -> None:
        self.token = dict(token) if token else None

    def load(self) -> dict[str, Any] | None:
        return dict(self.token) if self.token else None

    def save(self, token: dict[str, Any]) -> None:
        self.token = dict(token)

    def delete(self) -> None:
        self.token = None


class FileTokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            log.warning("ignoring unreadable token file %s; it will be rewritten", self.path)
            return None
        return data if isinstance(data, dict) else None

    def save(self, token: dict[str, Any]) -> None:
        write_private_file(self.path, json.dumps(token, sort_keys=True).encode())

    def delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class KeyringTokenStore:
    """The desktop's keychain (macOS Keychain, Windows Credential Locker, Secret Service): `pip install zbmcp[keyring]`."""

    def __init__(self, connection: str) -> None:
        import keyring  # optional dependency, imported only when chosen

        self._keyring = keyring
        self._user = connection

    def load(self) -> dict[str, Any] | None:
        text = self._keyring.get_password(KEYRING_SERVICE, self._user)
        return json.loads(text) if text else None

    def save(self, token: dict[str, Any]) -> None:
        self._keyring.set_password(KEYRING_SERVICE, self._user, json.dumps(token, sort_keys=True))

    def delete(self) -> None:
        with contextlib.suppress(Exception):
            self._keyring.delete_password(KEYRING_SERVICE, self._user)


def token_store(kind: str, home: Path, connection: str) -> TokenStore:
    if kind == "memory":
        return MemoryTokenStore()
    if kind == "keyring":
        try:
            return KeyringTokenStore(connection)
        except ImportError:
            log.warning("token_store: keyring needs `pip install zbmcp[keyring]`; using the file store instead")
    return FileTokenStore(token_path(home, connection))


def token_path(home: Path, connection: str) -> Path:
    return home / "tokens" / f"{connection}.json"


def write_private_file(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Atomically replace `path` with `data`, readable by the owner only, with no window where it is not.

    durable=False skips the fsyncs, for counters rewritten on every call where losing the last write is fine.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path.parent, 0o700)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    if durable and os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
