"""Sales orders (§4.4) and purchase orders (§4.6): numbered drafts with line items; no state changes yet."""

from __future__ import annotations

from collections.abc import Callable

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.rules import documents
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.rules.documents import DocSpec
from zbmcp.sandbox.store import Record, public

# §4.4: the OAS does not mark line_items required on sales orders; an order without lines makes no sense.
SALESORDER = DocSpec("salesorders", "salesorder_id", "salesorder_number", "salesorder", "Sales Order",
                     "customer")
PURCHASEORDER = DocSpec("purchaseorders", "purchaseorder_id", "purchaseorder_number", "purchaseorder",
                        "Purchase Order", "vendor")


def _is(status: str) -> Predicate:
    return lambda record: record["status"] == status


def _lines(key: str) -> Callable[[Record], list[str]]:
    return lambda record: [line[key] for line in record["line_items"]]


_DOC_ROW_EXCLUDE = frozenset({"line_items", "billing_address", "shipping_address", "notes", "terms", "taxes",
                              "sub_total", "tax_total", "price_precision", "discount_amount",
                              "adjustment_description"})

SALESORDER_LIST = ListSpec(
    key="salesorders",
    report_name="Sales Orders",
    fields={
        "salesorder_number": Filterable("exact"),
        "reference_number": Filterable("exact"),
        "customer_name": Filterable("text"),
        "item_name": Filterable("text", _lines("name")),
        "item_description": Filterable("text", _lines("description")),
        "item_id": Filterable("id", _lines("item_id")),
        "customer_id": Filterable("id"),
        "salesperson_id": Filterable("id"),
        "total": Filterable("number"),
        "date": Filterable("date"),
        "shipment_date": Filterable("date"),
        "last_modified_time": Filterable("date"),
    },
    statuses={status: _is(status) for status in ("draft", "open", "invoiced", "partially_invoiced", "void",
                                                 "overdue")},
    filter_by={"Status.All": lambda r: True, "Status.Open": _is("open"), "Status.Draft": _is("draft"),
               "Status.OverDue": _is("overdue"), "Status.PartiallyInvoiced": _is("partially_invoiced"),
               "Status.Invoiced": _is("invoiced"), "Status.Void": _is("void"),
               "Status.Closed": _is("closed")},
    search=("salesorder_number", "reference_number", "customer_name"),
    sort_columns=frozenset({"customer_name", "salesorder_number", "shipment_date", "last_modified_time",
                            "reference_number", "total", "date", "created_time"}),
    default_sort="created_time",
    row_exclude=_DOC_ROW_EXCLUDE,
)

PURCHASEORDER_LIST = ListSpec(
    key="purchaseorders",
    report_name="Purchase Orders",
    fields={
        "purchaseorder_number": Filterable("exact"),
        "reference_number": Filterable("exact"),
        "item_description": Filterable("text", _lines("description")),
        "vendor_name": Filterable("text"),
        "vendor_id": Filterable("id"),
        "item_id": Filterable("id", _lines("item_id")),
        "total": Filterable("number"),
        "date": Filterable("date"),
        "delivery_date": Filterable("date"),
        "last_modified_time": Filterable("date"),
    },
    statuses={status: _is(status) for status in ("draft", "open", "billed", "cancelled")},
    filter_by={"Status.All": lambda r: True, "Status.Draft": _is("draft"), "Status.Open": _is("open"),
               "Status.Billed": _is("billed"), "Status.Cancelled": _is("cancelled")},
    search=("purchaseorder_number", "reference_number", "vendor_name"),
    sort_columns=frozenset({"vendor_name", "purchaseorder_number", "date", "delivery_date", "total",
                            "created_time"}),
    default_sort="created_time",
    row_exclude=_DOC_ROW_EXCLUDE,
)


def list_salesorders(call: Call) -> Reply:
    page = filters.run(SALESORDER_LIST, list(call.org.salesorders.values()), call.query)
    return Reply(200, "success", "salesorders", page.rows, page.page_context)


def get_salesorder(call: Call) -> Reply:
    order = existing(call.org.salesorders, call.params["salesorder_id"], "Sales Order")
    return Reply(200, "success", "salesorder", public(order))


def create_salesorder(call: Call) -> Reply:
    record, body = documents.build(SALESORDER, call, None)
    record.update(shipment_date=documents.later_date(body, "shipment_date", record["date"]), status="draft",
                  order_status="draft", invoiced_status="", paid_status="",
                  delivery_method=fields.text(body, "delivery_method") or "")
    call.org.add("salesorders", record["salesorder_id"], record)
    # §4.4: the OAS example draws `salesorder` as an array; Zoho's Java parser reads an object.
    return Reply(201, "Sales Order Created Successfully.", "salesorder", public(record))


def list_purchaseorders(call: Call) -> Reply:
    page = filters.run(PURCHASEORDER_LIST, list(call.org.purchaseorders.values()), call.query)
    return Reply(200, "success", "purchaseorders", page.rows, page.page_context)


def get_purchaseorder(call: Call) -> Reply:
    order = existing(call.org.purchaseorders, call.params["purchase_order_id"], "Purchase Order")
    return Reply(200, "success", "purchaseorder", public(order))


def create_purchaseorder(call: Call) -> Reply:
    record, body = documents.build(PURCHASEORDER, call, None)
    record.update(delivery_date=documents.later_date(body, "delivery_date", record["date"]), status="draft",
                  billed_status="", ship_via=fields.text(body, "ship_via") or "",
                  attention=fields.text(body, "attention") or "")
    call.org.add("purchaseorders", record["purchaseorder_id"], record)
    return Reply(201, "Purchase Order has been added.", "purchaseorder", public(record))
