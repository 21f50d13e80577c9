"""PUT /{module} by a custom field's unique value, and X-Upsert (Zoho's "update using a custom field's unique
value", on the nine modules whose files document it).

    PUT /invoices  X-Unique-Identifier-Key: cf_zbmcp_key  X-Unique-Identifier-Value: abc  [X-Upsert: true]

The record whose custom field holds the value is updated with the body (by the module's own update rules; a
module whose updates the sandbox does not model yet answers the record as it is). None holds it: with
`X-Upsert: true` the body creates one, by the module's own create rules, holding the value in that field;
without, 1002. Either way the answer is the one Zoho's file documents for the operation: 200, the module's
"updated" message, and the record. The field must be one of the organization's custom fields for that module
(SandboxSettings.custom_fields) and configured to refuse duplicates: Zoho's file says the operation works with
such a field only. Its refusals for a field that does not exist or accepts duplicates are undocumented: the
sandbox answers 400 with code 9999 and says which.
"""

from __future__ import annotations

from zbmcp.sandbox.errors import invalid_value, not_found, required, rule
from zbmcp.sandbox.rules.base import Call, Handler, Reply

# module -> (the collection its records are in, the id's name, what Zoho calls one, the answer's key and
# message as Zoho's file documents them: 200 whether the record was updated or made)
MODULES: dict[str, tuple[str, str, str, str, str]] = {
    "invoices": ("invoices", "invoice_id", "Invoice", "invoice", "Invoice information has been updated."),
    "estimates": ("estimates", "estimate_id", "Estimate", "estimate",
                  "Estimate information has been updated."),
    "salesorders": ("salesorders", "salesorder_id", "Sales Order", "salesorder",
                    "Sales Order Updated Successfully."),
    "purchaseorders": ("purchaseorders", "purchaseorder_id", "Purchase Order", "purchaseorder",
                       "Purchase Order has been updated."),
    "bills": ("bills", "bill_id", "Bill", "bill", "Bill information has been updated."),
    "expenses": ("expenses", "expense_id", "Expense", "expense", "Expense information has been updated."),
    "contacts": ("contacts", "contact_id", "Contact", "contact", "Contact has been updated successfully"),
    "items": ("items", "item_id", "Item", "item", "Item details have been saved."),
    "customerpayments": ("payments", "payment_id", "Customer payment", "payment",
                         "The payment details have been updated."),
}


def upsert(module: str, create: Handler, read: Handler, update: Handler | None = None,
           id_param: str | None = None) -> Handler:
    """The handler of PUT /{module}: `read` answers a found record when the module has no `update` rules;
    `id_param` is the name the update and read handlers take the id by."""
    collection, id_field, thing, answer_key, message = MODULES[module]
    param = id_param or id_field

    def handler(call: Call) -> Reply:
        key = call.headers.get("x-unique-identifier-key", "").strip()
        value = call.headers.get("x-unique-identifier-value", "").strip()
        if not key:
            raise required("X-Unique-Identifier-Key")
        if not value:
            raise required("X-Unique-Identifier-Value")
        fields = call.env.settings.custom_fields.get(module, {})
        if key not in fields:
            raise rule(f"{key} is not a custom field of {thing.lower()}s in this organization.")
        if not fields[key]:
            raise rule(f"The custom field {key} accepts duplicate values, so it cannot identify "
                       f"{'an' if thing[0] in 'AEIOU' else 'a'} {thing.lower()}: configure it to refuse "
                       "duplicates.")
        records = call.org.collection(collection)
        found = next((record for record in records.values() if _holds(record, key, value)), None)
        if found is not None:
            again = Call(call.env, call.store, {param: str(found[id_field])}, call.query, call.body,
                         call.user_id, call.headers)
            reply = (update or read)(again)
        elif not _upserting(call):
            raise not_found(thing)
        else:
            before = set(records)
            create(call)
            [made] = [records[record_id] for record_id in records if record_id not in before]
            made.setdefault("custom_fields", []).append({"api_name": key, "value": value})
            reply = read(Call(call.env, call.store, {param: str(made[id_field])}, {}, None, call.user_id,
                              call.headers))
        return Reply(200, message, answer_key, reply.value)

    return handler


def _holds(record: dict[str, object], key: str, value: str) -> bool:
    customs = record.get("custom_fields")
    return isinstance(customs, list) and any(
        isinstance(custom, dict) and custom.get("api_name") == key and str(custom.get("value")) == value
        for custom in customs)


def _upserting(call: Call) -> bool:
    raw = call.headers.get("x-upsert", "false").strip().lower()
    if raw not in ("true", "false"):
        raise invalid_value("X-Upsert")
    return raw == "true"

