"""The audit chain's state for the audit page: verified in a worker thread whenever the log has grown, so a
page never waits for a walk through 100,000 records; the page shows the last result and whether a newer check
is running."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from zbmcp.audit import chain as audit_chain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainStatus:
    state: str  # "intact" | "broken" | "checking" | "none"
    text: str


class ChainWatch:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._result: audit_chain.Verification | None = None
        self._checked: tuple[int, int] | None = None  # (inode, size) of the log the result is for
        self._running = False

    def status(self) -> ChainStatus:
        if self.path is None:
            return ChainStatus("none", "")
        try:
            info = self.path.stat()
            seen = (info.st_ino, info.st_size)
        except FileNotFoundError:
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
        if result.intact:
            return ChainStatus("intact", f"Hash chain intact: {result.records:,} records verified, through "
                                         f"record {result.last_seq}.{later}")
        return ChainStatus("broken", f"Hash chain broken: {result.problem} Run `zbmcp audit verify` for "
                                     f"details.{later}")

    @property
    def busy(self) -> bool:
        """A check is running."""
        with self._lock:
            return self._running

    def _check(self, seen: tuple[int, int]) -> None:
        assert self.path is not None
        result = None
        try:
            result = audit_chain.verify(audit_chain.log_files(self.path),
                                        head=audit_chain.head_path(self.path))
        except Exception as exc:  # noqa: BLE001 - a failed check must not leave the page saying "checking"
            log.warning("could not verify the audit chain (%s)", type(exc).__name__)
        with self._lock:
            if result is not None:
                self._result, self._checked = result, seen
            self._running = False
