"""Estimates (§4.3): quotes to customers; draft until sent or emailed. A sent estimate past its expiry shows
"expired"."""

from __future__ import annotations

import copy

from zbmcp.sandbox import filters
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.rules import documents, mail
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.rules.documents import DocSpec
from zbmcp.sandbox.store import OrgStore, Record, public

SPEC = DocSpec("estimates", "estimate_id", "estimate_number", "estimate", "Estimate", "customer")
_STATUSES = ("draft", "sent", "invoiced", "accepted", "declined", "expired")


def _is(status: str) -> Predicate:
    return lambda record: record["status"] == status


LIST = ListSpec(
    key="estimates",
    report_name="Estimates",
    fields={
        "estimate_number": Filterable("exact"),
        "reference_number": Filterable("exact"),
        "customer_name": Filterable("text"),
        "item_name": Filterable("text", lambda r: [line["name"] for line in r["line_items"]]),
        "item_description": Filterable("text", lambda r: [line["description"] for line in r["line_items"]]),
        "item_id": Filterable("id", lambda r: [line["item_id"] for line in r["line_items"]]),
        "customer_id": Filterable("id"),
        "zcrm_potential_id": Filterable("id"),
        "total": Filterable("number"),
        "date": Filterable("date"),
        "expiry_date": Filterable("date"),
    },
    statuses={status: _is(status) for status in _STATUSES},
    filter_by={"Status.All": lambda r: True} | {f"Status.{status.capitalize()}": _is(status)
                                                for status in _STATUSES},
    search=("estimate_number", "reference_number", "customer_name"),
    sort_columns=frozenset({"customer_name", "estimate_number", "date", "total", "created_time"}),
    default_sort="created_time",
    row_exclude=frozenset({"line_items", "billing_address", "shipping_address", "notes", "terms", "taxes",
                           "sub_total", "tax_total", "price_precision", "discount_amount",
                           "adjustment_description"}),
)


def present(store: OrgStore, estimate: Record) -> Record:
    shown = copy.deepcopy(estimate)
    expiry = shown["expiry_date"]
    if shown["status"] == "sent" and expiry and expiry < store.today().isoformat():
        shown["status"] = "expired"
    return shown


def list_estimates(call: Call) -> Reply:
    records = [present(call.org, estimate) for estimate in call.org.estimates.values()]
    page = filters.run(LIST, records, call.query)
    return Reply(200, "success", "estimates", page.rows, page.page_context)


def get_estimate(call: Call) -> Reply:
    estimate = existing(call.org.estimates, call.params["estimate_id"], "Estimate")
    return Reply(200, "success", "estimate", public(present(call.org, estimate)))


def create_estimate(call: Call) -> Reply:
    record, body = documents.build(SPEC, call, None)
    send = call.sends()
    record.update(expiry_date=documents.later_date(body, "expiry_date", record["date"]),
                  status="sent" if send else "draft", is_emailed=send)
    email = mail.compose(call, "estimate", record, "estimate_number", custom=True) if send else None
    call.org.add("estimates", record["estimate_id"], record)
    if email is not None:
        call.env.outbox.append(email)
    return Reply(201, "The estimate has been created", "estimate", public(present(call.org, record)))


def email_estimate(call: Call) -> Reply:
    estimate = existing(call.org.estimates, call.params["estimate_id"], "Estimate")
    email = mail.compose(call, "estimate", estimate, "estimate_number")
    if estimate["status"] == "draft":
        estimate["status"] = "sent"
    estimate["is_emailed"] = True
    estimate["last_modified_time"] = call.org.timestamp()
    call.env.outbox.append(email)
    return Reply(200, "Your estimate has been sent.")
