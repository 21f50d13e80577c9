"""Which operation answers a request: the rule modules' own (operations.py) first, then the generic routes
generated from Zoho's files (generic/), so every operation in Zoho's files has an answer.

Among the operations whose path matches, the most specific wins: a literal segment beats a parameter at the
first place they differ (`/users/me` before `/users/{user_id}`, `/bankaccounts/rules` before
`/bankaccounts/{account_id}`), and a rule module's operation beats a generic one of the same shape.
"""

from __future__ import annotations

from collections import defaultdict

from zbmcp.sandbox import operations
from zbmcp.sandbox.errors import UNKNOWN_URL, method_not_allowed
from zbmcp.sandbox.generic import table
from zbmcp.sandbox.operations import Operation

_PARAM = "{}"


def _specificity(operation: Operation) -> tuple[int, ...]:
    return tuple(1 if part.startswith("{") else 0 for part in operation.template.strip("/").split("/"))


def _first_segment(operation: Operation) -> str:
    first = operation.template.strip("/").split("/")[0]
    return _PARAM if first.startswith("{") else first


def _index(ordered: list[Operation]) -> dict[str, list[Operation]]:
    by_first: dict[str, list[Operation]] = defaultdict(list)
    for operation in ordered:
        by_first[_first_segment(operation)].append(operation)
    return dict(by_first)


# sorted() is stable: rule operations, listed first, stay ahead of generic ones of the same shape.
ALL: tuple[Operation, ...] = tuple(sorted([*operations.OPERATIONS, *table.OPERATIONS], key=_specificity))
_BY_FIRST = _index(list(ALL))


def match(method: str, path: str) -> tuple[Operation, dict[str, str]]:
    """The operation for a request path relative to /books/v3; 404 code 5 or 405 when there is none."""
    path = path.rstrip("/") or "/"
    first = path.strip("/").split("/")[0]
    allowed = False
    for operation in [*_BY_FIRST.get(first, []), *_BY_FIRST.get(_PARAM, [])]:
        found = operation.pattern.match(path)
        if found is None:
            continue
        if operation.method == method:
            return operation, found.groupdict()
        allowed = True
    if allowed:
        raise method_not_allowed(method)
    raise UNKNOWN_URL
