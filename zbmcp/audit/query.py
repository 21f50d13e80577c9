"""Reading the audit log fast, newest first, without loading it: the console's audit viewer reads pages of a
file of 100,000 records and more in milliseconds.

    newest(path, filters, limit, before)   a page of matching records, newest first, read backwards from the
                                           end (or from `before`, the cursor of the previous page)
    appended(path, filters, after)         records written after the cursor `after` (live updates)

Cursors are byte offsets into the file. Records are appended in time order, so a time range is found by
binary search; a line is parsed only when the raw bytes already contain every filter value, JSON-encoded.
"""

from __future__ import annotations

import datetime as dt
import json
import mmap
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zbmcp.audit import events as audit_events
from zbmcp.audit.log import fold_calls
from zbmcp.errors import ConfigError

_TIME = re.compile(rb'"time":\s*"([^"]+)"')


@dataclass(frozen=True)
class AuditFilter:
    agent: str | None = None
    tool: str | None = None
    organization: str | None = None
    decision: str | None = None
    event: str | None = None  # a kind of record (zbmcp.audit.events): "call", a family ("oauth") or a step
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def _fields(self) -> dict[str, str]:
        chosen = {"agent": self.agent, "tool": self.tool, "organization": self.organization,
                  "decision": self.decision}
        return {name: value for name, value in chosen.items() if value}

    def needles(self) -> list[bytes]:
        """Byte strings every matching line contains. A call whose outcome is unknown may still be only an
        intent record (decision "allowed" on file), so that decision is checked after folding, not here."""
        values = [v for name, v in self._fields().items() if not (name == "decision" and v == "unknown")]
        needles = [json.dumps(value, ensure_ascii=False).encode() for value in values]
        event = audit_events.needle(self.event) if self.event else None
        return needles + [event] if event else needles

    def matches(self, record: dict[str, Any]) -> bool:
        if any(str(record.get(name) or "") != value for name, value in self._fields().items()):
            return False
        if self.event and not audit_events.is_kind(record, self.event):
            return False
        if self.since or self.until:
            at = parse_time(str(record.get("time", "")))
            if at is None or (self.since and at < self.since) or (self.until and at > self.until):
                return False
        return True


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]  # newest first
    older: int | None  # cursor for the next (older) page; None when the start of the file was reached
    end: int  # cursor for live updates: where the file's complete lines ended when this page was read


def parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def complete_end(path: Path) -> int:
    """The offset just after the file's last complete line (a line being written is not read yet)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    with path.open("rb") as handle:
        position = size
        while position > 0:
            start = max(0, position - 4096)
            handle.seek(start)
            chunk = handle.read(position - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            position = start
    return 0


def newest(path: Path, filters: AuditFilter = AuditFilter(), *, limit: int = 50,
           before: int | None = None, index: ZoneIndex | None = None) -> Page:
    """One row per call, as `zbmcp audit` shows it: a call written ahead shows as its outcome record, or,
    while no outcome follows its intent record, as an outcome unknown (audit.fold_calls' rule)."""
    end = complete_end(path)
    if end == 0:
        return Page([], None, 0)
    upper = end if before is None else max(0, min(before, end))
    lower = 0
    with path.open("rb") as handle:
        if filters.until is not None:
            upper = min(upper, _first_at_or_after(handle, end, filters.until, strictly_after=True))
        if filters.since is not None:
            lower = _first_at_or_after(handle, end, filters.since)
        if upper <= lower:
            return Page([], None, end)
        found: list[dict[str, Any]] = []
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            skip = index.skippable(path, filters) if index is not None else []
            for start, line in _segments_candidates(mapped, lower, upper, filters.needles(), skip):
                record = _parse(line)
                if record is None:
                    continue
                if record.get("phase") == "intent":
                    if _has_outcome(mapped, record, start + len(line), end):
                        continue  # the call's row is its outcome record, met (or filtered out) already
                    record = fold_calls([record])[0]
                if filters.matches(record):
                    found.append(record)
                    if len(found) == limit:
                        return Page(found, start if start > lower else None, end)
    return Page(found, None, end)


def appended(path: Path, filters: AuditFilter = AuditFilter(), *, after: int, limit: int = 200) -> Page:
    """Records written since the cursor `after`, newest first (at most `limit`: the newest ones). A call shows
    once it has its outcome; its intent record alone is not news (a page reload shows an unfinished one)."""
    end = complete_end(path)
    if after > end:  # the file was rotated or truncated: start again from its beginning
        after = 0
    if after == end:
        return Page([], None, end)
    with path.open("rb") as handle:
        handle.seek(after)
        data = handle.read(end - after)
    needles = filters.needles()
    found = []
    for line in reversed(data.split(b"\n")):
        if line and all(needle in line for needle in needles):
            record = _parse(line)
            if record is not None and record.get("phase") != "intent" and filters.matches(record):
                found.append(record)
                if len(found) == limit:
                    break
    return Page(found, None, end)


def _segments_candidates(mapped: mmap.mmap, lower: int, upper: int, needles: list[bytes],
                         skip: list[tuple[int, int]]) -> Iterator[tuple[int, bytes]]:
    """_candidates over [lower, upper) minus the ranges in `skip` (sorted, each starting and ending at a line
    start), last first."""
    position = upper
    for start, end in reversed(skip):
        if end <= lower or start >= position:
            continue
        if end < position:
            yield from _candidates(mapped, max(end, lower), position, needles)
        position = max(start, lower)
        if position <= lower:
            return
    if position > lower:
        yield from _candidates(mapped, lower, position, needles)


def _has_outcome(mapped: mmap.mmap, intent: dict[str, Any], after: int, end: int) -> bool:
    call_id = intent.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        return False
    # Outcomes follow their intents closely: the search usually ends within a few records.
    return mapped.find(json.dumps(call_id).encode(), after, end) >= 0


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None  # a line cut short by a crash must not hide the rest
    return record if isinstance(record, dict) else None


def _candidates(mapped: mmap.mmap, lower: int, upper: int,
                needles: list[bytes]) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each line in [lower, upper) that contains every needle, last first.

    The memory-mapped file is searched for the first needle at C speed, so lines without it cost nothing in
    Python: a filter that matches nothing reads a 45 MB log in milliseconds.
    """
    first, rest = (needles[0], needles[1:]) if needles else (b"\n", [])
    position = upper
    while position > lower:
        hit = mapped.rfind(first, lower, position - 1 if not needles else position)
        if hit < 0:
            if not needles:  # the first line of the range
                yield lower, mapped[lower:position - 1]
            break
        if not needles:  # every line: `hit` is the newline that ends the line before this one
            line_start, line_end = hit + 1, position - 1
        else:
            line_start = max(lower, mapped.rfind(b"\n", lower, hit) + 1)
            found_end = mapped.find(b"\n", hit, upper)
            line_end = found_end if found_end >= 0 else upper
        line = mapped[line_start:line_end]
        if line and all(needle in line for needle in rest):
            yield line_start, line
        position = line_start


def _first_at_or_after(handle: Any, end: int, moment: dt.datetime, *, strictly_after: bool = False) -> int:
    """The offset of the first line whose time is >= moment (> moment if strictly_after); binary search."""
    low, high = 0, end
    while low < high:
        middle = (low + high) // 2
        line_start = _line_start_after(handle, middle)
        if line_start >= end:
            high = middle
            continue
        handle.seek(line_start)
        head = handle.read(200)
        match = _TIME.search(head)
        at = parse_time(match.group(1).decode()) if match else None
        if at is None:
            low = middle + 1  # an unreadable line: look further on
            continue
        if at < moment or (strictly_after and at == moment):
            low = line_start + 1
        else:
            high = middle
    return _line_start_after(handle, low) if low > 0 else 0


def _line_start_after(handle: Any, offset: int) -> int:
    """The start of the first line that begins at or after `offset`."""
    if offset == 0:
        return 0
    handle.seek(offset - 1)
    if handle.read(1) == b"\n":
        return offset
    handle.readline()
    return int(handle.tell())


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


ZONE_BYTES = 4 << 20
_ZONE_FIELDS = re.compile(rb'"(agent|tool|organization|decision|event)"\s*:\s*("(?:[^"\\]|\\.)*")')


class ZoneIndex:
    """Which agents, tools, organizations, decisions and events each 4 MB stretch of the log holds, so a
    filter skips the stretches that cannot match instead of reading them: a filter that matches nothing costs
    as little as one that matches often. Built in a worker thread as the log grows; until a stretch is indexed
    it is read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zones: list[tuple[int, int, dict[bytes, set[bytes]]]] = []
        self._file: tuple[int, int] | None = None  # (device, inode) the zones are for
        self._building = False

    def skippable(self, path: Path, filters: AuditFilter) -> list[tuple[int, int]]:
        wanted = {name.encode(): json.dumps(value, ensure_ascii=False).encode()
                  for name, value in filters._fields().items()
                  if not (name == "decision" and value == "unknown")}
        event = audit_events.needle(filters.event) if filters.event else None
        self._grow(path)
        if not wanted and event is None:
            return []
        with self._lock:
            zones = list(self._zones)
        return [(start, end) for start, end, values in zones
                if any(value not in values.get(name, ()) for name, value in wanted.items())
                or event is not None and not _holds_kind(values.get(b"event", set()), event)]

    @property
    def building(self) -> bool:
        with self._lock:
            return self._building

    def _grow(self, path: Path) -> None:
        try:
            info = path.stat()
        except FileNotFoundError:
            return
        with self._lock:
            if (info.st_dev, info.st_ino) != self._file \
                    or (self._zones and self._zones[-1][1] > info.st_size):
                self._zones, self._file = [], (info.st_dev, info.st_ino)  # a new or rotated log
            indexed = self._zones[-1][1] if self._zones else 0
            if self._building or info.st_size - indexed < ZONE_BYTES:
                return
            self._building = True
        threading.Thread(target=self._build, args=(path, indexed, self._file), name="zbmcp-audit-index",
                         daemon=True).start()

    def _build(self, path: Path, start: int, file: tuple[int, int] | None) -> None:
        zones = []
        try:
            with path.open("rb") as handle:
                end = complete_end(path)
                while end - start >= ZONE_BYTES:
                    handle.seek(start)
                    data = handle.read(ZONE_BYTES)
                    cut = data.rfind(b"\n") + 1
                    if cut == 0:
                        break
                    values: dict[bytes, set[bytes]] = {}
                    for name, value in _ZONE_FIELDS.findall(data[:cut]):
                        values.setdefault(name, set()).add(value)
                    zones.append((start, start + cut, values))
                    start += cut
        except OSError:
            pass  # the log went away: the next page starts again
        with self._lock:
            if file == self._file and zones and (not self._zones or self._zones[-1][1] == zones[0][0]):
                self._zones.extend(zones)
            self._building = False


def _holds_kind(seen: set[bytes], needle: bytes) -> bool:
    """Whether a zone's event names (JSON strings) hold the filter's kind: itself, or a step of it."""
    return any(name.startswith(needle) and name[len(needle):len(needle) + 1] in (b'"', b".") for name in seen)


_RELATIVE = re.compile(r"^(\d+)([mhd])$")


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """'2h', '30m', '7d', or an ISO date/time (UTC unless it says otherwise)."""
    now = now or dt.datetime.now(dt.UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - dt.timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {text!r}: use 30m, 2h, 7d or a date like 2026-11-25 or "
                          "2026-11-25T10:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
