"""The audit chain's state for the audit page: verified in a worker thread whenever the log has grown, so a
page never waits for a walk through 100,000 records; the page shows the last result and whether a newer check
is running."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from zbmcp.audit import chain as audit_chain
from zbmcp.audit import verify as audit_verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainStatus:
    state: str  # "intact" | "unproven" | "broken" | "checking" | "none"
    text: str


class ChainWatch:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._result: audit_verify.Verification | None = None
        self._checked: tuple[int, ...] | None = None  # the log and chain file the result is for (_seen)
        self._running = False

    def status(self) -> ChainStatus:
        if self.path is None:
            return ChainStatus("none", "")
        seen = _seen(self.path)
        if not any(seen):  # no log and no chain file: nothing written yet, or both deleted since
            with self._lock:
                before = self._result.records if self._result is not None else 0
            if before:
                return ChainStatus("broken", f"Hash chain broken: the audit log and its chain file are gone "
                                             f"({before:,} records were verified here before). Run `zbmcp "
                                             "audit verify` for details.")
            return ChainStatus("none", "")
        with self._lock:
            if seen != self._checked and not self._running:
                self._running = True
                threading.Thread(target=self._check, args=(seen,), name="zbmcp-audit-verify",
                                 daemon=True).start()
            result, running = self._result, self._running
        if result is None:
            return ChainStatus("checking", "Checking the audit log's hash chain…")
        later = " Checking newer records…" if running else ""
        if result.proven:
            return ChainStatus("intact", f"Hash chain intact: {result.records:,} records verified, through "
                                         f"record {result.last_seq}.{later}")
        if result.intact:
            unproven = [*result.missing, *result.unproven][0]
            return ChainStatus("unproven", f"Hash chain unbroken from record {result.first_seq} to "
                                           f"{result.last_seq}, but not proven complete: {unproven}. Run "
                                           f"`zbmcp audit verify` for details.{later}")
        return ChainStatus("broken", f"Hash chain broken: {result.problem} Run `zbmcp audit verify` for "
                                     f"details.{later}")

    @property
    def busy(self) -> bool:
        """A check is running."""
        with self._lock:
            return self._running

    def _check(self, seen: tuple[int, ...]) -> None:
        assert self.path is not None
        result = None
        try:
            result = audit_verify.verify(audit_verify.log_files(self.path),
                                         head=audit_chain.head_path(self.path))
        except Exception as exc:  # noqa: BLE001 - a failed check must not leave the page saying "checking"
            log.warning("could not verify the audit chain (%s)", type(exc).__name__)
        with self._lock:
            if result is not None:
                self._result, self._checked = result, seen
            self._running = False


def _seen(log: Path) -> tuple[int, ...]:
    """What a new check is due for: the log's inode and size, and whether the chain file is there (zeros for
    what is gone)."""
    seen = []
    for path in (log, audit_chain.head_path(log)):
        try:
            info = path.stat()
            seen += [info.st_ino, info.st_size if path == log else 1]
        except FileNotFoundError:
            seen += [0, 0]
    return tuple(seen)
