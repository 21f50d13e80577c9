"""Idempotency keys, as arguments (pure): which tools take one, its checks, and what makes two calls the same.

Every write tool takes `idempotency_key`; zbmcp keeps it and never sends it to Zoho. A tool whose repeat
would make a second record (create_invoice, create_customer_payment) lists it in its input schema, bare: it is
described once, in the server's instructions, because every tool's schema costs context on every agent turn.
The other writes take it all the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from zbmcp.core.manifest import ToolSpec
from zbmcp.errors import InvalidArguments

if TYPE_CHECKING:  # core/requests imports core/tools, which imports this
    from zbmcp.core.requests import ZohoRequest

KEY = "idempotency_key"
MAX_KEY_CHARS = 255  # as Stripe's keys
# A write repeated with the same arguments and no key within this long after the first's answer is taken as
# the same call. Clients re-issue a request whose answer they lost within about a minute: the MCP SDKs time a
# request out after 60 s (TypeScript) and reconnect after 1 s, at most twice (TypeScript: growing 1.5 times,
# up to 30 s; Python); an agent told "outcome unknown" calls again within its turn. Two minutes covers that,
# and keeps short the time in which a second, identical record needs a key of its own.
REPEAT_WINDOW_SECONDS = 120.0
# Typed, and no more: its meaning is in the server's instructions (INSTRUCTIONS_TEXT), said once.
ADVERTISED_SCHEMA: dict[str, Any] = {"type": "string"}  # one type per field (issue #22.4)

INSTRUCTIONS_TEXT = (
    f"Every write takes {KEY} (any text up to {MAX_KEY_CHARS} characters, never sent to Zoho): a repeat with "
    "the same key and arguments gets the first call's answer instead of writing again; the same key with "
    "other arguments is refused. A write repeated with the same arguments within "
    f"{REPEAT_WINDOW_SECONDS / 60:g} minutes is taken as the same call too: to make a second, identical "
    f"record on purpose, give it an {KEY} of its own."
)

# Modules whose records Zoho keeps unique by name: a second create with the same name is refused (code 1001,
# "Contact name already exist"), so a repeat cannot double one.
UNIQUE_BY_NAME = frozenset({"contacts", "items", "chartofaccounts", "bankaccounts"})


# Zoho updates or creates by a unique custom field's value (PUT /{module} with X-Unique-Identifier-Key and
# -Value, and X-Upsert) in these modules, as its files document.
UPSERT_MODULES = ("invoices", "estimates", "salesorders", "purchaseorders", "bills", "expenses", "contacts",
                  "items", "customerpayments")
CUSTOM_FIELD = re.compile(r"cf_[a-z0-9_]{1,60}")


def upsert_request(spec: ToolSpec, request: ZohoRequest, field: str, value: str) -> ZohoRequest | None:
    """The create `request` as Zoho's upsert by the unique custom `field` holding `value`: PUT to the same
    path, creating the record, or updating the one a first send made. None when it cannot be sent so: not a
    create of such a module, or with query flags the upsert does not take (send=true)."""
    if spec.method != "POST" or spec.path_params or spec.module not in UPSERT_MODULES \
            or spec.path != f"/{spec.module}" or any(name != "organization_id" for name, _ in request.params):
        return None
    headers = (("X-Unique-Identifier-Key", field), ("X-Unique-Identifier-Value", value), ("X-Upsert", "true"))
    return dataclasses.replace(request, method="PUT", headers=headers)


def upsert_scope(spec: ToolSpec) -> str:
    """The scope Zoho's upsert takes: the module's UPDATE (ZohoBooks.invoices.UPDATE for create_invoice)."""
    return spec.scope.rsplit(".", 1)[0] + ".UPDATE"


def with_upsert_scopes(scopes: Iterable[str], visible: Iterable[ToolSpec],
                       unique_fields: Mapping[str, str]) -> list[str]:
    """An agent's scopes (AgentPolicy.scopes) and those of the upserts its creates go out as, in the modules
    its connection names a unique field for."""
    extra = {upsert_scope(spec) for spec in visible
             if spec.module in unique_fields and spec.method == "POST" and spec.path == f"/{spec.module}"}
    return sorted({*scopes, *extra})


def takes_key(spec: ToolSpec) -> bool:
    return not spec.read_only


def lists_key(spec: ToolSpec) -> bool:
    """Whether the input schema shows the key: the creates where a repeat would make a second record (an
    invoice, a payment, a bill), which is where an agent most needs to know of it."""
    return spec.method == "POST" and not spec.path_params and spec.module not in UNIQUE_BY_NAME


def split_key(spec: ToolSpec, arguments: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The arguments without the key, and the key; InvalidArguments for a key that is not one."""
    rest = dict(arguments)
    key = rest.pop(KEY, None)
    if key is None:
        return rest, None
    if not takes_key(spec):
        raise InvalidArguments([(KEY, f"is taken by write tools only; {spec.name} reads, and a read is safe "
                                      "to repeat")])
    if not isinstance(key, str) or not key.strip():
        raise InvalidArguments([(KEY, "must be a non-empty string, e.g. a UUID or 'invoice-acme-2026-07'")])
    if len(key) > MAX_KEY_CHARS:
        raise InvalidArguments([(KEY, f"is {len(key)} characters long; use at most {MAX_KEY_CHARS} (a UUID "
                                      "is 36)")])
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidArguments([(KEY, "must not hold control characters (newlines, tabs)")])
    return rest, key


def fingerprint(spec: ToolSpec, request: ZohoRequest) -> str:
    """What the call sends, as a digest: the same for two calls exactly when Zoho would get the same request
    (an id sent as a number or a string, an organization given or filled in, arguments in any order)."""
    canonical = json.dumps([spec.name, request.method, request.path, sorted(request.params), request.body],
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def scoped(agent: str, person: str | None, key: str) -> str:
    """The State's name for an agent's key: keys of different agents (or people) never meet, so no caller
    can read another's answer by guessing its key."""
    return hashlib.sha256(json.dumps([agent, person or "", key]).encode()).hexdigest()
