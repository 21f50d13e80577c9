"""Webhooks (Zoho Books API v3 /settings/webhooks, settings scope): what a workflow rule calls when something
happens in the books (zbmcp/sandbox/workflows.py fires them).

The fields are those of Zoho's "Create a webhook": entity, webhook_name, description, method (POST, PUT or
DELETE), url (required, at most 5000 characters), entity_parameters, additional_parameters and headers
(lists of {param_name, param_value}) and secret (for the signature: 12 to 50 letters and digits, Zoho's rule
for a webhook secret in its Finance apps). Zoho's entity names are not documented; the sandbox takes the
module (`invoices`, `customerpayments`, `bills`, `banktransactions`) or the record's name (`invoice`,
`payment`, `bill`, `banktransaction`). The secret is never shown back.
"""

from __future__ import annotations

import re
from typing import Any

from zbmcp.sandbox.errors import invalid_value
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.store import Record

ENTITIES = {"invoices": "invoices", "invoice": "invoices", "customerpayments": "customerpayments",
            "customerpayment": "customerpayments", "payment": "customerpayments", "bills": "bills",
            "bill": "bills", "banktransactions": "banktransactions", "banktransaction": "banktransactions"}
METHODS = ("POST", "PUT", "DELETE")
_SECRET = re.compile(r"^[A-Za-z0-9]{12,50}$")


def _shown(record: Record) -> Record:
    return {k: v for k, v in record.items() if k != "secret"} | {"has_secret": bool(record.get("secret"))}


def _pairs(value: Any, field: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
            isinstance(p, dict) and isinstance(p.get("param_name"), str) and p["param_name"]
            and isinstance(p.get("param_value", ""), str) for p in value):
        raise invalid_value(field)
    return [{"param_name": p["param_name"], "param_value": p.get("param_value", "")} for p in value]


def _validated(data: dict[str, Any], old: Record | None = None) -> Record:
    merged = {**(old or {}), **data}
    url = merged.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 5000:
        raise invalid_value("url")
    entity = ENTITIES.get(str(merged.get("entity", "")).lower())
    if entity is None:
        raise invalid_value("entity")
    method = str(merged.get("method") or "POST").upper()
    if method not in METHODS:
        raise invalid_value("method")
    secret = merged.get("secret")
    if secret not in (None, "") and not (isinstance(secret, str) and _SECRET.match(secret)):
        raise invalid_value("secret")
    name = merged.get("webhook_name") or f"{entity} webhook"
    if not isinstance(name, str) or len(name) > 50:
        raise invalid_value("webhook_name")
    return {"webhook_name": name, "description": str(merged.get("description") or "")[:100], "entity": entity,
            "method": method, "url": url, "secret": secret or None, "is_active": True,
            "entity_parameters": _pairs(merged.get("entity_parameters"), "entity_parameters"),
            "additional_parameters": _pairs(merged.get("additional_parameters"), "additional_parameters"),
            "headers": _pairs(merged.get("headers"), "headers")}


def create_webhook(call: Call) -> Reply:
    record = _validated(call.data)
    webhook_id = call.org.new_id()
    record = {"webhook_id": webhook_id, **record, "created_time": call.org.timestamp()}
    call.org.webhooks[webhook_id] = record
    return Reply(201, "The webhook has been created.", "webhook", _shown(record))


def list_webhooks(call: Call) -> Reply:
    return Reply(200, "success", "webhooks", [_shown(r) for r in call.org.webhooks.values()])


def get_webhook(call: Call) -> Reply:
    return Reply(200, "success", "webhook", _shown(existing(call.org.webhooks, call.params["webhook_id"],
                                                            "Webhook")))


def update_webhook(call: Call) -> Reply:
    old = existing(call.org.webhooks, call.params["webhook_id"], "Webhook")
    record = {**old, **_validated(call.data, old)}
    call.org.webhooks[old["webhook_id"]] = record
    return Reply(200, "The webhook has been updated.", "webhook", _shown(record))


def delete_webhook(call: Call) -> Reply:
    existing(call.org.webhooks, call.params["webhook_id"], "Webhook")
    del call.org.webhooks[call.params["webhook_id"]]
    return Reply(200, "The webhook has been deleted.")
