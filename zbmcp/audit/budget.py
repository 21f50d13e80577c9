"""How many records of one kind strangers can make zbmcp write: refusals of requests anyone can send (a wrong
key or token at /mcp) are on the record, but a flood of them can neither fill the disk nor drown the log.

In each window at most `per_source` records come from one source (a client's address) and `in_all` from
everyone; what is left out is counted, and handed to `summarize` once, when the next window's first record
arrives or at flush() (the server stopping).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

SOURCES_COUNTED = 10_000  # beyond this many left-out sources in a window, the summary says "at least"


class RecordBudget:
    def __init__(self, summarize: Callable[[int, str], None], *, per_source: int = 10, in_all: int = 100,
                 window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        """summarize(records left out, how many sources they came from, as words: "3", "at least 10000")."""
        self.per_source = per_source
        self.in_all = in_all
        self._summarize = summarize
        self._window = window_seconds
        self._clock = clock
        self._started = clock()
        self._written: Counter[str] = Counter()
        self._left_out = 0
        self._left_out_from: set[str] = set()

    def admit(self, source: str) -> bool:
        """True: write this record. False: it is counted into the window's summary instead."""
        if self._clock() - self._started >= self._window:
            self.flush()
            self._written.clear()
            self._started = self._clock()
        if self._written[source] >= self.per_source or self._written.total() >= self.in_all:
            self._left_out += 1
            if len(self._left_out_from) < SOURCES_COUNTED:
                self._left_out_from.add(source)
            return False
        self._written[source] += 1
        return True

    def flush(self) -> None:
        if self._left_out:
            many = len(self._left_out_from)
            self._summarize(self._left_out, f"at least {many}" if many >= SOURCES_COUNTED else str(many))
        self._left_out = 0
        self._left_out_from = set()
