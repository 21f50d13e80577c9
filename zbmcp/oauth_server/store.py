"""Where the authorization server keeps its state: namespaced JSON records with an expiry.

The interface is the generic record store the `State` protocol offers (put, get, take, put_if_absent, delete,
list), so moving onto State is a change of constructor, not of callers. Until then:

    MemoryRecordStore   one process, nothing kept (tests, the sandbox)
    FileRecordStore     one JSON file per namespace under $ZBMCP_HOME/oauth, 0600, changed under flock, so the
                        `zbmcp oauth` commands and a running server see the same records

`take` is the single-use primitive (authorization codes, refresh tokens, consent forms): of two concurrent takes
of one record, exactly one gets it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import anyio

from zbmcp.zoho.tokens import write_private_file

try:
    import fcntl
except ImportError:  # no fcntl (Windows): the lock below is per process
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

Record = dict[str, Any]


class RecordStore(Protocol):
    clock: Callable[[], float]  # the time expiries are measured in (seconds since the epoch)

    async def put(self, namespace: str, key: str, value: Record, *, ttl: float | None = None) -> None: ...

    async def put_if_absent(self, namespace: str, key: str, value: Record, *, ttl: float | None = None) -> bool: ...

    async def get(self, namespace: str, key: str) -> Record | None: ...

    async def take(self, namespace: str, key: str) -> Record | None: ...

    async def delete(self, namespace: str, key: str) -> bool: ...

    async def list(self, namespace: str) -> dict[str, Record]: ...


_Entries = dict[str, dict[str, Any]]  # key -> {"value": Record, "expires": float | None}


def _alive(entry: dict[str, Any], now: float) -> bool:
    expires = entry.get("expires")
    return expires is None or expires > now


class _Namespaces:
    """The operations on loaded namespaces; subclasses say how a namespace is loaded and saved, and locked."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock

    @contextlib.contextmanager
    def _open(self, namespace: str, *, write: bool) -> Iterator[_Entries]:
        raise NotImplementedError  # pragma: no cover

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self.clock() + ttl

    def put_now(self, namespace: str, key: str, value: Record, ttl: float | None) -> None:
        with self._open(namespace, write=True) as entries:
            entries[key] = {"value": value, "expires": self._expiry(ttl)}

    def put_if_absent_now(self, namespace: str, key: str, value: Record, ttl: float | None) -> bool:
        with self._open(namespace, write=True) as entries:
            entry = entries.get(key)
            if entry is not None and _alive(entry, self.clock()):
                return False
            entries[key] = {"value": value, "expires": self._expiry(ttl)}
            return True

    def get_now(self, namespace: str, key: str) -> Record | None:
        with self._open(namespace, write=False) as entries:
            entry = entries.get(key)
            return dict(entry["value"]) if entry is not None and _alive(entry, self.clock()) else None

    def take_now(self, namespace: str, key: str) -> Record | None:
        with self._open(namespace, write=True) as entries:
            entry = entries.pop(key, None)
            return dict(entry["value"]) if entry is not None and _alive(entry, self.clock()) else None

    def delete_now(self, namespace: str, key: str) -> bool:
        with self._open(namespace, write=True) as entries:
            return entries.pop(key, None) is not None

    def list_now(self, namespace: str) -> dict[str, Record]:
        now = self.clock()
        with self._open(namespace, write=False) as entries:
            return {key: dict(entry["value"]) for key, entry in entries.items() if _alive(entry, now)}


class MemoryRecordStore(_Namespaces):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._data: dict[str, _Entries] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _open(self, namespace: str, *, write: bool) -> Iterator[_Entries]:
        with self._lock:
            yield self._data.setdefault(namespace, {})

    async def put(self, namespace: str, key: str, value: Record, *, ttl: float | None = None) -> None:
        self.put_now(namespace, key, value, ttl)

    async def put_if_absent(self, namespace: str, key: str, value: Record, *, ttl: float | None = None) -> bool:
        return self.put_if_absent_now(namespace, key, value, ttl)

    async def get(self, namespace: str, key: str) -> Record | None:
        return self.get_now(namespace, key)

    async def take(self, namespace: str, key: str) -> Record | None:
        return self.take_now(namespace, key)

    async def delete(self, namespace: str, key: str) -> bool:
        return self.delete_now(namespace, key)

    async def list(self, namespace: str) -> dict[str, Record]:
        return self.list_now(namespace)


class FileRecordStore(_Namespaces):
    """Records in `folder/<namespace>.json`; every change is a locked read-modify-write of that one file."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.folder = folder
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def _open(self, namespace: str, *, write: bool) -> Iterator[_Entries]:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.folder / f"{namespace}.json"
        with self._thread_lock, open(self.folder / ".lock", "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                entries = self._read(path)
                before = json.dumps(entries, sort_keys=True)
                yield entries
                if write:
                    now = self.clock()
                    kept = {key: entry for key, entry in entries.items() if _alive(entry, now)}
                    if json.dumps(kept, sort_keys=True) != before:
                        write_private_file(path, json.dumps(kept, sort_keys=True).encode())
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _read(path: Path) -> _Entries:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            # A torn or hand-edited file: start the namespace again rather than refuse every sign-in.
            log.warning("ignoring unreadable OAuth state file %s; it will be rewritten", path)
            return {}
        return data if isinstance(data, dict) else {}

    async def put(self, namespace: str, key: str, value: Record, *, ttl: float | None = None) -> None:
        await anyio.to_thread.run_sync(self.put_now, namespace, key, value, ttl)

    async def put_if_absent(self, namespace: str, key: str, value: Record, *, ttl: float | None = None) -> bool:
        return await anyio.to_thread.run_sync(self.put_if_absent_now, namespace, key, value, ttl)

    async def get(self, namespace: str, key: str) -> Record | None:
        return await anyio.to_thread.run_sync(self.get_now, namespace, key)

    async def take(self, namespace: str, key: str) -> Record | None:
        return await anyio.to_thread.run_sync(self.take_now, namespace, key)

    async def delete(self, namespace: str, key: str) -> bool:
        return await anyio.to_thread.run_sync(self.delete_now, namespace, key)

    async def list(self, namespace: str) -> dict[str, Record]:
        return await anyio.to_thread.run_sync(self.list_now, namespace)
