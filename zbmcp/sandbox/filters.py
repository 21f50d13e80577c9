"""List endpoints: filters, search, sorting and paging with Zoho's query parameters (§4, §5).

Filter grammar, shared by every module (§5):
    text fields    <f>, <f>_startswith, <f>_contains        (case-insensitive; plain <f> is "contains" for
                                                             names and descriptions, equality for numbers)
    numbers        <f>, <f>_less_than, <f>_less_equals, <f>_greater_than, <f>_greater_equals, <f>_start,
                   <f>_end
    dates          <f>, <f>_start, <f>_end (inclusive), <f>_before, <f>_after (exclusive); yyyy-mm-dd
    ids            <f> (equality)
    status=<value>, filter_by=<Group.Value>, search_text, sort_column, sort_order=A|D, page, per_page

Unknown parameters are ignored, as Zoho does; a known parameter with a value outside its set (status=bogus,
filter_by=Nope, sort_column=colour, page=0, a non-date date) is HTTP 400 code 2 naming the parameter.
per_page above 200 is clamped to 200: Zoho documents 200 as the maximum, and whether it refuses or clamps a
larger value is unverified (§10.4); clamping keeps a client that asks for "as many as possible" working.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from zbmcp.sandbox.errors import invalid_value
from zbmcp.sandbox.fields import parse_bool, parse_date, parse_number
from zbmcp.sandbox.store import Record, public

MAX_PER_PAGE = 200

Kind = Literal["text", "exact", "id", "number", "date", "bool"]
Predicate = Callable[[Record], bool]

_TEXT_SUFFIXES = ("_startswith", "_contains")
_NUMBER_SUFFIXES: dict[str, Callable[[Any, Any], bool]] = {
    "_less_than": operator.lt,
    "_less_equals": operator.le,
    "_greater_than": operator.gt,
    "_greater_equals": operator.ge,
    "_start": operator.ge,
    "_end": operator.le,
}
_DATE_SUFFIXES: dict[str, Callable[[Any, Any], bool]] = {
    "_start": operator.ge,
    "_end": operator.le,
    "_before": operator.lt,
    "_after": operator.gt,
}
_RESERVED = frozenset({
    "organization_id", "page", "per_page", "sort_column", "sort_order", "search_text", "status", "filter_by",
    "response_option", "accept", "print", "showbalance",
})


@dataclass(frozen=True)
class Filterable:
    kind: Kind
    # default: the record's own key; may return a list (any matches)
    get: Callable[[Record], Any] | None = None


@dataclass(frozen=True)
class ListSpec:
    key: str
    report_name: str
    fields: Mapping[str, Filterable]
    sort_columns: frozenset[str]
    default_sort: str
    default_order: Literal["A", "D"] = "D"
    statuses: Mapping[str, Predicate] = field(default_factory=dict)
    filter_by: Mapping[str, Predicate] = field(default_factory=dict)
    default_filter: str = "Status.All"
    search: tuple[str, ...] = ()
    row_exclude: frozenset[str] = frozenset()

    def row(self, record: Record) -> Record:
        return {key: value for key, value in public(record).items() if key not in self.row_exclude}


@dataclass(frozen=True)
class Page:
    rows: list[Record]
    page_context: dict[str, Any]


def run(spec: ListSpec, records: list[Record], query: Mapping[str, str]) -> Page:
    predicates = _predicates(spec, query)
    applied_filter = _filter_name(spec, query.get("filter_by"))
    predicates.append(spec.filter_by.get(applied_filter, _always))
    sort_column = query.get("sort_column") or spec.default_sort
    if sort_column not in spec.sort_columns:
        raise invalid_value("sort_column")
    sort_order = query.get("sort_order") or spec.default_order
    if sort_order not in ("A", "D"):
        raise invalid_value("sort_order")
    page = _positive_int(query.get("page"), "page", 1)
    per_page = min(_positive_int(query.get("per_page"), "per_page", MAX_PER_PAGE), MAX_PER_PAGE)

    matching = [record for record in records if all(predicate(record) for predicate in predicates)]
    ordered = _sort(matching, sort_column, descending=sort_order == "D")
    start = (page - 1) * per_page
    rows = [spec.row(record) for record in ordered[start:start + per_page]]
    return Page(
        rows=rows,
        page_context={
            "page": page,
            "per_page": per_page,
            "has_more_page": len(ordered) > start + per_page,
            "report_name": spec.report_name,
            "applied_filter": applied_filter,
            "sort_column": sort_column,
            "sort_order": sort_order,
        },
    )


def _always(record: Record) -> bool:
    return True


def _filter_name(spec: ListSpec, value: str | None) -> str:
    if value is None or value == "":
        return spec.default_filter
    for name in spec.filter_by:
        if name.lower() == value.lower():  # clients spell Status.OverDue / Status.Overdue both ways
            return name
    raise invalid_value("filter_by")


def _positive_int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
        raise invalid_value(name)
    return int(value)


def _predicates(spec: ListSpec, query: Mapping[str, str]) -> list[Predicate]:
    predicates: list[Predicate] = []
    status = query.get("status")
    if status:
        match = spec.statuses.get(status.lower())
        if match is None:
            raise invalid_value("status")
        predicates.append(match)
    search_text = query.get("search_text")
    if search_text:
        needle = search_text.lower()
        fields = spec.search
        predicates.append(lambda record: any(needle in _lower(value) for name in fields
                                             for value in _values(record, name, spec)))
    for key, raw in query.items():
        if key in _RESERVED or raw == "":
            continue
        parsed = _parse_key(spec, key)
        if parsed is not None:
            name, suffix = parsed
            predicates.append(_predicate(spec, name, suffix, raw, key))
    return predicates


def _parse_key(spec: ListSpec, key: str) -> tuple[str, str] | None:
    if key in spec.fields:
        return key, ""
    for suffixes, kinds in ((_TEXT_SUFFIXES, ("text", "exact")), (tuple(_NUMBER_SUFFIXES), ("number",)),
                            (tuple(_DATE_SUFFIXES), ("date",))):
        for suffix in suffixes:
            base = key[: -len(suffix)]
            if key.endswith(suffix) and base in spec.fields and spec.fields[base].kind in kinds:
                return base, suffix
    return None


def _predicate(spec: ListSpec, name: str, suffix: str, raw: str, key: str) -> Predicate:
    test = _value_test(spec.fields[name].kind, suffix, raw, key)
    return lambda record: any(test(value) for value in _values(record, name, spec))


def _value_test(kind: Kind, suffix: str, raw: str, key: str) -> Callable[[Any], bool]:
    """Whether one value of a field passes the filter `key=raw` (a bad `raw` is refused here, at once)."""
    if kind in ("text", "exact"):
        needle = raw.lower()
        if suffix == "_startswith":
            return lambda value: _lower(value).startswith(needle)
        if suffix == "_contains" or kind == "text":
            return lambda value: needle in _lower(value)
        return lambda value: _lower(value) == needle
    if kind == "id":
        return lambda value: str(value) == raw
    if kind == "bool":
        wanted = parse_bool(raw, key)
        return lambda value: bool(value) is wanted
    if kind == "number":
        bound = parse_number(raw, key)
        compare = _NUMBER_SUFFIXES.get(suffix, operator.eq)
        return lambda value: isinstance(value, (int, float)) and compare(float(value), bound)
    day = parse_date(raw, key)
    compare = _DATE_SUFFIXES.get(suffix, operator.eq)
    return lambda value: isinstance(value, str) and value != "" and compare(value[:10], day)


def _values(record: Record, name: str, spec: ListSpec) -> list[Any]:
    filterable = spec.fields.get(name)
    value = filterable.get(record) if filterable and filterable.get else record.get(name)
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _lower(value: Any) -> str:
    return str(value).lower()


def _sort(records: list[Record], column: str, *, descending: bool) -> list[Record]:
    """Missing values go last either way; ties keep creation order (newest first when descending)."""
    present = [record for record in records if record.get(column) not in (None, "")]
    missing = [record for record in records if record.get(column) in (None, "")]

    def key(record: Record) -> tuple[int, float, str, int]:
        value = record[column]
        if isinstance(value, (int, float)):
            return 0, float(value), "", record.get("_seq", 0)
        return 1, 0.0, str(value).lower(), record.get("_seq", 0)

    present.sort(key=key, reverse=descending)
    missing.sort(key=lambda record: record.get("_seq", 0), reverse=descending)
    return present + missing
