"""The config's `hooks:` section: Zoho Books webhooks that zbmcp receives (docs/webhooks.md).

    hooks:
      payments:                           # its URL: https://<this server>/hooks/payments
        connection: main
        organization: "10234695"
        module: customerpayments          # what Zoho's webhook is about: one module, as in Zoho
        secret: ${ZBMCP_HOOK_PAYMENTS}    # 12-50 letters and digits, as Zoho's webhook secret must be
        # verify: either                  # signature | token | either (docs/webhooks.md)
        # keep_hours: 168                 # events and the keys that spot Zoho's retries are kept this long
        # max_events: 1000                # kept at most: past it the oldest go
        # max_body_bytes: 262144
        # per_minute: 600                 # deliveries accepted a minute; past it Zoho is told to retry later
        # url: https://...                # what Zoho calls, if not console.public_url + /hooks/payments
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from zbmcp.core.config_hosting import Section
from zbmcp.core.yamlsource import unexpanded

HOOK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
SECRET = re.compile(r"^[A-Za-z0-9]{12,50}$")  # Zoho's rule for a webhook's secret


@dataclass(frozen=True)
class HookModule:
    """A Zoho module whose webhooks zbmcp takes: the scope that reads it (an agent sees its events only if one
    of its tools has that scope), the key of the record in Zoho's default payload, and the record's id field.
    The payload key and id field are Zoho's API names for the record, not checked against a live delivery."""

    read_scope: str
    payload_key: str
    id_field: str
    also_id: str | None = None  # another name Zoho's files give the id (bank transactions have two)


MODULES: dict[str, HookModule] = {
    "invoices": HookModule("ZohoBooks.invoices.READ", "invoice", "invoice_id"),
    "customerpayments": HookModule("ZohoBooks.customerpayments.READ", "payment", "payment_id"),
    "bills": HookModule("ZohoBooks.bills.READ", "bill", "bill_id"),
    "banktransactions": HookModule("ZohoBooks.banking.READ", "banktransaction", "transaction_id",
                                   "bank_transaction_id"),
    "contacts": HookModule("ZohoBooks.contacts.READ", "contact", "contact_id"),
    "estimates": HookModule("ZohoBooks.estimates.READ", "estimate", "estimate_id"),
    "salesorders": HookModule("ZohoBooks.salesorders.READ", "salesorder", "salesorder_id"),
    "purchaseorders": HookModule("ZohoBooks.purchaseorders.READ", "purchaseorder", "purchaseorder_id"),
    "expenses": HookModule("ZohoBooks.expenses.READ", "expense", "expense_id"),
    "vendorpayments": HookModule("ZohoBooks.vendorpayments.READ", "vendorpayment", "payment_id"),
    "creditnotes": HookModule("ZohoBooks.creditnotes.READ", "creditnote", "creditnote_id"),
    "items": HookModule("ZohoBooks.settings.READ", "item", "item_id"),
}

Module = Literal["invoices", "customerpayments", "bills", "banktransactions", "contacts", "estimates",
                 "salesorders", "purchaseorders", "expenses", "vendorpayments", "creditnotes", "items"]


class Hook(Section):
    connection: str
    organization: str
    module: Module
    secret: SecretStr
    # signature: Zoho's X-Zoho-Webhook-Signature; token: the secret itself in a header or parameter the admin
    # adds to the webhook; either: whichever the delivery carries (docs/webhooks.md)
    verify: Literal["either", "signature", "token"] = "either"
    keep_hours: float = Field(default=168.0, gt=0, le=90 * 24)
    max_events: int = Field(default=1000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=262_144, ge=1024, le=900_000)
    per_minute: int = Field(default=600, ge=1, le=100_000)
    zoho_webhook_id: str | None = None  # set by `zbmcp hooks add` when it registered the webhook at Zoho
    # The URL Zoho calls for this hook, when it is not console.public_url (or oauth.issuer) + /hooks/<name>
    url: str | None = None

    @field_validator("organization", mode="before")
    @classmethod
    def _organization_id(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.isdigit() or not value.isascii():
            raise ValueError(f"{value!r} is not a Zoho organization id (digits only, e.g. \"10234695\")")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if unexpanded(value.get_secret_value(), info.context):
            return value
        if not SECRET.match(value.get_secret_value()):
            raise ValueError("needs 12 to 50 letters and digits (Zoho's rule for a webhook secret); generate "
                             "one with `zbmcp hooks add`")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @property
    def keep_seconds(self) -> float:
        return self.keep_hours * 3600


def check_hook_names(hooks: dict[str, Hook]) -> dict[str, Hook]:
    for name in hooks:
        if not HOOK_NAME.match(name):
            raise ValueError(f"hook name {name!r}: use 1-40 of a-z, 0-9 and '-', starting with a letter "
                             "(it is part of the hook's URL)")
    return hooks
