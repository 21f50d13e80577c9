"""Replacing a file zbmcp writes for itself (a token file, the config when a key is added) without ever
writing through someone else's file.

The new content goes to a temporary file in the same folder, created exclusively (O_EXCL: never a file or a
link that is already there, so a symlink planted at a guessable name is refused, not followed), never through
a symbolic link (O_NOFOLLOW), readable by the owner only from the moment it exists (0600), flushed, then
renamed over the target in one step: a reader sees the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

_ATTEMPTS = 16  # names already taken in a row: someone is planting them


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")


def replace_file(path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Atomically replace `path` with `data`; the result has permissions `mode`.

    durable=False skips the fsyncs, for counters rewritten on every call where losing the last write is fine.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(_ATTEMPTS):
        tmp = temporary_name(path)
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"could not create a temporary file next to {path}: every name tried was taken")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if mode != 0o600 and hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable and os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_private_file(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Atomically replace `path` with `data`, readable by the owner only, in a folder
    only the owner can enter.

    durable=False skips the fsyncs, for counters rewritten on every call where losing the last write is fine.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path.parent, 0o700)
    replace_file(path, data, durable=durable)
