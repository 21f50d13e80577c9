"""Outcome unknown, resolved: after an unclear answer to a create, look in Zoho for the record it may have
made.

zbmcp lists the module's records of the counterparty it sent (customer_id or vendor_id), by the reference it
sent if any, created since just before the call, and reads each in full; a record that holds everything the
call sent (each field, each line) is the call's. Exactly one such record: "written". None, once the request
can no longer be in progress at Zoho (twice the connection's timeout after it was sent): "not written".
Anything else (two that match, a read that failed, too early to tell): "still unknown", with why.

These are zbmcp's own reads (zbmcp.calls.lookups): audited, paced, on the call's connection.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zbmcp.calls.lookups import read_as_zbmcp
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.tool_call import ToolCall
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.requests import ZohoRequest

Resolved = Literal["written", "not_written", "unknown"]
SKEW_SECONDS = 120.0  # Zoho's clock against ours, and created_time's whole seconds
MOST_CANDIDATES = 10  # records read in full: the newest of the counterparty's since the call
COUNTERPARTIES = ("customer_id", "vendor_id")


@dataclass(frozen=True)
class Resolution:
    resolved: Resolved
    evidence: str  # what was looked at, in words, for the audit record and the agent
    record: dict[str, Any] | None = None  # "written": the record, as Zoho's get returns it


def resolvable(spec: ToolSpec) -> bool:
    """Creates only: an update or an action leaves nothing new to look for."""
    return spec.method == "POST" and not spec.path_params and spec.body is not None


async def resolve(runtime: Runtime, call: ToolCall, spec: ToolSpec, request: ZohoRequest, *,
                  sent_at: float, first_call: str) -> Resolution:
    """Whether the create of call `first_call`, sent at `sent_at` (Unix time), made a record."""
    if not resolvable(spec):
        return Resolution("unknown", f"{spec.name} changes a record that exists; zbmcp cannot tell from Zoho "
                                     "whether the change was made")
    body = request.body or {}
    lister = next((s for s in runtime.specs.values() if s.module == spec.module and s.is_list), None)
    getter = next((s for s in runtime.specs.values() if s.module == spec.module and s.method == "GET"
                   and len(s.path_params) == 1 and s.path.startswith(spec.path + "/")), None)
    counterparty = next(((name, body[name]) for name in COUNTERPARTIES if name in body), None)
    if lister is None or getter is None or counterparty is None:
        return Resolution("unknown", f"zbmcp has no way to look up a {spec.module} record by its "
                                     "counterparty")
    why = f"to find what call {first_call} may have written"
    filters: dict[str, Any] = {counterparty[0]: counterparty[1], "per_page": 50}
    if "reference_number" in body and lister.argument_group("reference_number") == "query":
        filters["reference_number"] = body["reference_number"]
    if lister.argument_group("sort_column") == "query":
        filters["sort_column"] = "created_time"
    rows = await read_as_zbmcp(runtime, call, request.organization_id, lister.name, filters, why)
    if not isinstance(rows, list):
        return Resolution("unknown", f"zbmcp could not list the {spec.module} to check ({rows})")
    since = sent_at - SKEW_SECONDS
    recent = [row for row in rows if isinstance(row, dict) and _created(row) is not None
              and _created(row) >= since]  # type: ignore[operator]
    recent.sort(key=lambda row: _created(row) or 0.0, reverse=True)
    matches: list[dict[str, Any]] = []
    identifier = next(iter(getter.path_params))
    for row in recent[:MOST_CANDIDATES]:
        record_id = _id_of(row, identifier)
        if record_id is None:
            continue
        record = await read_as_zbmcp(runtime, call, request.organization_id, getter.name,
                                {identifier: record_id}, why)
        if not isinstance(record, dict):
            return Resolution("unknown", f"zbmcp could not read {spec.module} {record_id} to check "
                                         f"({record})")
        if holds(record, body):
            matches.append(record)
    who = f"{counterparty[0]} {counterparty[1]}"
    looked = (f"{len(recent)} {spec.module} record(s) of {who} created since "
              f"{_iso(since)}{' with that reference_number' if 'reference_number' in filters else ''}")
    if len(matches) == 1:
        found = matches[0]
        return Resolution("written", f"found {_name(found, identifier)}, which holds everything call "
                                     f"{first_call} sent (of {looked})", found)
    if matches:
        names = ", ".join(_name(found, identifier) for found in matches)
        return Resolution("unknown", f"{len(matches)} records hold everything call {first_call} sent: "
                                     f"{names}")
    settled = sent_at + 2 * runtime.connection_of(call.policy.agent).settings.timeout_seconds \
        if call.policy else sent_at
    if time.time() < settled:
        return Resolution("unknown", f"no record holds what call {first_call} sent yet ({looked}), but "
                                     f"Zoho may still be making it; asked again after {_iso(settled)}, zbmcp "
                                     "can tell")
    return Resolution("not_written", f"no record holds what call {first_call} sent ({looked})")


def holds(record: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """Whether the record holds every value sent: scalars equal (ids and numbers by value), lists of objects
    line by line."""
    for name, value in sent.items():
        if name not in record:
            continue  # Zoho does not echo it (send flags, say): nothing to compare
        if not _same(record[name], value):
            return False
    return True


def _same(have: Any, sent: Any) -> bool:
    if isinstance(sent, Mapping):
        return isinstance(have, Mapping) and holds(have, sent)
    if isinstance(sent, list):
        return isinstance(have, list) and len(have) == len(sent) and all(
            _same(h, s) for h, s in zip(have, sent, strict=True))
    if isinstance(sent, bool):
        return str(have).lower() == str(sent).lower()
    if isinstance(sent, int | float):
        try:
            return abs(float(have) - float(sent)) < 1e-9
        except (TypeError, ValueError):
            return False
    return str(have) == str(sent)


def _created(row: Mapping[str, Any]) -> float | None:
    text = row.get("created_time")
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _id_of(row: Mapping[str, Any], identifier: str) -> str | None:
    """The record's id in a list row: the get tool's parameter, spelt as Zoho spells it (purchaseorder_id for
    purchase_order_id)."""
    bare = identifier.replace("_", "")
    for name, value in row.items():
        if name.replace("_", "") == bare and value not in (None, ""):
            return str(value)
    return None


def _name(record: Mapping[str, Any], identifier: str) -> str:
    number = next((str(value) for name, value in record.items() if name.endswith("_number") and value), None)
    ident = _id_of(record, identifier) or "?"
    return f"{number} (id {ident})" if number else f"id {ident}"


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
