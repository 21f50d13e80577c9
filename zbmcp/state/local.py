"""LocalState: the State in files under $ZBMCP_HOME/state, shared by every zbmcp process on this machine
(several stdio servers a desktop client started; containers that mount the same volume).

Each namespace is a folder of small files, one per record, named by a hash of the key (a key is never a
path), each rewritten atomically. Every change happens under an flock on the folder's `.lock`, held for
microseconds; the kernel frees it if its holder dies, so a crash never leaves the state locked. Expiry is
in each record, so semantics match Redis's: what expired is gone for every reader, swept or not.

A file that does not parse (a crash mid-write on a filesystem without atomic rename, a person's edit) is
moved to state/corrupt/ with a warning and treated as absent: never trusted, never a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from zbmcp.state.base import (
    EPOCH_NAMESPACE,
    Backend,
    StateUnavailable,
    Value,
    check_budgets,
    check_key,
    check_most,
    check_namespace,
    check_ttl,
    decode,
    encode,
    epoch_name,
    key_fits,
    new_id,
    record_lock,
)
from zbmcp.state.gates import Admission, GateLimits, GateUpdate
from zbmcp.state.local_gates import LocalGates
from zbmcp.state.local_logs import LocalLogs, folder_lock
from zbmcp.files import write_private_file

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 60.0  # expired records are invisible at once; their files are removed this often


@dataclass(frozen=True)
class _Record:
    key: str
    expires: float | None
    value: Value


class LocalState:
    backend: Backend = "local"

    def __init__(self, root: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self._clock = clock
        self._swept: dict[str, float] = {}
        self._gates = LocalGates(root, clock)
        self._logs = LocalLogs(root, clock)

    # -- gates (zbmcp.state.gates) ---------------------------------------------------------------------

    async def admit(self, gates: Sequence[GateLimits], ticket: str, *, lease: float) -> Admission:
        return await self._gates.admit(gates, ticket, lease=lease)

    async def finish(self, gates: Sequence[GateLimits], ticket: str, updates: Sequence[GateUpdate]) -> None:
        await self._gates.finish(gates, ticket, updates)

    async def day_used(self, gate_key: str) -> int:
        return await self._gates.day_used(gate_key)

    # -- records ---------------------------------------------------------------------------------------

    async def put(self, ns: str, key: str, value: Value, *, ttl: float | None,
                  most: int | None = None) -> None:
        check_key(key)
        check_ttl(ttl)
        check_most(most)
        data = encode(value)
        with self._locked(ns) as folder:
            self._write(folder, key, data, ttl)
            if most is not None:
                self._keep_at_most(folder, most)
            self._sweep(ns, folder)

    async def put_if_absent(self, ns: str, key: str, value: Value, *, ttl: float | None) -> bool:
        check_key(key)
        check_ttl(ttl)
        data = encode(value)
        with self._locked(ns) as folder:
            if self._read(folder, key) is not None:
                return False
            self._write(folder, key, data, ttl)
            return True

    async def get(self, ns: str, key: str) -> Value | None:
        if not key_fits(key):
            return None
        with self._locked(ns) as folder:
            record = self._read(folder, key)
        return record.value if record else None

    async def take(self, ns: str, key: str) -> Value | None:
        if not key_fits(key):
            return None
        with self._locked(ns) as folder:
            record = self._read(folder, key)
            if record is None:
                return None
            self._remove(folder, key)
        return record.value

    async def delete(self, ns: str, key: str, *, only_if: Value | None = None) -> bool:
        if not key_fits(key):
            return False
        with self._locked(ns) as folder:
            record = self._read(folder, key)
            if record is None or (only_if is not None and encode(record.value) != encode(only_if)):
                return False
            self._remove(folder, key)
            return True

    async def extend(self, ns: str, key: str, *, only_if: Value, ttl: float) -> bool:
        check_ttl(ttl)
        if not key_fits(key):
            return False
        with self._locked(ns) as folder:
            record = self._read(folder, key)
            if record is None or encode(record.value) != encode(only_if):
                return False
            self._write(folder, key, encode(record.value), ttl)
            return True

    async def items(self, ns: str) -> dict[str, Value]:
        found: dict[str, Value] = {}
        with self._locked(ns) as folder:
            for path in folder.iterdir():
                if path.name.startswith("."):
                    continue
                record = self._parse(path)
                if record is not None:
                    found[record.key] = record.value
        return found

    async def spend(self, ns: str, budgets: Sequence[tuple[str, int]], *, window: float) -> float:
        check_budgets(budgets, window)
        with self._locked(ns) as folder:
            now = self._clock()
            counted: list[list[float]] = []
            wait = 0.0
            for key, limit in budgets:
                record = self._read(folder, key)
                kept = record.value.get("t", []) if record and isinstance(record.value, dict) else []
                times = sorted(t for t in kept if isinstance(t, float | int) and now - window < t <= now)
                if len(times) >= limit:
                    wait = max(wait, times[len(times) - limit] + window - now)
                counted.append(times)
            if wait > 0:
                return wait
            for (key, _), times in zip(budgets, counted):
                self._write(folder, key, encode({"t": [*times, now]}), window)
            self._sweep(ns, folder)
        return 0.0

    async def append(self, log: str, value: Value, *, ttl: float, most: int,
                     unique: str | None = None) -> int | None:
        return self._logs.append(log, value, ttl=ttl, most=most, unique=unique)

    async def read_log(self, log: str, *, after: int = 0, limit: int = 100,
                       newest: bool = False) -> list[tuple[int, Value]]:
        return self._logs.read(log, after=after, limit=limit, newest=newest)

    async def epoch(self) -> str:
        marker = new_id()
        if not await self.put_if_absent(EPOCH_NAMESPACE, "marker", marker, ttl=None):
            stored = await self.get(EPOCH_NAMESPACE, "marker")
            marker = stored if isinstance(stored, str) else marker
        return epoch_name(marker)

    def lock(self, name: str, *, ttl: float, wait: float) -> AbstractAsyncContextManager[None]:
        return record_lock(self, name, ttl=ttl, wait=wait)

    async def ping(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = self.root / f".probe-{new_id()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StateUnavailable(f"zbmcp cannot write its state folder {self.root} "
                                   f"({exc.strerror}).") from None

    async def aclose(self) -> None:
        self._gates.close()

    # -- files -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, ns: str) -> Iterator[Path]:
        check_namespace(ns)
        folder = self.root / "records" / ns
        with folder_lock(folder, ".lock"):
            yield folder

    def _path(self, folder: Path, key: str) -> Path:
        return folder / hashlib.sha256(key.encode()).hexdigest()

    def _read(self, folder: Path, key: str) -> _Record | None:
        record = self._parse(self._path(folder, key))
        return record if record is not None and record.key == key else None

    def _parse(self, path: Path) -> _Record | None:
        """The live record in `path`; None if absent or expired. Called under the folder's lock."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            head, newline, body = data.partition(b"\n")
            meta = json.loads(head)
            key, expires = meta["k"], meta["e"]
            if not newline or not isinstance(key, str) or not (
                    expires is None or (isinstance(expires, float | int) and math.isfinite(expires))):
                raise ValueError("bad header")
            value = decode(body)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            move_aside(path, self.root, "is not a record zbmcp wrote")
            return None
        if expires is not None and expires <= self._clock():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return None
        return _Record(key, expires, value)

    def _write(self, folder: Path, key: str, data: bytes, ttl: float | None) -> None:
        expires = None if ttl is None else self._clock() + ttl
        head = json.dumps({"k": key, "e": expires}, ensure_ascii=False).encode()
        write_private_file(self._path(folder, key), head + b"\n" + data)

    def _remove(self, folder: Path, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(folder, key).unlink()

    def _keep_at_most(self, folder: Path, most: int) -> None:
        """Drop the live records nearest to expiry until `most` are left (called under the folder's lock)."""
        paths = [path for path in folder.iterdir() if not path.name.startswith(".")]
        if len(paths) <= most:
            return
        live = [(record.expires if record.expires is not None else math.inf, path)
                for path in paths if (record := self._parse(path)) is not None]
        live.sort(key=lambda entry: entry[0])
        for _, path in live[: max(0, len(live) - most)]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _sweep(self, ns: str, folder: Path) -> None:
        now = self._clock()
        if now - self._swept.get(ns, 0.0) < SWEEP_EVERY_SECONDS:
            return
        self._swept[ns] = now
        for path in folder.iterdir():
            if not path.name.startswith("."):
                self._parse(path)  # removes what has expired


def move_aside(path: Path, root: Path, why: str) -> None:
    """Keep a file zbmcp cannot trust out of the way (for a person to look at), and say so."""
    corrupt = root / "corrupt"
    target = corrupt / f"{path.parent.name}-{path.name}-{int(time.time())}-{new_id()[:8]}"
    try:
        corrupt.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(path, target)
    except FileNotFoundError:
        return
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        target = Path("(deleted: it could not be moved)")
    log.warning("state file %s %s; moved to %s and rebuilt", path, why, target)


