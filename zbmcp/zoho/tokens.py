"""Where a connection's Zoho tokens are kept between runs.

The default store is one JSON file per connection, written atomically with mode 0600 in a 0700 folder under
$ZBMCP_HOME/tokens. Persisting the access token matters: Zoho lets one refresh token mint only about ten
access tokens per ten minutes, and stdio servers are restarted often (../shared/zoho-books-api.md §8.5).

A token file is never trusted blindly: one that cannot be read (not UTF-8, not JSON, a folder, not an object)
is moved aside (NAME.json.corrupt-<time>) with a warning, and one with impossible values keeps only what is
sound (say, the refresh token) so the next refresh rebuilds it. Start-up never fails over a token file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import stat
import time
from pathlib import Path
from typing import Any

from zbmcp.files import write_private_file
from zbmcp.state.tokens import TokenStore

log = logging.getLogger(__name__)

KEYRING_SERVICE = "zbmcp"


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


MAX_TOKEN_FILE_BYTES = 64 * 1024
_TEXT_FIELDS = ("access_token", "refresh_token", "scope", "refresh_token_fingerprint", "region", "location",
                "client_id")
_URL_FIELDS = ("api_domain", "accounts_server")
_TIME_FIELDS = ("expires_at", "refresh_at")
_ACCESS_FIELDS = ("access_token", *_TIME_FIELDS)  # only meaningful together
MAX_TOKEN_LIFETIME_SECONDS = 2 * 86400  # Zoho's access tokens live an hour; anything far beyond is not one


class FileTokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(_read_regular_file(self.path).decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self._set_aside(_reason(exc))
            return None
        if not isinstance(data, dict):
            self._set_aside(f"it holds a JSON {type(data).__name__}, not an object")
            return None
        sound, problems = sound_token(data)
        if problems:
            self._set_aside(", ".join(problems))
            return sound or None
        return data

    def _set_aside(self, reason: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            log.warning("token file %s is unusable (%s) and could not be moved aside (%s); it is ignored",
                        self.path, reason, exc.strerror or exc)
            return
        log.warning("token file %s was unusable (%s): moved it to %s. zbmcp gets a new access token with the "
                    "configured refresh token; if the file held the only copy of it, run `zbmcp auth login "
                    "--connection %s`", self.path, reason, aside.name, self.path.stem)

    def save(self, token: dict[str, Any]) -> None:
        write_private_file(self.path, json.dumps(token, sort_keys=True).encode())

    def delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class KeyringTokenStore:
    """The desktop's keychain (macOS Keychain, Windows Credential Locker, Secret Service):
    `pip install zbmcp[keyring]`."""

    def __init__(self, connection: str) -> None:
        import keyring  # optional dependency, imported only when chosen

        self._keyring = keyring
        self._user = connection

    def load(self) -> dict[str, Any] | None:
        text = self._keyring.get_password(KEYRING_SERVICE, self._user)
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = "not JSON"
        if data is None:
            return None
        sound, problems = sound_token(data) if isinstance(data, dict) else ({}, ["not a JSON object"])
        if problems:
            log.warning("the keyring entry of connection %s was unusable (%s); zbmcp fetches a new token",
                        self._user, ", ".join(problems))
        return sound or None

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
            log.warning("token_store: keyring needs `pip install zbmcp[keyring]`; "
                        "using the file store instead")
    return FileTokenStore(token_path(home, connection))


def token_path(home: Path, connection: str) -> Path:
    return home / "tokens" / f"{connection}.json"


def sound_token(data: dict[str, Any], now: float | None = None) -> tuple[dict[str, Any], list[str]]:
    """What of a stored token can be trusted, and what is wrong with the rest.

    An access token whose times are impossible is dropped with its times, so the next call refreshes it; the
    refresh token and the rest stay if they are sound.
    """
    now = time.time() if now is None else now
    sound: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        if value is None:
            continue
        if key in _TEXT_FIELDS and not isinstance(value, str):
            problems.append(f"{key} is not text")
        elif key in _URL_FIELDS and not (isinstance(value, str) and value.startswith(("https://", "http://"))):
            problems.append(f"{key} is not an http(s) URL")
        elif key in _TIME_FIELDS and not (
                isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value) and value < now + MAX_TOKEN_LIFETIME_SECONDS):
            problems.append(f"{key} is not a possible time")
        else:
            sound[key] = value
    if any(key not in sound for key in _ACCESS_FIELDS if key in data):
        for key in _ACCESS_FIELDS:
            sound.pop(key, None)
    return sound, problems


def _read_regular_file(path: Path) -> bytes:
    # O_NONBLOCK: a FIFO planted at the path must not hang start-up waiting for a writer.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("it is not a regular file")
        if info.st_size > MAX_TOKEN_FILE_BYTES:
            raise ValueError(f"it is {info.st_size:,} bytes, far more than a token")
        return os.read(fd, MAX_TOKEN_FILE_BYTES + 1)
    finally:
        os.close(fd)


def _reason(exc: Exception) -> str:
    if isinstance(exc, IsADirectoryError):
        return "it is a folder"
    if isinstance(exc, OSError):
        return f"it cannot be read: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        return "it is not JSON"
    return str(exc)
