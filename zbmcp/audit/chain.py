"""The audit log's hash chain: how a record is sealed and appended, and how a log is verified.

Each line is one JSON object that ends with three fields:

    {"time": ..., "call_id": ..., ..., "seq": 42, "prev": "<hash of record 41>", "hash": "<sha256>"}

`seq` numbers the records of the chain, `prev` is the hash of the record before, and `hash` is the SHA-256
of the line's own bytes up to `, "hash"` (closed with `}`). An edited record no longer matches its hash, a
removed one leaves a gap in `seq`, records moved around come out of order, and a record edited *and* re-hashed
no longer matches the `prev` of the one after it. Only rewriting every later record too goes unseen, and
cutting records off the end: an anchor kept elsewhere (`zbmcp audit verify` prints one) catches both.

The chain survives rotation (logrotate renaming or truncating the file) and several zbmcp processes appending
to the same file (one stdio server per desktop client): the head of the chain (last seq, last hash, and the
log's inode and size after that append) is kept in a small file next to the log, `.NAME.chain`, whose
exclusive lock every appender holds from reading the head to writing the record. The log itself stays the
authority: when it does not end where the head says (another writer, a crash between the two writes), the
last record of the log is read instead; when it is empty (just rotated), the chain continues from the head.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # no fcntl (Windows): processes do not share the lock; one process per log file there
    fcntl = None  # type: ignore[assignment]

GENESIS = "0" * 64  # the `prev` of the first record of a chain
_SEAL = re.compile(rb', "hash": "([0-9a-f]{64})"\}$')
_HEAD_SIZE = 256  # the head file is rewritten in place with one pwrite: fixed size, padded
_TAIL_BYTES = 65536  # records are bounded well below this (values are cut short before they are recorded)
MIN_FREE_BYTES = 1 << 20  # below this the disk counts as full: a record half-written is worse than none


def seal(fields: dict[str, Any], seq: int, prev: str) -> tuple[bytes, str]:
    """The line for a record (without its newline) and its hash."""
    body = json.dumps({**fields, "seq": seq, "prev": prev}, ensure_ascii=False).encode()
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + b', "hash": "' + digest.encode() + b'"}', digest


def sealed_hash(line: bytes) -> str | None:
    """The hash a line carries if its content still matches it; None if it was edited (or never sealed)."""
    match = _SEAL.search(line)
    if match is None:
        return None
    body = line[: match.start()] + b"}"
    claimed = match.group(1).decode()
    return claimed if hashlib.sha256(body).hexdigest() == claimed else None


def head_path(log: Path) -> Path:
    return log.with_name(f".{log.name}.chain")


# -- appending -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    inode: int = 0
    size: int = -1


class ChainWriter:
    """Appends sealed records to one log. Keeps the log and the chain file open between records (a record
    costs a few system calls, not a dozen), and notices when either was rotated, removed or replaced."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self._log_name = os.fspath(log)
        self._head_name = os.fspath(head_path(log))
        self._log_fd: int | None = None
        self._head_fd: int | None = None

    def append(self, fields: dict[str, Any], *, durable: bool) -> int:
        """Seal `fields` as the next record of the chain and append it to the log; returns its seq.

        Raises OSError (or ValueError for a log that is not a regular file) when the record cannot be written.
        """
        head_fd = self._locked_head()
        try:
            fd, info = self._current_log()
            head = _parse_head(os.pread(head_fd, _HEAD_SIZE, 0))
            previous, needs_newline = _previous(fd, info, head)
            line, digest = seal(fields, previous.seq + 1, previous.hash)
            data = (b"\n" if needs_newline else b"") + line + b"\n"
            written = os.write(fd, data)
            if written != len(data):  # a short write: the disk filled up mid-record
                raise OSError(f"only {written} of {len(data)} bytes of the record were written")
            if durable:
                _sync(fd)
            after = Head(previous.seq + 1, digest, info.st_ino, info.st_size + len(data))
            os.pwrite(head_fd, _format_head(after), 0)
            return after.seq
        except BaseException:
            self.close()  # whatever went wrong, the next record starts from freshly opened files
            raise
        finally:
            if self._head_fd is not None and fcntl is not None:
                fcntl.flock(self._head_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self._log_fd, self._head_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)  # closing also releases the lock
        self._log_fd = self._head_fd = None

    def __del__(self) -> None:
        self.close()

    def _locked_head(self) -> int:
        for _ in range(10):
            if self._head_fd is None:
                self._head_fd = os.open(self._head_name,
                                        os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            if fcntl is not None:
                fcntl.flock(self._head_fd, fcntl.LOCK_EX)
            # The file locked must still be the one at the path (removed and recreated
            # meanwhile: lock that one).
            try:
                if os.fstat(self._head_fd).st_ino == os.stat(self._head_name, follow_symlinks=False).st_ino:
                    return self._head_fd
            except FileNotFoundError:
                pass
            self.close()
        raise OSError(f"{self._head_name} keeps being replaced")

    def _current_log(self) -> tuple[int, os.stat_result]:
        """The log's descriptor and state; reopened when the path now names another
        file (rotated, replaced)."""
        if self._log_fd is not None:
            info = os.fstat(self._log_fd)
            try:
                if os.stat(self._log_name).st_ino == info.st_ino:
                    return self._log_fd, info
            except FileNotFoundError:
                pass
            os.close(self._log_fd)
            self._log_fd = None
        fd = os.open(self._log_name, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise ValueError(f"{self.log} is not a regular file")
        self._log_fd = fd
        return fd, info


def _sync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)  # the data and the new size; not the access times


def probe(log: Path) -> str | None:
    """Why a record could not be appended to `log` right now, or None if it could (nothing is written)."""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(head_path(log), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600))
        fd = os.open(log, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return f"{log} is not a regular file"
            free = os.fstatvfs(fd)
            if free.f_bavail * free.f_frsize < MIN_FREE_BYTES:
                return f"the disk holding {log} is full"
        finally:
            os.close(fd)
    except OSError as exc:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename or log}"
    return None


def _parse_head(raw: bytes) -> Head | None:
    """`seq hash inode size`, padded; None when empty (first use) or damaged: the
    log's last record decides."""
    try:
        seq, digest, inode, size = raw.split()
        head = Head(int(seq), digest.decode("ascii"), int(inode), int(size))
    except (ValueError, UnicodeDecodeError):
        return None
    return head if head.seq >= 0 and re.fullmatch("[0-9a-f]{64}", head.hash) else None


def _format_head(head: Head) -> bytes:
    return f"{head.seq} {head.hash} {head.inode} {head.size}".encode().ljust(_HEAD_SIZE - 1) + b"\n"


def _previous(fd: int, info: os.stat_result, head: Head | None) -> tuple[Head, bool]:
    """The record the next one follows, and whether the log lacks its final newline (a torn last write)."""
    if head is not None and (head.inode, head.size) == (info.st_ino, info.st_size):
        return head, False
    if info.st_size == 0:
        return head or Head(0, GENESIS), False  # a new or freshly rotated file continues the chain
    start = max(0, info.st_size - _TAIL_BYTES)
    tail = os.pread(fd, info.st_size - start, start)
    needs_newline = not tail.endswith(b"\n")
    for line in reversed(tail.splitlines()):
        last = _chained(line)
        if last is not None:
            return last, needs_newline
    return head or Head(0, GENESIS), needs_newline


def _chained(line: bytes) -> Head | None:
    digest = sealed_hash(line)
    if digest is None:
        return None
    try:
        seq = json.loads(line)["seq"]
    except (ValueError, KeyError, TypeError):
        return None
    return Head(seq, digest) if isinstance(seq, int) else None


# -- verifying -------------------------------------------------------------------------------------------


@dataclass
class Verification:
    """What `zbmcp audit verify` found. `problem` names the first break in the chain, if any."""

    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class _Line:
    file: str
    number: int
    raw: bytes

    @property
    def where(self) -> str:
        return f"{self.file} line {self.number}"


def log_files(log: Path) -> list[Path]:
    """The log and its rotated siblings (NAME.1, NAME.2.gz, NAME-20261125...), oldest first."""
    siblings = [p for p in log.parent.glob(f"{log.name}?*") if p.is_file() and p.name != head_path(log).name]
    files = [*siblings, log] if log.exists() else siblings
    return sorted(files, key=first_seq)


def first_seq(path: Path) -> float:
    for line in _lines(path):
        head = _chained(line.raw)
        if head is not None:
            return head.seq
    return float("inf")


def _lines(path: Path) -> Iterator[_Line]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\n")
            if raw.strip():
                yield _Line(path.name, number, raw)


def verify(files: Sequence[Path], *, head: Path | None = None,
           anchor: tuple[int, str] | None = None) -> Verification:
    """Walk the records of `files` (oldest first) and report the first edited, removed or reordered one."""
    result = Verification()
    lines = [line for path in files for line in _lines(path)]
    links = [_chained(line.raw) for line in lines]
    seqs = {link.seq for link in links if link is not None}
    expected: Head | None = None
    previous: _Line | None = None
    for line, link in zip(lines, links, strict=True):
        if link is None:
            if expected is None and not _claims_a_place(line.raw):  # written before the chain began
                result.notes.append(f"{line.where} is not part of the chain (written before it "
                                    "began); not checked")
                continue
            result.problem = _damaged(line)
            return result
        if expected is None:
            if link.seq != 1:
                result.notes.append(f"the chain starts at record {link.seq} ({line.where}): "
                                    "earlier files were not given, so what came before is not checked")
            result.first_seq = link.seq
        elif link.seq != expected.seq + 1:
            result.problem = _out_of_place(line, link.seq, expected.seq, seqs, previous)
            return result
        elif _prev(line.raw) != expected.hash:
            result.problem = (f"record {expected.seq} ({previous.where if previous else '?'}) was edited and "
                              f"re-hashed: record {link.seq} ({line.where}) was chained to a different "
                              "version of it")
            return result
        expected, previous = link, line
        result.records += 1
    if expected is not None:
        result.last_seq, result.last_hash = expected.seq, expected.hash
    _check_head(result, head)
    if anchor is not None and result.problem is None:
        _check_anchor(result, lines, links, anchor)
    return result


def _claims_a_place(raw: bytes) -> bool:
    """Whether a line that does not verify at least looks like a chained record (so it was edited)."""
    return b'"hash"' in raw or b'"seq"' in raw or b'"prev"' in raw


def _damaged(line: _Line) -> str:
    try:
        record = json.loads(line.raw)
    except ValueError:
        return f"{line.where} is not a whole record: it was damaged or edited"
    seq = record.get("seq") if isinstance(record, dict) else None
    if isinstance(seq, int):
        return f"record {seq} ({line.where}) was edited: its content no longer matches its hash"
    return f"{line.where} was inserted into the chain: it carries no seq and hash"


def _out_of_place(line: _Line, seq: int, last: int, seqs: set[int], previous: _Line | None) -> str:
    missing = last + 1
    after = f"after record {last} ({previous.where})" if previous else ""
    if seq <= last:
        return f"records out of order: record {seq} ({line.where}) comes {after}"
    if missing in seqs:
        return f"records out of order: record {seq} ({line.where}) comes {after}, before record {missing}"
    gap = f"record {missing} was" if seq == missing + 1 else f"records {missing} to {seq - 1} were"
    return (f"{gap} removed: the chain jumps from record {last} ({previous.where if previous else '?'}) "
            f"to {seq}")


def _prev(raw: bytes) -> str | None:
    try:
        value = json.loads(raw).get("prev")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _check_head(result: Verification, head_file: Path | None) -> None:
    """The head file remembers the last record written: a log that ends earlier lost its tail."""
    if head_file is None or not head_file.is_file() or result.problem is not None:
        return
    try:
        head = _parse_head(head_file.read_bytes())
    except OSError:
        head = None
    if head is None:
        result.notes.append(f"{head_file} is unreadable, so a cut-off end of the log cannot be "
                            "detected from it")
        return
    seq, digest = head.seq, head.hash
    last = result.last_seq or 0
    if seq > last:
        cut = f"record {seq} was" if seq == last + 1 else f"records {last + 1} to {seq} were"
        result.problem = (f"the log ends at record {last}, but zbmcp last wrote record {seq} (per "
                          f"{head_file.name}): {cut} removed from the end")
    elif seq == last and result.last_hash is not None and digest != result.last_hash:
        result.problem = f"record {seq}, the last one, is not the record zbmcp wrote (per {head_file.name})"


def _check_anchor(result: Verification, lines: list[_Line], chained: list[Head | None],
                  anchor: tuple[int, str]) -> None:
    seq, digest = anchor
    for line, link in zip(lines, chained, strict=True):
        if link is not None and link.seq == seq:
            if link.hash != digest:
                result.problem = (f"record {seq} ({line.where}) is not the one anchored: the log "
                                  "was rewritten from there on (or the anchor is wrong)")
            return
    if result.first_seq is not None and seq < result.first_seq:
        result.notes.append(f"the anchor (record {seq}) is in a file that was not given")
        return
    result.problem = (f"the anchored record {seq} is missing: the log was cut short "
                      f"(it ends at {result.last_seq})")
