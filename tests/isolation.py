"""pytest hooks that keep a failing test's leaks its own (tests/conftest.py imports them; so does the test
that proves it, in a pytest of its own)."""

from __future__ import annotations

__all__ = ["pytest_runtest_makereport", "pytest_runtest_teardown"]

import gc
import sys
from collections.abc import Iterator

import pytest

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield  # type: ignore[misc]
    if report.failed:
        item.stash[_FAILED] = True
    return report  # type: ignore[return-value]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """As a failed test's teardown begins, free what its traceback held (pytest keeps the last one in
    sys.last_*, for post-mortem debugging) and collect it: a socket it leaked then warns in this test's
    teardown, not in whichever test happens to run the garbage collector next."""
    if item.stash.get(_FAILED, False):
        sys.last_type = sys.last_value = sys.last_traceback = None
        gc.collect()
