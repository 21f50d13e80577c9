"""Taxes (taxes.yml, settings scope), and the tax a document's lines carry.

A line's `tax_id` names one of the organization's taxes (an unknown one is 400 code 2 naming the line's
field). Its tax is computed per line and rounded half up to the currency's precision, then summed per tax:

    exclusive (is_inclusive_tax false, the default)   tax = round(taxable x rate / 100)
    inclusive (the line's amount holds its tax)        tax = round(taxable x rate / (100 + rate))

where `taxable` is the line's total less its share (pro rata to the line totals) of a document-level
discount given before tax (is_discount_before_tax, the default); a discount after tax leaves the lines
whole. An exclusive tax adds to the total; an inclusive one is already in it. The books put the tax on Tax
Payable: owed on sales, reclaimed on purchases.

Tax groups and compound taxes are not computed: a group's id is not a tax's, so a line naming one is refused,
and a compound tax is applied as a simple one.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from zbmcp.sandbox import fields, filters
from zbmcp.sandbox.errors import already_exists, invalid_value, rule
from zbmcp.sandbox.filters import Filterable, ListSpec
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.store import OrgStore, Record, public

ZERO = Decimal(0)
CENT = Decimal("0.01")
TAX_TYPES = ("tax", "compound_tax")

LIST = ListSpec(
    key="taxes",
    report_name="Taxes",
    fields={"tax_name": Filterable("text"), "tax_type": Filterable("exact")},
    search=("tax_name", "tax_authority_name"),
    sort_columns=frozenset({"tax_name", "tax_percentage", "created_time"}),
    default_sort="tax_name",
    default_order="A",
)


def list_taxes(call: Call) -> Reply:
    page = filters.run(LIST, list(call.org.taxes.values()), call.query)
    return Reply(200, "success", "taxes", page.rows, page.page_context)


def get_tax(call: Call) -> Reply:
    return Reply(200, "success", "tax", public(existing(call.org.taxes, call.params["tax_id"], "Tax")))


def create_tax(call: Call) -> Reply:
    store = call.org
    record = build(store, call.data, None)
    store.add("taxes", record["tax_id"], record)
    return Reply(201, "The tax has been added.", "tax", public(record))


def update_tax(call: Call) -> Reply:
    store = call.org
    current = existing(store.taxes, call.params["tax_id"], "Tax")
    kept = {key: current[key] for key in ("tax_name", "tax_percentage", "tax_type")}
    record = build(store, {**kept, **call.data}, current)
    store.taxes[record["tax_id"]] = record
    # Documents keep the tax they were computed with, as Zoho's do unless told to update drafts.
    return Reply(200, "Tax information has been saved.", "tax", public(record))


def delete_tax(call: Call) -> Reply:
    store = call.org
    tax = existing(store.taxes, call.params["tax_id"], "Tax")
    if used(store, tax["tax_id"]):
        raise rule(f"The tax {tax['tax_name']} is used in transactions and cannot be deleted.")
    del store.taxes[tax["tax_id"]]
    return Reply(200, "The record has been deleted.")


def build(store: OrgStore, body: dict[str, object], current: Record | None) -> Record:
    name = fields.text(body, "tax_name", need=True, max_len=50)
    percentage = fields.number(body, "tax_percentage", need=True, minimum=0)
    assert name is not None and percentage is not None
    if percentage > 100:
        raise invalid_value("tax_percentage")
    tax_type = fields.choice(body, "tax_type", TAX_TYPES, default="tax")
    if any(tax["tax_name"].lower() == name.lower() for tax in store.taxes.values()
           if current is None or tax["tax_id"] != current["tax_id"]):
        raise already_exists("Tax name")
    now = store.timestamp()
    return {
        "tax_id": current["tax_id"] if current else store.new_id(),
        "tax_name": name,
        "tax_percentage": percentage,
        "tax_type": tax_type,
        "tax_specific_type": "",
        "is_value_added": store.organization.country != "U.S.A",
        "is_default_tax": False,
        "is_editable": True,
        "status": "active",
        "created_time": current["created_time"] if current else now,
        "last_modified_time": now,
    }


def used(store: OrgStore, tax_id: str) -> bool:
    documents = [*store.invoices.values(), *store.bills.values(), *store.estimates.values(),
                 *store.salesorders.values(), *store.purchaseorders.values()]
    return any(line.get("tax_id") == tax_id for document in documents for line in document["line_items"]) \
        or any(expense.get("tax_id") == tax_id for expense in store.expenses.values())


def find(store: OrgStore, tax_id: str, field: str) -> Record:
    """The tax a body names; 400 code 2 naming the field when the organization has none by that id."""
    tax = store.taxes.get(tax_id)
    if tax is None:
        raise invalid_value(field)
    return tax


def line_taxes(bases: Sequence[Decimal], rates: Sequence[Decimal | None], *, discount: Decimal,
               before_tax: bool, inclusive: bool) -> list[Decimal]:
    """Each line's tax, rounded to cents: `bases` are the lines' totals, `rates` their tax percentages
    (None: untaxed), `discount` the document's own discount."""
    sub_total = sum(bases, ZERO)
    taxes = []
    for base, rate in zip(bases, rates, strict=True):
        if rate is None or rate == ZERO:
            taxes.append(ZERO)
            continue
        taxable = base
        if before_tax and discount and sub_total:
            taxable -= discount * base / sub_total
        share = rate / (100 + rate) if inclusive else rate / 100
        taxes.append((taxable * share).quantize(CENT, rounding=ROUND_HALF_UP))
    return taxes
