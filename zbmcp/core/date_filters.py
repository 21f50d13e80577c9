"""Whether Zoho applied the date filters a list call sent (pure).

Some filters zbmcp offers are not in Zoho's files (bills' due dates): Zoho ignores a parameter it does not
know and answers every row, which an agent would read as filtered. So the rows are checked against each date
filter sent, and the summary says how many fall outside it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SUFFIXES: dict[str, Callable[[str, str], bool]] = {
    "_start": operator.ge, "_end": operator.le, "_before": operator.lt, "_after": operator.gt,
}


def _equal(seen: str, asked: str) -> bool:
    return seen == asked


def rows_outside(arguments: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """{argument: how many rows break it} for every date filter some row breaks."""
    checks = []
    for name, value in arguments.items():
        if not isinstance(value, str) or not _DATE.match(value):
            continue
        field: str = name
        compare: Callable[[str, str], bool] = _equal
        for suffix, test in _SUFFIXES.items():
            if name.endswith(suffix):
                field, compare = name[: -len(suffix)], test
                break
        checks.append((name, field, compare, value))
    broken: dict[str, int] = {}
    for row in rows:
        for name, field, compare, value in checks:
            seen = row.get(field)
            if isinstance(seen, str) and _DATE.match(seen[:10]) and not compare(seen[:10], value):
                broken[name] = broken.get(name, 0) + 1
    return broken


def warning(arguments: Mapping[str, Any], broken: Mapping[str, int]) -> str:
    said = ", ".join(f"{count} outside {name}={arguments[name]}" for name, count in broken.items())
    return f" Zoho did not apply every date filter ({said}): check the dates before relying on the list."
