"""LocalState's logs (State.append, State.read_log): a folder per log under $ZBMCP_HOME/state/logs, one small
file per entry named by its number, so reading what is new is one directory listing, and a marker file per
unique key. Numbers come from one counter file for every log, under its own flock.

Every change to a log happens under the flock of its folder's `.lock`; the counter's lock is taken inside it,
always in that order, so two appenders never wait on each other in a circle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from zbmcp.files import write_private_file
from zbmcp.state import files
from zbmcp.state.base import StateUnavailable, Value, check_log, decode, encode

_DIGITS = 20  # entry files are named by their number, zero-padded, so names sort as numbers do
_UNIQUE = "u-"


class LocalLogs:
    def __init__(self, root: Path, clock: Callable[[], float]) -> None:
        self.root = root / "logs"
        self._clock = clock

    def append(self, log: str, value: Value, *, ttl: float, most: int, unique: str | None) -> int | None:
        check_log(log, ttl, most)
        data = encode(value)
        with self._locked(log) as folder:
            now = self._clock()
            marker = folder / (_UNIQUE + _digest(unique)) if unique is not None else None
            if marker is not None and self._live_marker(marker, now):
                return None
            number = self._next_number()
            expires = now + ttl
            head = json.dumps({"e": expires, "u": _digest(unique) if unique is not None else None}).encode()
            write_private_file(folder / f"{number:0{_DIGITS}d}", head + b"\n" + data)
            if marker is not None:
                write_private_file(marker, f"{number} {expires!r}".encode())
            self._trim(folder, most, now)
            return number

    def read(self, log: str, *, after: int, limit: int, newest: bool) -> list[tuple[int, Value]]:
        check_log(log)
        if limit < 1:
            return []
        with self._locked(log) as folder:
            now = self._clock()
            numbers = [n for n in self._numbers(folder) if n > after]
            found: list[tuple[int, Value]] = []
            for number in reversed(numbers) if newest else numbers:
                entry = self._entry(folder, number, now)
                if entry is not None:
                    found.append((number, entry[1]))
                    if len(found) == limit:
                        break
        return sorted(found, key=lambda pair: pair[0])

    # -- files -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, log: str) -> Iterator[Path]:
        folder = self.root / log
        with folder_lock(folder, ".lock"):
            yield folder

    def _next_number(self) -> int:
        with folder_lock(self.root, ".number.lock") as fd:
            raw = files.read_from_start(fd).strip()
            number = (int(raw) if raw.isdigit() else 0) + 1
            files.write_from_start(fd, str(number).rjust(_DIGITS).encode())
            os.fsync(fd)
        return number

    def _numbers(self, folder: Path) -> list[int]:
        return sorted(int(name) for name in os.listdir(folder) if name.isdigit())

    def _entry(self, folder: Path, number: int, now: float) -> tuple[str | None, Value] | None:
        """(its unique key's digest, its value) if live; an expired or unreadable entry is removed."""
        path = folder / f"{number:0{_DIGITS}d}"
        try:
            head, _, body = path.read_bytes().partition(b"\n")
            meta = json.loads(head)
            expires, unique = meta["e"], meta["u"]
            if not isinstance(expires, float | int) or not math.isfinite(expires):
                raise ValueError("bad expiry")
            if expires > now:
                return unique, decode(body)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            pass  # not an entry zbmcp wrote: dropped like an expired one
        self._drop(folder, number)
        return None

    def _live_marker(self, marker: Path, now: float) -> bool:
        try:
            _, _, expires = marker.read_text().partition(" ")
            return float(expires) > now
        except (FileNotFoundError, ValueError):
            return False

    def _trim(self, folder: Path, most: int, now: float) -> None:
        """Drop the expired entries at the front (a log's entries share one ttl, so the oldest expire first),
        then the oldest past `most`, each with its unique key."""
        numbers = self._numbers(folder)
        while numbers and self._entry(folder, numbers[0], now) is None:
            numbers.pop(0)
        for number in numbers[: max(0, len(numbers) - most)]:
            self._drop(folder, number)

    def _drop(self, folder: Path, number: int) -> None:
        path = folder / f"{number:0{_DIGITS}d}"
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
            unique = json.loads(path.read_bytes().partition(b"\n")[0])["u"]
            if isinstance(unique, str):
                marker = folder / (_UNIQUE + unique)
                if marker.read_text().partition(" ")[0] == str(number):
                    marker.unlink()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def folder_lock(folder: Path, name: str) -> Iterator[int]:
    """An flock on `folder/name` (both made if missing): the kernel frees it if its holder dies."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateUnavailable(f"zbmcp cannot use its state folder {folder} ({exc.strerror}).") from None
    try:
        files.lock(fd)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def _digest(unique: str | None) -> str:
    return hashlib.sha256((unique or "").encode()).hexdigest()
