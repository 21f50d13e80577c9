"""GET /organizations (§4.0): the caller's organizations; the one call without organization_id. And one of
them by its id (GET /organizations/{organization_id}); another's is 6041, as for organization_id."""

from __future__ import annotations

from zbmcp.sandbox.errors import not_associated
from zbmcp.sandbox.rules.base import Call, Reply


def list_organizations(call: Call) -> Reply:
    return Reply(200, "success", "organizations", [org.as_zoho() for org in call.env.organizations])


def get_organization(call: Call) -> Reply:
    wanted = call.params["organization_id"]
    for org in call.env.organizations:
        if org.organization_id == wanted:
            return Reply(200, "success", "organization", org.as_zoho())
    raise not_associated(wanted)
