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
A write cut off midway (a full disk) leaves a torn line at the end: the next writer seals it
(zbmcp.audit.repairs) before it goes on. zbmcp.audit.verify reads the chain back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zbmcp.audit import repairs

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
        """Seal `fields` as the next record of the chain and append it to the log; returns its seq. A torn
        line left by a write cut off midway is sealed first, in the same write.

        Raises OSError (or ValueError for a log that is not a regular file) when the record cannot be written.
        """
        seq = self._write(fields, durable=durable)
        assert seq is not None
        return seq

    def seal_torn(self) -> int | None:
        """Seal the torn lines at the end of the log, if any (a start after a full disk): the sealing record's
        seq, or None when nothing was torn. Raises as `append` does."""
        return self._write(None, durable=True)

    def _write(self, fields: dict[str, Any] | None, *, durable: bool) -> int | None:
        head_fd = self._locked_head()
        try:
            fd, info = self._current_log()
            head = parse_head(os.pread(head_fd, _HEAD_SIZE, 0))
            tail = _tail(fd, info, head)
            records = []
            if head is None and tail.last.seq > 0:  # the chain file was deleted (or damaged) meanwhile
                records.append(repairs.chain_file_fields(head_path(self.log).name, tail.last.seq))
            if tail.torn:
                records.append(repairs.seal_fields(tail.torn, tail.last.seq))
            if fields is not None:
                records.append(fields)
            if not records:
                return None
            data, last = _chained_lines(records, tail.last)
            if tail.needs_newline:
                data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):  # a short write: the disk filled up mid-record
                raise OSError(f"only {written} of {len(data)} bytes of the record were written")
            if durable:
                _sync(fd)
            after = Head(last.seq, last.hash, info.st_ino, info.st_size + len(data))
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


def parse_head(raw: bytes) -> Head | None:
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


@dataclass(frozen=True)
class _Tail:
    """Where the log ends: the record the next one follows, the torn lines after it, and whether the log lacks
    its final newline (a write cut off midway)."""

    last: Head
    torn: list[bytes]
    needs_newline: bool


def _tail(fd: int, info: os.stat_result, head: Head | None) -> _Tail:
    if head is not None and (head.inode, head.size) == (info.st_ino, info.st_size):
        return _Tail(head, [], False)
    if info.st_size == 0:
        return _Tail(head or Head(0, GENESIS), [], False)  # a new or freshly rotated file continues the chain
    start = max(0, info.st_size - _TAIL_BYTES)
    tail = os.pread(fd, info.st_size - start, start)
    lines = tail.split(b"\n")[1 if start else 0:]  # from the middle of a file, the first is part of a line
    torn: list[bytes] = []
    for line in reversed(lines):
        if not line.strip():
            continue
        last = _chained(line)
        if last is not None:
            return _Tail(last, torn[::-1], not tail.endswith(b"\n"))
        if repairs.is_torn(line):
            torn.append(line)
    return _Tail(head or Head(0, GENESIS), torn[::-1], not tail.endswith(b"\n"))


def _chained_lines(records: list[dict[str, Any]], previous: Head) -> tuple[bytes, Head]:
    """The lines of `records`, chained after `previous`, and the last of them."""
    data = b""
    for fields in records:
        line, digest = seal(fields, previous.seq + 1, previous.hash)
        data += line + b"\n"
        previous = Head(previous.seq + 1, digest)
    return data, previous


def _chained(line: bytes) -> Head | None:
    digest = sealed_hash(line)
    if digest is None:
        return None
    try:
        seq = json.loads(line)["seq"]
    except (ValueError, KeyError, TypeError):
        return None
    return Head(seq, digest) if isinstance(seq, int) else None
