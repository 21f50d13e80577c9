"""Checks that hold only if they run fast enough, on a machine that may be busy (the suite on two cores
beside other work): a run slowed past its time proves nothing either way, so it runs again."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest


async def within(seconds: float, check: Callable[[], Awaitable[None]], *, tries: int = 5) -> None:
    """Run `check`, whose assertions hold only if it ends within `seconds` of its start (a record put with
    that ttl still there, say). A failing run that took longer is run again, up to `tries` times; a failing
    run within the time fails the test, as does a machine too slow every time. `check` starts afresh each
    time (new keys)."""
    for _ in range(tries):
        started = time.monotonic()
        try:
            await check()
            return
        except (AssertionError, pytest.fail.Exception):  # an assert, or pytest.raises' DID NOT RAISE
            if time.monotonic() - started < seconds:
                raise
    raise AssertionError(f"{tries} runs in a row took over {seconds} s: the machine is too busy to tell")
