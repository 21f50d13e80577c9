"""What invoices, estimates, sales orders, bills and purchase orders share: party,
line items, totals, numbers.

build() validates a whole body and returns the record it would store, without touching the store, so a
refused write changes nothing. On update the body is merged over the stored document's own fields and
line_items, when sent, replaces every line (§4.1 "Update").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from zbmcp.sandbox import fields
from zbmcp.sandbox.errors import already_exists, invalid_value, required
from zbmcp.sandbox.rules import taxes
from zbmcp.sandbox.rules.base import Call, account_ref, contact_ref, payment_terms_label
from zbmcp.sandbox.store import OrgStore, Record

# Fields a client may send for any document, and that an update carries over from the stored one.
_HEADER = (
    "date", "reference_number", "notes", "terms", "discount", "discount_type", "is_discount_before_tax",
    "shipping_charge", "adjustment", "adjustment_description", "salesperson_name", "exchange_rate",
    "custom_fields", "currency_id", "payment_terms", "due_date", "expiry_date", "shipment_date",
    "delivery_date", "delivery_method", "ship_via", "attention", "allow_partial_payments", "is_inclusive_tax",
)
_LINE_INPUT = ("line_item_id", "item_id", "name", "description", "rate", "quantity", "unit", "discount",
               "account_id", "tax_id")
SALES_ACCOUNT_TYPES = frozenset({"income", "other_income", "finance_income"})
EXPENSE_ACCOUNT_TYPES = frozenset({
    "expense", "cost_of_goods_sold", "other_expense", "manufacturing_expense", "impairment_expense",
    "depreciation_expense", "employee_benefit_expense", "lease_expense", "finance_expense", "tax_expense",
    "fixed_asset", "other_current_asset", "other_asset",
})


MAX_TERMS = 3650  # days


@dataclass(frozen=True)
class DocSpec:
    collection: str  # "invoices"
    id_field: str  # "invoice_id"
    number_field: str  # "invoice_number"
    numbering: str | None  # key of store.NUMBERING; None: the client supplies the number (bills)
    thing: str  # "Invoice": 1002 and 1001 messages
    party: Literal["customer", "vendor"]
    lines_required: bool = True

    @property
    def party_field(self) -> str:
        return f"{self.party}_id"

    @property
    def purchase(self) -> bool:
        return self.party == "vendor"


def merged_body(spec: DocSpec, call: Call, current: Record | None) -> dict[str, Any]:
    body = dict(call.data)
    if current is None:
        return body
    merged: dict[str, Any] = {key: current[key] for key in _HEADER if key in current}
    merged[spec.party_field] = current[spec.party_field]
    merged["line_items"] = [{key: line[key] for key in _LINE_INPUT if key in line}
                            for line in current["line_items"]]
    if spec.number_field in current:
        merged[spec.number_field] = current[spec.number_field]
    if ("date" in body or "payment_terms" in body) and "due_date" not in body:
        merged.pop("due_date", None)  # a new date or terms moves the due date, unless one is sent too
    merged.update(body)
    return merged


def build(spec: DocSpec, call: Call, current: Record | None) -> tuple[Record, dict[str, Any]]:
    """Validate the (merged) body; return the document's common fields and the merged body for the caller."""
    store = call.org
    body = merged_body(spec, call, current)
    party_id = fields.ident(body, spec.party_field, need=True)
    assert party_id is not None
    party = contact_ref(store, party_id, spec.party_field, spec.party)
    raw_lines = fields.objects(body, "line_items", need=spec.lines_required, non_empty=spec.lines_required) \
        or []
    old_lines = {line["line_item_id"] for line in current["line_items"]} if current else set()
    lines = [_line(store, raw, index, spec, call, old_lines) for index, raw in enumerate(raw_lines)]
    doc_date = fields.day(body, "date") or store.today().isoformat()
    currency_id = fields.ident(body, "currency_id")
    if currency_id is not None and currency_id != store.organization.currency_id:
        raise invalid_value("currency_id")  # the sandbox keeps one currency per organization
    exchange_rate = fields.number(body, "exchange_rate", positive=True)
    shipping = fields.number(body, "shipping_charge", minimum=0) or 0.0
    adjustment = fields.number(body, "adjustment") or 0.0
    discount_raw = body.get("discount")
    sub_total = fields.money(sum((fields.dec(line["item_total"]) for line in lines), Decimal(0)))
    discount_amount = _discount(discount_raw, sub_total, "discount")
    inclusive = bool(fields.boolean(body, "is_inclusive_tax"))
    before_tax = fields.boolean(body, "is_discount_before_tax") is not False
    rates = [fields.dec(line["tax_percentage"]) if line["tax_id"] else None for line in lines]
    line_taxes = taxes.line_taxes([fields.dec(line["item_total"]) for line in lines], rates,
                                  discount=fields.dec(discount_amount), before_tax=before_tax,
                                  inclusive=inclusive)
    tax_total = sum(line_taxes, Decimal(0))
    total = fields.money(fields.dec(sub_total) - fields.dec(discount_amount) + fields.dec(shipping)
                         + fields.dec(adjustment) + (Decimal(0) if inclusive else tax_total))
    if total < 0:
        raise invalid_value("adjustment" if adjustment < 0 else "discount")
    number = _number(spec, call, body, current)
    org = store.organization
    record: Record = {
        spec.id_field: current[spec.id_field] if current else store.new_id(),
        spec.number_field: number,
        "date": doc_date,
        spec.party_field: party_id,
        f"{spec.party}_name": party["contact_name"],
        "reference_number": fields.text(body, "reference_number", max_len=100) or "",
        "currency_id": org.currency_id,
        "currency_code": org.currency_code,
        "currency_symbol": org.currency_symbol,
        "exchange_rate": exchange_rate or 1.0,
        "discount": discount_raw if discount_amount else 0,
        "discount_amount": discount_amount,
        "discount_type": "entity_level" if discount_amount else "item_level",
        "is_discount_before_tax": before_tax,
        "is_inclusive_tax": inclusive,
        "line_items": lines,
        "sub_total": sub_total,
        "tax_total": fields.money(tax_total),
        "taxes": _tax_summary(lines, line_taxes),
        "_line_taxes": {line["line_item_id"]: fields.money(tax) for line, tax in zip(lines, line_taxes,
                                                                                    strict=True)},
        "shipping_charge": fields.money(shipping),
        "adjustment": fields.money(adjustment),
        "adjustment_description": fields.text(body, "adjustment_description") or "",
        "total": total,
        "notes": fields.text(body, "notes") or "",
        "terms": fields.text(body, "terms") or "",
        "custom_fields": fields.objects(body, "custom_fields") or [],
        "price_precision": 2,
        "created_time": current["created_time"] if current else store.timestamp(),
        "last_modified_time": store.timestamp(),
    }
    if not spec.purchase:
        record["salesperson_name"] = fields.text(body, "salesperson_name") or ""
        record["billing_address"] = dict(party.get("billing_address", {}))
        record["shipping_address"] = dict(party.get("shipping_address", {}))
        record["email"] = party.get("email", "")
    return record, body


def due_date(body: dict[str, Any], party: Record, doc_date: str) -> tuple[int, str, str]:
    """payment_terms (integer days, §4.1), its label and the due date; an explicit due_date wins."""
    terms = fields.integer(body, "payment_terms", minimum=0, maximum=MAX_TERMS)
    if terms is None:
        terms = int(party.get("payment_terms", 0))
    given = fields.day(body, "due_date")
    if given is not None and given < doc_date:
        raise invalid_value("due_date")
    if given is not None:
        return terms, payment_terms_label(terms), given
    try:
        due = (date.fromisoformat(doc_date) + timedelta(days=terms)).isoformat()
    except OverflowError:
        raise invalid_value("date") from None  # a due date past the year 9999
    return terms, payment_terms_label(terms), due


def later_date(body: dict[str, Any], key: str, doc_date: str) -> str:
    value = fields.day(body, key)
    if value is not None and value < doc_date:
        raise invalid_value(key)
    return value or ""


def _line(store: OrgStore, raw: dict[str, Any], index: int, spec: DocSpec, call: Call,
          old_lines: set[str]) -> Record:
    path = f"line_items[{index}]"
    item_id = fields.ident(raw, "item_id", path=f"{path}.item_id")
    item = None
    if item_id is not None:
        item = store.items.get(item_id)
        if item is None:
            raise invalid_value(f"{path}.item_id")
    elif spec.collection == "invoices" and call.env.settings.strict_line_items:
        raise required(f"{path}.item_id")  # §4.1: the OAS lists line_items[].item_id as required on invoices
    name = fields.text(raw, "name", path=f"{path}.name", max_len=200) or (item["name"] if item else None)
    account = _line_account(store, raw, path, spec, item)
    if spec.purchase and account is not None:
        name = name or str(account["account_name"])  # an expense line: just an account, as Zoho allows
    if not name:
        raise required(f"{path}.item_id or {path}.name" + (f" or {path}.account_id" if spec.purchase else ""))
    rate = fields.number(raw, "rate", path=f"{path}.rate", minimum=0)
    if rate is None:
        if item is None:
            raise required(f"{path}.rate")
        rate = float(item.get("purchase_rate") or item["rate"]) if spec.purchase else float(item["rate"])
    quantity = fields.number(raw, "quantity", path=f"{path}.quantity", positive=True)
    quantity = 1.0 if quantity is None else quantity
    gross = fields.money(fields.dec(rate) * fields.dec(quantity))
    discount_amount = _discount(raw.get("discount"), gross, f"{path}.discount")
    tax_id = fields.ident(raw, "tax_id", path=f"{path}.tax_id")
    tax = taxes.find(store, tax_id, f"{path}.tax_id") if tax_id else None
    line_item_id = fields.ident(raw, "line_item_id", path=f"{path}.line_item_id")
    line: Record = {
        "line_item_id": line_item_id if line_item_id in old_lines else store.new_id(),
        "item_id": item_id or "",
        "name": name,
        "description": fields.text(raw, "description", path=f"{path}.description")
        or (str(item.get("description", "")) if item else ""),
        "item_order": index + 1,
        "rate": rate,
        "quantity": quantity,
        "unit": fields.text(raw, "unit", path=f"{path}.unit") or (str(item.get("unit", "")) if item else ""),
        "discount": raw.get("discount") or 0,
        "discount_amount": discount_amount,
        "tax_id": tax["tax_id"] if tax else "",
        "tax_name": tax["tax_name"] if tax else "",
        "tax_type": tax["tax_type"] if tax else "",
        "tax_percentage": tax["tax_percentage"] if tax else 0,
        "item_total": fields.money(fields.dec(gross) - fields.dec(discount_amount)),
    }
    if account is not None:
        line["account_id"] = account["account_id"]
        line["account_name"] = account["account_name"]
    return line


def _tax_summary(lines: list[Record], line_taxes: list[Decimal]) -> list[Record]:
    """The document's `taxes`: each tax once, with what its lines carry."""
    summed: dict[str, Record] = {}
    for line, tax in zip(lines, line_taxes, strict=True):
        if not line["tax_id"]:
            continue
        entry = summed.setdefault(line["tax_id"], {"tax_id": line["tax_id"], "tax_name": line["tax_name"],
                                                   "tax_amount": Decimal(0)})
        entry["tax_amount"] += tax
    return [{**entry, "tax_amount": fields.money(entry["tax_amount"])} for entry in summed.values()]


def _line_account(store: OrgStore, raw: dict[str, Any], path: str, spec: DocSpec,
                  item: Record | None) -> Record | None:
    """The ledger account a line posts to: the one sent, else the item's; None leaves
    it to the ledger's default.

    Purchase-order lines of anything but an inventory item must name their account: Zoho's OAS calls
    line_items[].account_id "mandatory for non-inventory items" (§4.6).
    """
    account_id = fields.ident(raw, "account_id", path=f"{path}.account_id")
    types = EXPENSE_ACCOUNT_TYPES if spec.purchase else SALES_ACCOUNT_TYPES
    if account_id is not None:
        return account_ref(store, account_id, f"{path}.account_id", types)
    if spec.collection == "purchaseorders" and (item is None or item["item_type"] != "inventory"):
        raise required(f"{path}.account_id")
    default = (item or {}).get("purchase_account_id" if spec.purchase else "account_id")
    return store.accounts.get(str(default)) if default else None


def _discount(raw: Any, base: float, name: str) -> float:
    """A discount is an amount (10) or a percentage ("10%"); it may not exceed what it discounts."""
    if raw is None or raw == "" or raw == 0:
        return 0.0
    if isinstance(raw, str) and raw.strip().endswith("%"):
        percent = fields.parse_number(raw.strip()[:-1], name, minimum=0)
        if percent > 100:
            raise invalid_value(name)
        return fields.money(fields.dec(base) * fields.dec(percent) / 100)
    amount = fields.parse_number(raw, name, minimum=0)
    if amount > base:
        raise invalid_value(name)
    return fields.money(amount)


def _number(spec: DocSpec, call: Call, body: dict[str, Any], current: Record | None) -> str:
    store = call.org
    taken = {str(doc[spec.number_field]) for doc in store.collection(spec.collection).values()
             if current is None or doc[spec.id_field] != current[spec.id_field]}
    if spec.numbering is None:
        number = fields.text(body, spec.number_field, need=True, max_len=100)
        assert number is not None
        return number
    if call.flag("ignore_auto_number_generation"):
        # §9.7: the client must then supply the number itself, and it must be free.
        number = fields.text(call.data, spec.number_field, need=True, max_len=100)
        assert number is not None
        if number in taken:
            raise already_exists(f"{spec.thing} Number")
        return number
    if current is not None:
        return str(current[spec.number_field])
    # Without the flag a number in the body is ignored and the next auto-number is used (§4.1).
    return store.next_number(spec.numbering, taken)


def due_days(status: str, due: str, today: date) -> str:
    """Zoho's due_days text on an invoice or a bill still owed: "Due in 3 day(s)", "Due Today", "Overdue by 2
    day(s)"; "" once nothing is owed."""
    if status in ("paid", "void", "draft") or not due:
        return ""
    days = (date.fromisoformat(due) - today).days
    if days > 0:
        return f"Due in {days} day(s)"
    return "Due Today" if days == 0 else f"Overdue by {-days} day(s)"
