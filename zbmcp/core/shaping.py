"""Zoho's answer -> what an agent reads (pure): compact rows, page sums, one short summary.

A call's result carries the same compact object twice, as MCP asks: `structuredContent`, and its JSON (no
spaces) as the one text block. The main clients hand the model one or the other, never both: Claude Code and
VS Code pass `JSON.stringify(structuredContent)`, Claude Desktop, claude.ai, the OpenAI Agents SDK and
LangChain's adapters pass the text. So each must be small on its own. (docs/tools.md, "What a result looks
like", has the sources.)

    list_*    {"summary", <result_key>: [rows], "page_context": {page, per_page, has_more_page},
               "sums": {...}, "currency_code"}     rows keep the fields an agent acts on (COLUMNS), or more
                                                  with fields="a,b"; "*" keeps every field Zoho sent
    reports   {"summary": the figures asked for, with currency and period, <report name>: for aging one row
               per contact with its buckets, else Zoho's tree without empty parts; "currency_code",
               "page_context"}
    the rest  {"summary", <result_key>: the record without empty values}, or just the summary for actions

Empty values ("", null, [], {}) are left out everywhere: they tell an agent nothing and cost context.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from zbmcp.errors import InvalidArguments
from zbmcp.core.date_filters import rows_outside, warning
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.report_summary import report_summary
from zbmcp.core.wording import summary

FIELDS = "fields"
EVERY_FIELD = "*"
DEFAULT_PAGE_SIZE = 50
MAX_FIELDS = 50
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# The fields a list row keeps by default, by Zoho's list key: ids to act on, number, dates, status,
# counterparty, amounts. Anything else is one `fields` argument away.
COLUMNS: dict[str, tuple[str, ...]] = {
    "invoices": ("invoice_id", "invoice_number", "customer_id", "customer_name", "date", "due_date", "status",
                 "total", "balance"),
    "estimates": ("estimate_id", "estimate_number", "customer_id", "customer_name", "date", "expiry_date",
                  "status", "total"),
    "salesorders": ("salesorder_id", "salesorder_number", "customer_id", "customer_name", "date",
                    "shipment_date", "status", "total"),
    "purchaseorders": ("purchaseorder_id", "purchaseorder_number", "vendor_id", "vendor_name", "date",
                       "delivery_date", "status", "total"),
    "bills": ("bill_id", "bill_number", "vendor_id", "vendor_name", "date", "due_date", "status", "total",
              "balance"),
    "expenses": ("expense_id", "date", "account_name", "paid_through_account_name", "vendor_name",
                 "customer_name", "description", "total"),
    "customerpayments": ("payment_id", "payment_number", "customer_id", "customer_name", "date",
                         "payment_mode", "amount", "unused_amount", "invoice_number"),
    "vendorpayments": ("payment_id", "payment_number", "vendor_id", "vendor_name", "date", "payment_mode",
                       "amount", "balance", "bill_numbers"),
    "contacts": ("contact_id", "contact_name", "contact_type", "email", "outstanding_receivable_amount",
                 "outstanding_payable_amount"),
    "items": ("item_id", "name", "rate", "unit", "item_type"),
    "bankaccounts": ("account_id", "account_name", "account_type", "balance"),
    "chartofaccounts": ("account_id", "account_name", "account_code", "account_type"),
    "organizations": ("organization_id", "name", "currency_code", "is_default_org"),
}
# Amounts worth adding up over a page, by list key.
SUMS: dict[str, tuple[str, ...]] = {
    "invoices": ("total", "balance"),
    "estimates": ("total",),
    "salesorders": ("total",),
    "purchaseorders": ("total",),
    "bills": ("total", "balance"),
    "expenses": ("total",),
    "customerpayments": ("amount", "unused_amount"),
    "vendorpayments": ("amount", "balance"),
    "contacts": ("outstanding_receivable_amount", "outstanding_payable_amount"),
}
REPORTS = "reports"
# An aging report's rows, by Zoho's key: one per customer (receivables) or vendor (payables).
AGING_ROWS = {"invoice": "customers", "bills": "vendors"}
# For a list key zbmcp has no columns for: ids, numbers, names and the usual amounts.
_FALLBACK = re.compile(r"(_id|_number|_name|^name|^date|^due_date|^status|^total|^balance|^amount)$")


@dataclass(frozen=True)
class View:
    """How the agent asked to see a list: the extra fields it wants, or every field."""

    extra: tuple[str, ...] = ()
    every_field: bool = False


@dataclass(frozen=True)
class Shaped:
    structured: dict[str, Any]
    text: str


def takes_fields(spec: ToolSpec) -> bool:
    return spec.is_list and spec.result_key is not None


def split_view(spec: ToolSpec, arguments: Mapping[str, Any]) -> tuple[dict[str, Any], View]:
    """The arguments to send to Zoho (without `fields`; with the default page size) and the View asked for."""
    rest = dict(arguments)
    raw = rest.pop(FIELDS, None)
    if not takes_fields(spec):
        if raw is not None:
            raise InvalidArguments([(FIELDS,
                                     f"is taken by list tools only; {spec.name} returns the whole record")])
        return rest, View()
    if spec.argument_group("per_page") == "query" and rest.get("per_page") is None:
        rest["per_page"] = DEFAULT_PAGE_SIZE
    return rest, _view(raw)


def _view(raw: Any) -> View:
    if raw is None:
        return View()
    names = raw.split(",") if isinstance(raw, str) else raw
    if (not isinstance(names, list) or not all(isinstance(name, str) for name in names)
            or len(names) > MAX_FIELDS):
        raise InvalidArguments([(FIELDS, "must be field names, comma-separated, e.g. "
                                         '"reference_number,notes", or "*" for every field '
                                         f"(at most {MAX_FIELDS})")])
    names = [name.strip() for name in names if name.strip()]
    bad = [name for name in names if name != EVERY_FIELD and not _FIELD_NAME.match(name)]
    if bad:
        raise InvalidArguments([(FIELDS,
                                 f"{bad[0][:40]!r} is not a field name (lowercase letters, digits, _)")])
    return View(extra=tuple(name for name in names if name != EVERY_FIELD), every_field=EVERY_FIELD in names)


def shape(spec: ToolSpec, arguments: Mapping[str, Any], payload: Mapping[str, Any],
          view: View = View(), currency: str | None = None) -> Shaped:
    """The compact result of a successful call: structured content and its text. `currency`: the
    organization's, for a report (Zoho's report answers do not say it)."""
    structured: dict[str, Any] = {"summary": summary(spec, arguments, payload)}
    value = payload.get(spec.result_key) if spec.result_key else None
    if spec.module == REPORTS and spec.result_key:
        return _report(spec, arguments, payload, currency, structured)
    if isinstance(value, list) and spec.is_list:
        structured.update(_list(spec.result_key or "", value, payload.get("page_context"), view))
        broken = rows_outside(arguments, (row for row in value if isinstance(row, Mapping)))
        if broken:
            structured["summary"] += warning(arguments, broken)
    elif value is not None:
        structured[spec.result_key or "result"] = compact(value)
    if not spec.is_list and isinstance(payload.get("page_context"), Mapping):
        structured["page_context"] = compact(payload["page_context"])  # a report's period
    return Shaped(structured, text(structured))


def _report(spec: ToolSpec, arguments: Mapping[str, Any], payload: Mapping[str, Any], currency: str | None,
            structured: dict[str, Any]) -> Shaped:
    """The figures asked for first; the data under the report's own name (aged_receivables, not Zoho's
    `invoice`); the period Zoho applied."""
    key = spec.result_key or ""
    structured["summary"] = report_summary(key, arguments, payload, currency) or structured["summary"]
    value = payload.get(key)
    name = spec.name.removeprefix("get_")
    if isinstance(value, Mapping) and "group_list" in value:
        structured[name] = _aging(value, AGING_ROWS.get(key, "rows"))
    elif value is not None:
        structured[name] = compact(value)
    if currency:
        structured["currency_code"] = currency
    if isinstance(payload.get("page_context"), Mapping):
        structured["page_context"] = compact(payload["page_context"])
    return Shaped(structured, text(structured))


def text(structured: Mapping[str, Any]) -> str:
    return json.dumps(structured, ensure_ascii=False, separators=(",", ":"))


def compact(value: Any) -> Any:
    """The value without empty strings, nulls, empty lists and empty objects, at any depth."""
    if isinstance(value, Mapping):
        kept = {key: compact(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if not _empty(item)}
    if isinstance(value, list):
        return [item for item in (compact(item) for item in value) if not _empty(item)]
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _list(key: str, rows: list[Any], page_context: Any, view: View) -> dict[str, Any]:
    records = [row for row in rows if isinstance(row, Mapping)]
    kept = [compact(row) if view.every_field else _row(key, row, view.extra) for row in records]
    shaped: dict[str, Any] = {key: kept}
    if isinstance(page_context, Mapping):
        shaped["page_context"] = {name: page_context[name] for name in ("page", "per_page", "has_more_page")
                                  if name in page_context}
    sums = _sums(records, SUMS.get(key, ()))
    if sums:
        shaped["sums"] = sums
    currencies = {row.get("currency_code") for row in records} - {None, ""}
    if len(currencies) == 1:  # said once for the page, not on every row
        shaped["currency_code"] = currencies.pop()
        for row in kept:
            row.pop("currency_code", None)
    return shaped


def _row(key: str, row: Mapping[str, Any], extra: Iterable[str]) -> dict[str, Any]:
    columns = COLUMNS.get(key)
    wanted = [*(columns if columns is not None else [name for name in row if _FALLBACK.search(name)]), *extra]
    return compact({name: row[name] for name in dict.fromkeys(wanted) if name in row})


def _sums(rows: list[Mapping[str, Any]], names: Iterable[str]) -> dict[str, float]:
    """Exact sums (in Decimal, as Zoho's amounts are decimal) of the amounts the page's rows carry."""
    sums = {}
    for name in names:
        values = [Decimal(str(row[name])) for row in rows
                  if isinstance(row.get(name), (int, float)) and not isinstance(row.get(name), bool)]
        if values:
            sums[name] = float(sum(values, Decimal(0)))
    return sums


def _aging(report: Mapping[str, Any], rows_key: str) -> dict[str, Any]:
    """Zoho's aging tree -> {total, buckets, rows: one per contact with its non-zero buckets}."""
    rows = []
    groups = [group for group in report.get("group_list") or [] if isinstance(group, Mapping)]
    for group in groups:
        # Zoho wraps the contacts in one group named "none" when the report is not grouped further.
        for contact in group["group_list"] if isinstance(group.get("group_list"), list) else [group]:
            if not isinstance(contact, Mapping):
                continue
            row = {"name": contact.get("name"), "id": contact.get("id"), "total": contact.get("total"),
                   **_buckets(contact.get("intervals"))}
            rows.append(compact(row))
    buckets = _buckets(report.get("intervals"), keep_zero=True)
    return compact({"total": report.get("total"), "buckets": buckets, rows_key: rows})


def _buckets(intervals: Any, *, keep_zero: bool = False) -> dict[str, Any]:
    buckets = {}
    for interval in intervals or []:
        if (isinstance(interval, Mapping) and interval.get("interval")
                and (keep_zero or interval.get("amount"))):
            buckets[str(interval["interval"])] = interval.get("amount")
    return buckets
