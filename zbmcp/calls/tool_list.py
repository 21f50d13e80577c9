"""ToolSpec -> the MCP Tool an agent sees in tools/list, with its annotations and scope."""

from __future__ import annotations

from collections.abc import Sequence

from mcp import types

from zbmcp.core.manifest import ToolSpec
from zbmcp.core.tools import input_schema

SCOPE_META_KEY = "zbmcp/scope"  # (access needs no key of its own: readOnlyHint is true exactly for reads)


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
        return types.ToolAnnotations(title=spec.title, read_only_hint=True,
                                     open_world_hint=spec.open_world or False)
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
