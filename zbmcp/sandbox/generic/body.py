"""A generic route's body, checked against what Zoho's file documents for it before anything changes.

Required fields (on a create) are 400 code 4 "<field> is required." (inside arrays: "line_items[1].amount
is required."); a value of the wrong JSON type, a date that is not yyyy-mm-dd, or a reference to a record that
does not exist is 400 code 2 "Invalid value passed for <field>". Fields the file does not document are
dropped, as Zoho ignores them, and so are a record's own id and its parents' (a body does not move a record).
"""

from __future__ import annotations

from typing import Any

from zbmcp.sandbox.errors import invalid_value, required
from zbmcp.sandbox.fields import parse_bool, parse_date, parse_id, parse_number
from zbmcp.sandbox.generic import records
from zbmcp.sandbox.generic.data import Route
from zbmcp.sandbox.store import OrgStore


def clean(route: Route, store: OrgStore, body: dict[str, Any] | None, *, creating: bool) -> dict[str, Any]:
    """The documented fields of `body`, each checked; on a create, the required ones must be there."""
    body = body or {}
    if creating:
        missing(route.required, body)
    kept: dict[str, Any] = {}
    for name, kind in route.fields.items():
        value = body.get(name)
        if value is None:
            continue
        check(name, kind, value)
        if name in records.REFERENCES:
            records.reference(store, name, value)
        kept[name] = value
    if route.resource is not None:
        for name in records.identity(route.resource):
            kept.pop(name, None)
    return kept


def missing(names: tuple[str, ...], body: dict[str, Any]) -> None:
    for name in names:
        outer, _, inner = name.partition(".")
        if not inner:
            if body.get(name) in (None, "", []):
                raise required(name)
            continue
        elements = body.get(outer)
        for index, element in enumerate(elements if isinstance(elements, list) else []):
            if isinstance(element, dict) and element.get(inner) in (None, ""):
                raise required(f"{outer}[{index}].{inner}")


def check(name: str, kind: str, value: Any) -> None:
    """One value against its JSON type in Zoho's file (ids may come as bare numbers, numbers as text)."""
    if name.endswith("_id") and kind in ("string", "integer", "number"):
        parse_id(value, name)  # Zoho's files type some ids as integers; they are long digit strings (§2)
    elif kind == "string":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise invalid_value(name)
        if name.endswith("date") and isinstance(value, str) and value:
            parse_date(value, name)
    elif kind in ("number", "integer"):
        number = parse_number(value, name)
        if kind == "integer" and not number.is_integer():
            raise invalid_value(name)
    elif kind == "boolean":
        parse_bool(value, name)
    elif kind == "array" and not isinstance(value, list):
        raise invalid_value(name)
    elif kind == "object" and not isinstance(value, dict):
        raise invalid_value(name)
