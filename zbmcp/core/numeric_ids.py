"""Ids sent as JSON numbers -> the digit strings Zoho uses (pure).

Zoho's ids are strings of up to 19 digits, and the tool schemas say so, yet some clients send them as numbers
(the MCP Inspector's `--tool-arg organization_id=10234695`, some models). A number is taken as its digits
only when it is certainly the id the caller meant: a JSON integer within JavaScript's safe range (|n| < 2^53).
Beyond it, a client written in JavaScript has already rounded the id to a neighbouring one before sending
(460000000026049123 arrives as 460000000026049150), so the call is refused, never sent with a wrong id; so is
any number with a fraction or an exponent.

Applied to `organization_id` and every `*_id` value and `*_ids` list item, at any depth, before validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zbmcp.errors import InvalidArguments

MAX_EXACT_INTEGER = 2**53 - 1  # Number.MAX_SAFE_INTEGER: every integer up to it survives a JavaScript client
SEND_AS_STRING = 'send ids as strings, e.g. "460000000026049", exactly as the list tools return them'


def ids_as_strings(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the arguments with numeric ids as digit strings; raises InvalidArguments for inexact ones."""
    problems: list[tuple[str, str]] = []
    converted = _object(arguments, "", problems)
    if problems:
        raise InvalidArguments(problems)
    return converted


def _object(value: Mapping[str, Any], path: str, problems: list[tuple[str, str]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and key.endswith("_id"):
            result[key] = _id(item, where, problems)
        elif isinstance(key, str) and key.endswith("_ids") and isinstance(item, list):
            result[key] = [_id(each, f"{where}[{index}]", problems) for index, each in enumerate(item)]
        else:
            result[key] = _nested(item, where, problems)
    return result


def _nested(value: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, Mapping):
        return _object(value, path, problems)
    if isinstance(value, list):
        return [_nested(item, f"{path}[{index}]", problems) for index, item in enumerate(value)]
    return value


def _id(value: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, bool):  # a bool is an int to Python, never an id; validation names the mistake
        return value
    if isinstance(value, int):
        if abs(value) <= MAX_EXACT_INTEGER:
            return str(value)
        problems.append((path, f"is a number too large to be exact in JSON (Zoho ids have up to 19 digits); "
                               f"{SEND_AS_STRING}"))
        return value
    if isinstance(value, float):
        problems.append((path, "is a number with a fraction or an exponent, which no id has; "
                               + SEND_AS_STRING))
        return value
    return _nested(value, path, problems)
