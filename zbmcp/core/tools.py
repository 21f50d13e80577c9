"""A tool's input schemas: what the agent reads and what zbmcp enforces (pure; zbmcp/calls/tool_list.py
builds the MCP Tool from them).

The input schema an agent sees depends on the agent: organization_id is required unless the agent may touch
exactly one organization, in which case zbmcp fills it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zbmcp.core.idempotency import ADVERTISED_SCHEMA, KEY, lists_key
from zbmcp.core.manifest import ZOHO_ID_PATTERN, ToolSpec



def takes_organization(spec: ToolSpec) -> bool:
    # GET /organizations is the one call Zoho answers without an organization_id.
    return spec.module != "organizations"


def input_schema(spec: ToolSpec, organization_ids: Sequence[str]) -> dict[str, Any]:
    """What the agent reads. With one organization, organization_id is left out: zbmcp fills it in."""
    schema = dict(spec.advertised_schema)
    if lists_key(spec):
        schema["properties"] = {**schema["properties"], KEY: ADVERTISED_SCHEMA}
    if not takes_organization(spec) or len(organization_ids) == 1:
        return schema
    schema["properties"] = {"organization_id": {"type": "string", "enum": list(organization_ids)},
                            **schema["properties"]}
    schema["required"] = ["organization_id", *schema.get("required", [])]
    return schema


def validation_schema(spec: ToolSpec, organization_ids: Sequence[str]) -> dict[str, Any]:
    """What zbmcp enforces before anything is sent (stricter than what the agent reads)."""
    schema = dict(spec.argument_schema)
    if not takes_organization(spec):
        return schema
    organization: dict[str, Any] = {"type": "string", "pattern": ZOHO_ID_PATTERN}
    if len(organization_ids) > 1:
        organization["enum"] = list(organization_ids)
        schema["required"] = ["organization_id", *schema.get("required", [])]
    schema["properties"] = {"organization_id": organization, **schema["properties"]}
    return schema
