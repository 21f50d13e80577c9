"""The few file operations the local State needs, the same on every OS: a whole-file lock that the kernel
drops if its holder dies, and reading or rewriting a file from its start.

POSIX: flock, pread, pwrite. Windows (Claude Desktop's other home): msvcrt's lock on the file's first byte,
which other processes honour, and seek + read/write. (zbmcp's tests run on Linux; the Windows branch is the
documented msvcrt API and nothing more.)
"""

from __future__ import annotations

import os

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

READ_LIMIT = 1 << 22


def lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    os.lseek(fd, 0, os.SEEK_SET)
    while True:
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for 10 s itself
            return
        except OSError:
            continue


def unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    os.lseek(fd, 0, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def read_from_start(fd: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, READ_LIMIT, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, READ_LIMIT)


def write_from_start(fd: int, data: bytes) -> None:
    if hasattr(os, "pwrite"):
        os.pwrite(fd, data, 0)
        return
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
