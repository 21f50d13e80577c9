"""ToolSpec -> the MCP Tool an agent sees in tools/list, with its annotations and scope; and which tools an
agent's tools/list holds, within its byte budget (docs/context.md).

A grant whose tools fit in `tool_list_bytes` is listed whole, as it always was. A larger one is listed as its
core (the agent's `pinned` tools, or a default set of everyday tools) beside the meta tools of
zbmcp/calls/meta_tools.py, through which the agent finds, reads and calls every other tool it may use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import dataclasses
from dataclasses import dataclass, field

from mcp import types

from zbmcp.core.manifest import ToolSpec
from zbmcp.core.policy import AgentPolicy
from zbmcp.core.tools import input_schema

SCOPE_META_KEY = "zbmcp/scope"  # (access needs no key of its own: readOnlyHint is true exactly for reads)
# The everyday tools a large grant lists first when its config pins none, those the agent may use, in this
# order, while they take at most half the budget (the other half is room for tools it enables).
DEFAULT_PINNED = ("list_organizations", "list_contacts", "get_contact", "list_invoices", "get_invoice",
                  "create_invoice", "list_items", "list_bills", "list_expenses", "list_chart_of_accounts")
_ENVELOPE = len(types.ListToolsResult(tools=[], cache_scope="private").model_dump_json(
    by_alias=True, exclude_none=True).encode())  # the result's bytes around its tools


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


def wire_size(tools: Iterable[types.Tool]) -> int:
    """Bytes of a tools/list result holding these tools, as sent on the wire."""
    sizes = [_bytes(tool) for tool in tools]
    return _ENVELOPE + sum(sizes) + max(len(sizes) - 1, 0)


def listing_size(specs: Sequence[ToolSpec], organization_ids: Sequence[str]) -> int:
    """Bytes of the tools/list result as sent on the wire: every tool costs context on every agent turn."""
    result = types.ListToolsResult(tools=[to_mcp_tool(s, organization_ids) for s in specs])
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


@dataclass(frozen=True)
class Listing:
    """What one agent's tools/list holds before any tool is enabled. `whole`: every tool it may use is
    listed; otherwise `tools` is its core (`core` names it) and the meta tools, `size` their bytes, and
    size_of weighs any other tool, for enable_tools to keep the list within `budget`."""

    tools: tuple[types.Tool, ...]
    whole: bool
    budget: int
    core: tuple[str, ...] = ()
    size: int = 0
    policy: AgentPolicy | None = None
    _sizes: dict[str, int] = field(default_factory=dict)

    def size_of(self, name: str) -> int:
        """Bytes one of the agent's tools adds to the list (with its separating comma)."""
        if name not in self._sizes:
            assert self.policy is not None
            self._sizes[name] = _bytes(to_mcp_tool(self.policy.visible[name], self.policy.organizations)) + 1
        return self._sizes[name]


def plan(policy: AgentPolicy, budget: int, meta: Sequence[types.Tool],
         always: Sequence[types.Tool] = ()) -> Listing:
    """The agent's first tools/list: whole when it fits in `budget` bytes; else its core beside `meta`.
    `always` is listed either way (list_webhook_events). ValueError when the agent's own `pinned` tools do
    not fit beside the meta tools.

    Tools are weighed only until the budget is spent, so a large grant costs no more than a small one."""
    tools: list[types.Tool] = []
    total = wire_size(always) if always else _ENVELOPE - 1
    for spec in policy.visible.values():
        tools.append(to_mcp_tool(spec, policy.organizations))
        total += _bytes(tools[-1]) + 1
        if total > budget:
            break
    else:
        return Listing((*tools, *always), True, budget, tuple(t.name for t in tools), max(total, _ENVELOPE))
    listing = Listing((), False, budget, policy=policy)
    meta = (*always, *meta)
    size = wire_size(meta)
    if policy.pinned:
        core = list(policy.pinned)
        needed = size + sum(listing.size_of(name) for name in core)
        if needed > budget:
            raise ValueError(f"its pinned tools take {needed - size:,} bytes of tools/list beside the "
                             f"{size:,} of find_tools, describe_tools, call_tool and enable_tools, over its "
                             f"tool_list_bytes ({budget:,}): pin fewer tools, or raise tool_list_bytes")
    else:
        core = []
        for name in DEFAULT_PINNED:
            if name in policy.visible and size + listing.size_of(name) <= budget // 2:
                core.append(name)
                size += listing.size_of(name)
    listed = (*(to_mcp_tool(policy.visible[name], policy.organizations) for name in core), *meta)
    return dataclasses.replace(listing, tools=listed, core=tuple(core), size=wire_size(listed))


def _bytes(tool: types.Tool) -> int:
    return len(tool.model_dump_json(by_alias=True, exclude_none=True).encode())
