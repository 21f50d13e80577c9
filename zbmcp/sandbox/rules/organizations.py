"""GET /organizations (§4.0): the caller's organizations; the one call without organization_id."""

from __future__ import annotations

from zbmcp.sandbox.rules.base import Call, Reply


def list_organizations(call: Call) -> Reply:
    return Reply(200, "success", "organizations", [org.as_zoho() for org in call.env.organizations])
