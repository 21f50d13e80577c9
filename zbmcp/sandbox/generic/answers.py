"""The answers of generic routes, in the shape Zoho's file gives each: the payload under its key, or its
fields beside code and message, or only the message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zbmcp.sandbox.generic.data import Resource, Route
from zbmcp.sandbox.rules.base import Reply
from zbmcp.sandbox.store import Record, public

_EMPTY: dict[str, Any] = {"string": "", "number": 0, "integer": 0, "boolean": False, "array": [],
                          "object": {}}


@dataclass(frozen=True)
class FlatReply(Reply):
    """An answer whose payload sits beside code and message (Zoho's files draw a few so)."""

    fields: dict[str, Any] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        return {"code": 0, "message": self.message, **self.fields}


def shown(record: Record) -> Record:
    """The record as a client sees it: without the sandbox's bookkeeping (its parents, its order)."""
    return public(record)


def empty(kind: str | None) -> Any:
    value = _EMPTY.get(kind or "", None)
    return type(value)() if isinstance(value, (list, dict)) else value


def record(route: Route, of: Resource | None, found: Record | None) -> Reply:
    """A route's answer about one record: under its key (in a list where Zoho's answer is a list of them),
    spread beside code and message, or only the message."""
    if found is None or (route.key is None and not route.flat):
        return Reply(route.status, route.message)
    if route.key is None and of is not None and of.record_key in route.flat:
        fields = {name: empty(kind) for name, kind in route.flat.items()}
        return FlatReply(route.status, route.message, fields={**fields, of.record_key: shown(found)})
    if route.key is None:
        return FlatReply(route.status, route.message, fields=shown(found))
    value: Any = shown(found)
    if route.payload == "array" and (of is None or route.key != of.record_key):
        value = [value]
    return Reply(route.status, route.message, route.key, value)


def nothing(route: Route, known: dict[str, Any] | None = None) -> Reply:
    """Zoho's shape with nothing in it, but for what the sandbox does know (`known`): for what it does not
    keep (a PDF, a depreciation forecast, a template list)."""
    known = known or {}
    if route.flat:
        return FlatReply(route.status, route.message,
                         fields={name: known.get(name, empty(kind)) for name, kind in route.flat.items()})
    if route.key is None:
        return Reply(route.status, route.message)
    value = known or empty(route.payload)
    if known and route.payload == "array":
        value = [known]
    return Reply(route.status, route.message, route.key, value)
