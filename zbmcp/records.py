"""A namespaced store of small JSON records that expire: where console sessions, sign-in failures and the
approval inbox keep what every process and replica must agree on.

    put(ns, key, value, ttl)            write (or overwrite) a record that disappears after ttl seconds
    get(ns, key)                        the record, or None once it expired or was never there
    take(ns, key)                       get and delete in one atomic step: exactly one caller gets it
    put_if_absent(ns, key, value, ttl)  write only if no live record is there; True if this caller wrote it
    delete(ns, key)
    items(ns)                           every live record of a namespace

Two implementations: in memory (one process) and SQLite (every process on one machine sharing ZBMCP_HOME,
e.g. stdio servers and `zbmcp console`). The interface is the State record store's, so a shared backend
(Redis, for replicas) plugs in without touching a caller.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import anyio

Record = dict[str, Any]


class Records(Protocol):
    async def put(self, namespace: str, key: str, value: Record, ttl: float) -> None: ...
    async def get(self, namespace: str, key: str) -> Record | None: ...
    async def take(self, namespace: str, key: str) -> Record | None: ...
    async def put_if_absent(self, namespace: str, key: str, value: Record, ttl: float) -> bool: ...
    async def delete(self, namespace: str, key: str) -> None: ...
    async def items(self, namespace: str) -> dict[str, Record]: ...


class MemoryRecords:
    """One process's records (tests, and a single server with no folder to share)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._data: dict[tuple[str, str], tuple[float, str]] = {}

    def _live(self, namespace: str, key: str) -> str | None:
        entry = self._data.get((namespace, key))
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._data[(namespace, key)]
            return None
        return entry[1]

    async def put(self, namespace: str, key: str, value: Record, ttl: float) -> None:
        self._data[(namespace, key)] = (self._clock() + ttl, json.dumps(value))

    async def get(self, namespace: str, key: str) -> Record | None:
        text = self._live(namespace, key)
        return json.loads(text) if text is not None else None

    async def take(self, namespace: str, key: str) -> Record | None:
        text = self._live(namespace, key)
        if text is None:
            return None
        del self._data[(namespace, key)]
        return json.loads(text)

    async def put_if_absent(self, namespace: str, key: str, value: Record, ttl: float) -> bool:
        if self._live(namespace, key) is not None:
            return False
        await self.put(namespace, key, value, ttl)
        return True

    async def delete(self, namespace: str, key: str) -> None:
        self._data.pop((namespace, key), None)

    async def items(self, namespace: str) -> dict[str, Record]:
        found = {}
        for ns, key in list(self._data):
            if ns == namespace:
                text = self._live(ns, key)
                if text is not None:
                    found[key] = json.loads(text)
        return found


class SqliteRecords:
    """Records in one SQLite file: atomic across the processes of one machine (SQLite's own file locks)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()  # one connection, used by one worker thread at a time
        self._db: sqlite3.Connection | None = None  # opened on first use: most commands never need it

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS records (namespace TEXT NOT NULL, key TEXT NOT NULL, "
                       "value TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (namespace, key))")
            self.path.chmod(0o600)  # sessions and pending calls: as private as the token store
            self._db = db
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def _run(self, work: Callable[[sqlite3.Connection, float], Any]) -> Any:
        def run() -> Any:
            with self._lock:
                db = self._open()
                db.execute("BEGIN IMMEDIATE")  # one writer at a time across processes: each step is atomic
                try:
                    result = work(db, self._clock())
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result

        return await anyio.to_thread.run_sync(run)

    async def put(self, namespace: str, key: str, value: Record, ttl: float) -> None:
        text = json.dumps(value)
        await self._run(lambda db, now: db.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", (namespace, key, text, now + ttl)))

    async def get(self, namespace: str, key: str) -> Record | None:
        row = await self._run(lambda db, now: db.execute(
            "SELECT value FROM records WHERE namespace = ? AND key = ? AND expires > ?",
            (namespace, key, now)).fetchone())
        return json.loads(row[0]) if row else None

    async def take(self, namespace: str, key: str) -> Record | None:
        row = await self._run(lambda db, now: db.execute(
            "DELETE FROM records WHERE namespace = ? AND key = ? RETURNING value, expires",
            (namespace, key)).fetchone())
        if row is None or row[1] <= self._clock():
            return None
        return json.loads(row[0])

    async def put_if_absent(self, namespace: str, key: str, value: Record, ttl: float) -> bool:
        text = json.dumps(value)

        def work(db: sqlite3.Connection, now: float) -> bool:
            db.execute("DELETE FROM records WHERE namespace = ? AND key = ? AND expires <= ?", (namespace, key, now))
            cursor = db.execute("INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?)", (namespace, key, text, now + ttl))
            return cursor.rowcount == 1

        return bool(await self._run(work))

    async def delete(self, namespace: str, key: str) -> None:
        await self._run(lambda db, now: db.execute(
            "DELETE FROM records WHERE namespace = ? AND key = ?", (namespace, key)))

    async def items(self, namespace: str) -> dict[str, Record]:
        def work(db: sqlite3.Connection, now: float) -> list[tuple[str, str]]:
            db.execute("DELETE FROM records WHERE expires <= ?", (now,))  # the sweep: nothing else deletes them
            return db.execute("SELECT key, value FROM records WHERE namespace = ?", (namespace,)).fetchall()

        return {key: json.loads(value) for key, value in await self._run(work)}
