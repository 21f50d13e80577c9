"""Items (§4.9), under the settings scope: what the organization sells and buys. Lists show active items
unless filter_by says otherwise."""

from __future__ import annotations

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import already_exists, invalid_value, required
from zbmcp.sandbox.filters import Filterable, ListSpec
from zbmcp.sandbox.rules.base import Call, Reply, account_ref, contact_ref, existing
from zbmcp.sandbox.rules.documents import EXPENSE_ACCOUNT_TYPES, SALES_ACCOUNT_TYPES
from zbmcp.sandbox.store import Record, public

LIST = ListSpec(
    key="items",
    report_name="Items",
    fields={
        "name": Filterable("text"),
        "description": Filterable("text"),
        "rate": Filterable("number"),
        "tax_id": Filterable("id"),
        "tax_name": Filterable("exact"),
        "tax_exemption_id": Filterable("id"),
        "account_id": Filterable("id"),
        "is_taxable": Filterable("bool"),
        "sku": Filterable("exact"),
    },
    statuses={"active": lambda r: r["status"] == "active", "inactive": lambda r: r["status"] == "inactive"},
    filter_by={"Status.All": lambda r: True, "Status.Active": lambda r: r["status"] == "active",
               "Status.Inactive": lambda r: r["status"] == "inactive"},
    default_filter="Status.Active",  # §4.9: only active items unless asked
    search=("name", "description", "sku"),
    sort_columns=frozenset({"name", "rate", "tax_name"}),
    default_sort="name",
    default_order="A",
)


def list_items(call: Call) -> Reply:
    page = filters.run(LIST, list(call.org.items.values()), call.query)
    return Reply(200, "success", "items", page.rows, page.page_context)


def get_item(call: Call) -> Reply:
    item = existing(call.org.items, call.params["item_id"], "Item")
    return Reply(200, "success", "item", public(item))


def create_item(call: Call) -> Reply:
    store = call.org
    body = call.data
    name = fields.text(body, "name", need=True, max_len=100)
    rate = fields.number(body, "rate", need=True, minimum=0)
    assert name is not None and rate is not None
    if any(item["name"].lower() == name.lower() for item in store.items.values()):
        raise already_exists("Item name")
    if fields.text(body, "tax_id"):
        raise invalid_value("tax_id")  # the sandbox has no taxes configured
    account_id = fields.ident(body, "account_id")
    account = account_ref(store, account_id, "account_id", SALES_ACCOUNT_TYPES) if account_id else None
    purchase_account_id = fields.ident(body, "purchase_account_id")
    purchase_account = (account_ref(store, purchase_account_id, "purchase_account_id", EXPENSE_ACCOUNT_TYPES)
                        if purchase_account_id else None)
    item_type = fields.choice(body, "item_type", ("sales", "purchases", "sales_and_purchases", "inventory"),
                              default="sales")
    # §4.9: the OAS makes purchase_account_id mandatory for every item that is bought, and
    # inventory_account_id for inventory items.
    if item_type != "sales" and purchase_account is None:
        raise required("purchase_account_id")
    inventory_account_id = fields.ident(body, "inventory_account_id")
    inventory_account = (account_ref(store, inventory_account_id, "inventory_account_id",
                                     frozenset({"stock"}))
                         if inventory_account_id else None)
    if item_type == "inventory" and inventory_account is None:
        raise required("inventory_account_id")
    vendor_id = fields.ident(body, "vendor_id")
    if vendor_id:
        contact_ref(store, vendor_id, "vendor_id", "vendor")
    now = store.timestamp()
    record: Record = {
        "item_id": store.new_id(),
        "name": name,
        "status": "active",
        "description": fields.text(body, "description") or "",
        "rate": rate,
        "unit": fields.text(body, "unit") or "",
        "sku": fields.text(body, "sku") or "",
        "product_type": fields.choice(body, "product_type", ("goods", "service", "digital_service"),
                                      default="service"),
        "item_type": item_type,
        "tax_id": "",
        "tax_name": "",
        "tax_percentage": 0,
        "is_taxable": fields.boolean(body, "is_taxable") is not False,
        "account_id": account_id or "",
        "account_name": account["account_name"] if account else "",
        "purchase_rate": fields.number(body, "purchase_rate", minimum=0) or 0.0,
        "purchase_description": fields.text(body, "purchase_description") or "",
        "purchase_account_id": purchase_account_id or "",
        "purchase_account_name": purchase_account["account_name"] if purchase_account else "",
        "inventory_account_id": inventory_account_id or "",
        "vendor_id": vendor_id or "",
        "created_time": now,
        "last_modified_time": now,
    }
    store.add("items", record["item_id"], record)
    return Reply(201, "The item has been added.", "item", public(record))
