"""ToolSpec -> the MCP Tool an agent sees (pure).

The input schema an agent sees depends on the agent: organization_id is required unless the agent may touch
exactly one organization, in which case zbmcp fills it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp import types

from zbmcp.core.manifest import ZOHO_ID_PATTERN, ToolSpec
from zbmcp.core.shaping import FIELDS, takes_fields

SCOPE_META_KEY = "zbmcp/scope"  # (access needs no key of its own: readOnlyHint is true exactly for reads)
# zbmcp's own argument of every list: more row fields, or ["*"] for all (zbmcp/core/shaping.py); never sent to Zoho.
FIELDS_SCHEMA: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def takes_organization(spec: ToolSpec) -> bool:
    # GET /organizations is the one call Zoho answers without an organization_id.
    return spec.module != "organizations"


def input_schema(spec: ToolSpec, organization_ids: Sequence[str]) -> dict[str, Any]:
    """What the agent reads. With one organization, organization_id is left out: zbmcp fills it in."""
    schema = dict(spec.advertised_schema)
    if takes_fields(spec):
        schema["properties"] = {**schema["properties"], FIELDS: FIELDS_SCHEMA}
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


def to_mcp_tool(spec: ToolSpec, organization_ids: Sequence[str]) -> types.Tool:
    return types.Tool(
        name=spec.name,
        # The title goes in annotations only: a second copy would cost every agent context on every turn.
        description=spec.description,
        input_schema=input_schema(spec, organization_ids),
        annotations=tool_annotations(spec),
        _meta={SCOPE_META_KEY: spec.scope},
    )


def tool_annotations(spec: ToolSpec) -> types.ToolAnnotations:
    """The hints, leaving out each one that says what MCP's default already says (readOnly false,
    destructive true, idempotent false, openWorld true), and for reads the two that MCP defines only for
    writes: every tool costs context on every turn, and a client reads a missing hint as its default."""
    if spec.read_only:
        return types.ToolAnnotations(title=spec.title, read_only_hint=True, open_world_hint=spec.open_world or False)
    return types.ToolAnnotations(
        title=spec.title,
        destructive_hint=False if not spec.destructive else None,
        idempotent_hint=True if spec.idempotent else None,
        open_world_hint=False if not spec.open_world else None,
    )


def listing_size(specs: Sequence[ToolSpec], organization_ids: Sequence[str]) -> int:
    """Bytes of the tools/list result as sent on the wire: every tool costs context on every agent turn."""
    result = types.ListToolsResult(tools=[to_mcp_tool(s, organization_ids) for s in specs])
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
