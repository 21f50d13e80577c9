"""SandboxSettings: every knob of the sandbox, all defaulted, all changeable while it runs.

Limits are off unless set. Assignments are validated, so `sandbox.settings.daily_budget = "x"` fails at once
rather than inside a request.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SandboxSettings(BaseModel):
    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    # OAuth (zoho-books-api.md §8)
    token_lifetime_seconds: float = Field(default=3600.0, gt=0)
    # §8.1: "three minutes by default" (CRM page)
    grant_code_lifetime_seconds: float = Field(default=180.0, gt=0)
    # §8.5: Zoho's figure is 10 per 10 minutes
    max_refreshes_per_window: int | None = Field(default=None, ge=1)
    refresh_window_seconds: float = Field(default=600.0, gt=0)
    # §8.5: 10; the oldest is invalidated
    max_access_tokens_per_refresh_token: int | None = Field(default=None, ge=1)
    api_domain: str | None = None  # None: the base URL of the request that asked for the token
    accounts_server: str | None = None  # None: the base URL of the authorisation request
    location: str = "us"
    # "automatic": /oauth/v2/auth consents at once as the default user; "form": Zoho's sign-in page, where any
    # sandbox user signs in with a password (zbmcp/sandbox/users.py)
    sign_in: Literal["automatic", "form"] = "automatic"

    # Limits per organization (§7); None = not enforced
    requests_per_window: int | None = Field(default=None, ge=1)
    window_seconds: float = Field(default=60.0, gt=0)
    daily_budget: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)

    # Custom fields by module (Zoho's path segment) -> {API name: whether it refuses duplicate values}. The
    # default books have one unique field on each of the nine modules where Zoho updates or creates by one
    # (rules/upsert.py), as an organization set up for zbmcp's exactly-once writes has, and one that accepts
    # duplicates.
    custom_fields: dict[str, dict[str, bool]] = Field(default_factory=lambda: {
        module: {"cf_zbmcp_key": True, **({"cf_project_code": False} if module == "invoices" else {})}
        for module in ("invoices", "estimates", "salesorders", "purchaseorders", "bills", "expenses",
                       "contacts", "items", "customerpayments")})

    # Business rules
    # True: invoice lines need item_id, as Zoho's OAS requires (§4.1); False also takes name-only lines, as
    # older docs and integrations send them (§10.1).
    strict_line_items: bool = True

    # Webhooks (workflows.py): a failed delivery is tried again after each of these, in turn. Zoho retries at
    # growing intervals without documenting them; these are the sandbox's own.
    webhook_retry_seconds: list[float] = Field(default=[60.0, 300.0, 900.0, 3600.0, 10800.0], max_length=20)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
