"""OAuth scopes as Zoho Books reads them (§3 "Scope grammar"):
ZohoBooks.<module>.<CREATE|READ|UPDATE|DELETE|ALL>.

`ZohoBooks.<module>.ALL` covers every operation of the module and `ZohoBooks.fullaccess.all` covers
everything. Scopes compare case-insensitively: clients write both `fullaccess.all` and `fullaccess.ALL`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MODULES = frozenset({
    "contacts", "settings", "estimates", "invoices", "customerpayments", "creditnotes", "projects",
    "expenses", "salesorders", "purchaseorders", "bills", "debitnotes", "vendorpayments", "banking",
    # not on the list copied from Zoho's OAuth page; what integrators consent to for /reports (V2)
    "accountants", "reports",
    # in Zoho's OpenAPI files (custom modules, fixed assets), not on that list either
    "custommodules", "fixedasset",
})
OPERATIONS = frozenset({"create", "read", "update", "delete", "all"})
FULL_ACCESS = "ZohoBooks.fullaccess.all"


def split(value: str) -> list[str]:
    """Zoho separates scopes with commas (§3); space-separated lists (RFC 6749 style) are accepted too."""
    return [part for part in re.split(r"[,\s]+", value) if part]


def invalid(scopes: Iterable[str]) -> list[str]:
    """The ZohoBooks scopes that name no real module or operation. Other services' scopes are left alone."""
    bad = []
    for scope in scopes:
        parts = scope.split(".")
        if parts[0].lower() != "zohobooks":
            continue
        if scope.lower() == FULL_ACCESS.lower():
            continue
        if len(parts) != 3 or parts[1].lower() not in MODULES or parts[2].lower() not in OPERATIONS:
            bad.append(scope)
    return bad


def allows(granted: Iterable[str], required: str) -> bool:
    _, module, _ = required.lower().split(".")
    have = {scope.lower() for scope in granted}
    return bool(have & {required.lower(), f"zohobooks.{module}.all", FULL_ACCESS.lower()})
