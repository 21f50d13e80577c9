"""Plain-English phrases for what a tool call did: the result summary an agent reads and the audit sentence a
person reads. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zbmcp.core.manifest import ToolSpec

_PAST = {"list": "listed", "get": "read", "create": "created", "update": "updated", "delete": "deleted",
         "mark": "marked", "email": "emailed"}
_INFINITIVE = {"list": "list", "get": "read", "create": "create", "update": "update", "delete": "delete",
               "mark": "mark", "email": "email"}
_NAME_KEYS = ("invoice_number", "estimate_number", "salesorder_number", "purchaseorder_number", "bill_number",
              "payment_number", "contact_name", "account_name", "name")


def noun(spec: ToolSpec) -> str:
    """create_customer_payment -> 'customer payment'; mark_invoice_sent -> 'invoice'."""
    words = spec.name.split("_")[1:]
    if spec.name.startswith("mark_"):
        words = words[:-1]
    return " ".join(words)


def _verb(spec: ToolSpec) -> str:
    return spec.name.split("_", 1)[0]


def label(spec: ToolSpec, arguments: Mapping[str, Any], payload: Mapping[str, Any] | None) -> str:
    """How to name the record a call touched: its number or name when Zoho returned one, else its id."""
    record = payload.get(spec.result_key) if payload and spec.result_key else None
    if isinstance(record, Mapping):
        for key in _NAME_KEYS:
            if record.get(key):
                return str(record[key])
    for name in spec.path_params:
        if arguments.get(name):
            return str(arguments[name])
    return ""


def did(spec: ToolSpec, arguments: Mapping[str, Any], payload: Mapping[str, Any] | None) -> str:
    """'created invoice INV-000042', 'listed 12 invoices', 'marked invoice 4600... as sent'."""
    verb = _verb(spec)
    thing = noun(spec)
    if spec.is_list:
        rows = payload.get(spec.result_key) if payload and spec.result_key else None
        if not isinstance(rows, list):
            return f"listed {thing}"
        if len(rows) == 1 and thing.endswith("s") and " of " not in thing:  # not "1 chart of account"
            thing = thing[:-1]
        return f"listed {len(rows)} {thing}"
    name = label(spec, arguments, payload)
    phrase = f"{_PAST.get(verb, verb)} {thing}" + (f" {name}" if name else "")
    if verb == "mark":
        phrase += f" as {spec.name.rsplit('_', 1)[1]}"
    return phrase


def tried(spec: ToolSpec) -> str:
    """'tried to create an invoice'."""
    verb = _verb(spec)
    thing = noun(spec)
    article = "" if spec.is_list else ("an " if thing[:1] in "aeiou" else "a ")
    extra = f" as {spec.name.rsplit('_', 1)[1]}" if verb == "mark" else ""
    return f"tried to {_INFINITIVE.get(verb, verb)} {article}{thing}{extra}"


def summary(spec: ToolSpec, arguments: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """The short line an agent reads above Zoho's payload."""
    text = did(spec, arguments, payload)
    text = text[0].upper() + text[1:]
    if spec.is_list:
        page = payload.get("page_context") or {}
        if isinstance(page, Mapping) and page:
            more = page.get("has_more_page")
            current = page.get("page", 1)
            text += f" (page {current}"
            text += f"; more on page {int(current) + 1})" if more else "; no more pages)"
        return text + "."
    record = payload.get(spec.result_key) if spec.result_key else None
    details = []
    if isinstance(record, Mapping):
        for key in ("status", "total", "balance", "amount"):
            if record.get(key) not in (None, ""):
                details.append(f"{key} {record[key]}")
        if record.get("currency_code") and any(k in record for k in ("total", "amount")):
            details.append(str(record["currency_code"]))
    message = payload.get("message")
    tail = f" ({', '.join(details)})" if details else ""
    said = f" Zoho: {message}" if message and message != "success" else ""
    return f"{text}{tail}.{said}"
