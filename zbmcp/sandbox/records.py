"""What the sandbox remembers for tests and users to inspect: API calls, token-endpoint calls, the outbox.

None of these hold a secret: no Authorization header, no token, no client secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiRequest:
    """One /books/v3 request. `path` is relative to /books/v3 ("/invoices/460000000026049"); `route` is the
    matched operation ("POST /invoices/{invoice_id}/email"), None for an unknown URL."""

    method: str
    path: str
    route: str | None
    query: dict[str, str]
    organization_id: str | None
    body: dict[str, Any] | None = None
    status: int | None = None
    code: int | None = None
    fault: str | None = None  # the injected fault that shaped the answer, if any
    at: float = 0.0


@dataclass
class TokenRequest:
    """One call to /oauth/v2/token or /oauth/v2/token/revoke. outcome: "ok" or the error Zoho would name."""

    grant_type: str
    outcome: str
    client_id: str | None = None
    at: float = 0.0


@dataclass
class OutboxEmail:
    """An email Zoho would have sent. The sandbox never sends mail; it keeps it here."""

    organization_id: str
    document_type: str  # "invoice" | "estimate" | "payment" (a thank-you note)
    document_id: str
    document_number: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    at: float = 0.0
