"""The meta tools of an agent whose tools do not all fit in its tools/list (docs/context.md): find_tools,
describe_tools and call_tool, and, where the connection has a session to tell, enable_tools.

They only ever see the agent's own tools (policy.visible): nothing outside its grant is found, described,
enabled or called through them. call_tool hands the call back to the server, which decides, approves, sends
and records it exactly as a direct call (zbmcp/calls/server.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mcp import types

from zbmcp.calls.outcomes import error_result
from zbmcp.calls.tool_list import Listing, to_mcp_tool
from zbmcp.core.policy import AgentPolicy
from zbmcp.core.tool_search import MAX_QUERY, find, modules, summary
from zbmcp.errors import InvalidArguments, PolicyDenied, ZbmcpError

FIND, DESCRIBE, CALL, ENABLE = "find_tools", "describe_tools", "call_tool", "enable_tools"
META = (FIND, DESCRIBE, CALL, ENABLE)
MAX_FOUND = 50
DEFAULT_FOUND = 15
MAX_NAMES = 10
MAX_NAME = 100  # characters of a tool name: Zoho's longest operationId is well under it
_NAMES = {"type": "array", "items": {"type": "string"}}


def meta_tools(policy: AgentPolicy) -> tuple[types.Tool, ...]:
    """The meta tools' definitions for this agent. call_tool's hints are those of the tools it can reach: a
    read-only agent's call_tool reads only."""
    specs = list(policy.visible.values())
    reads_only = all(spec.read_only for spec in specs)
    call_hints = types.ToolAnnotations(title="Call a tool", read_only_hint=True, open_world_hint=False) \
        if reads_only else types.ToolAnnotations(
            title="Call a tool",
            destructive_hint=False if not any(spec.destructive for spec in specs) else None,
            open_world_hint=False if not any(spec.open_world for spec in specs) else None)
    closed = types.ToolAnnotations(read_only_hint=True, open_world_hint=False)
    return (
        types.Tool(
            name=FIND,
            description=("Find the tools you may use beyond this list: a few words (e.g. \"journal "
                         "entries\", \"vendor credits\") and/or a module. Each match gives its name, read or "
                         "write, and one line. Without words or module: the modules. Then describe_tools for "
                         "arguments, and call_tool."),
            input_schema={"type": "object", "properties": {
                "query": {"type": "string"}, "module": {"type": "string"},
                "access": {"type": "string", "enum": ["read", "write"]},
                "limit": {"type": "integer", "description": f"at most {MAX_FOUND}, {DEFAULT_FOUND} unless "
                          "given"}}},
            annotations=closed.model_copy(update={"title": "Find tools"}),
        ),
        types.Tool(
            name=DESCRIBE,
            description=f"Up to {MAX_NAMES} tools' full definitions: arguments, hints and OAuth scope.",
            input_schema={"type": "object", "properties": {"names": _NAMES}, "required": ["names"]},
            annotations=closed.model_copy(update={"title": "Describe tools"}),
        ),
        types.Tool(
            name=CALL,
            description=("Call a tool you may use by name, with its arguments (see describe_tools): for "
                         "tools not in this list. Same rules, approvals and audit as a direct call."),
            input_schema={"type": "object", "properties": {"name": {"type": "string"},
                                                          "arguments": {"type": "object"}},
                          "required": ["name"]},
            annotations=call_hints,
        ),
        types.Tool(
            name=ENABLE,
            description=("Add tools (names, or a whole module) to this list for this session; "
                         "replace=true drops those added before. If your client does not refresh its list, "
                         "use call_tool."),
            input_schema={"type": "object", "properties": {"names": _NAMES, "module": {"type": "string"},
                                                          "replace": {"type": "boolean"}}},
            annotations=types.ToolAnnotations(title="Enable tools", destructive_hint=False,
                                              idempotent_hint=True, open_world_hint=False),
        ),
    )


def refusal(error: ZbmcpError, rule: str) -> types.CallToolResult:
    return error_result(error, rule, call_id="", check=lambda: "")


def find_tools(policy: AgentPolicy, arguments: Mapping[str, Any]) -> types.CallToolResult:
    _only(FIND, arguments, ("query", "module", "access", "limit"))
    query = _text(arguments, "query", MAX_QUERY)
    module = _text(arguments, "module", MAX_NAME) or None
    access = arguments.get("access")
    if access not in (None, "read", "write"):
        raise InvalidArguments([("access", "read or write")])
    limit = arguments.get("limit", DEFAULT_FOUND)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_FOUND:
        raise InvalidArguments([("limit", f"a whole number from 1 to {MAX_FOUND}")])
    specs = policy.visible.values()
    counts = modules(specs)
    if module is not None and module not in counts:
        raise InvalidArguments([("module", f"{module!r} has none of your tools; yours: {', '.join(counts)}")])
    if not query.strip() and module is None and access is None:
        rows = [{"module": name, "reads": reads, "writes": writes}
                for name, (reads, writes) in counts.items()]
        text = "Your tools by module (reads, writes): " + "; ".join(
            f"{row['module']} ({row['reads']}, {row['writes']})" for row in rows) + \
            ". Call find_tools with words or a module to see tools."
        return _answer(text, {"modules": rows})
    matches = find(specs, query, module=module, access=access)
    shown = [{"name": m.spec.name, "access": m.spec.access, "module": m.spec.module,
              "description": summary(m.spec)} for m in matches[:limit]]
    if not shown:
        return _answer("No tool of yours matches; try other words, or no words to see your modules.",
                       {"tools": [], "total": 0})
    lines = [f"{row['name']} ({row['access']}, {row['module']}): {row['description']}" for row in shown]
    more = f" {len(matches) - len(shown)} more match: raise limit or add words." \
        if len(matches) > len(shown) else ""
    text = "\n".join(lines) + "\nArguments: describe_tools(names=[...]); call: call_tool(name, arguments)." \
        + more
    return _answer(text, {"tools": shown, "total": len(matches)})


def describe_tools(policy: AgentPolicy, arguments: Mapping[str, Any]) -> types.CallToolResult:
    _only(DESCRIBE, arguments, ("names",))
    names = granted(policy, _names(arguments, required=True), "describe")
    tools = [to_mcp_tool(policy.visible[name], policy.organizations).model_dump(
        mode="json", by_alias=True, exclude_none=True) for name in names]
    return _answer(json.dumps(tools, ensure_ascii=False, separators=(",", ":")), {"tools": tools})


def call_target(policy: AgentPolicy, arguments: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The tool call_tool calls and its arguments; the policy then decides it as a direct call."""
    _only(CALL, arguments, ("name", "arguments"))
    name = arguments.get("name")
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise InvalidArguments([("name", "the name of a tool you may use, as find_tools gives it")])
    if name in META:
        raise PolicyDenied(f"call_tool calls Zoho Books tools, not {name}: call {name} directly. Nothing was "
                           "sent to Zoho.", rule="call_tool calls no meta tool")
    inner = arguments.get("arguments", {})
    if not isinstance(inner, dict):
        raise InvalidArguments([("arguments", "an object of the tool's arguments, e.g. "
                                 "{\"organization_id\": \"...\"}; see describe_tools")])
    return name, inner


def to_enable(policy: AgentPolicy, listing: Listing, enabled: Sequence[str],
              arguments: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """The tools enabled after this call and what to tell the agent; InvalidArguments or PolicyDenied when
    nothing changes (an unknown name, or a list over the budget)."""
    _only(ENABLE, arguments, ("names", "module", "replace"))
    names = _names(arguments, required=False)
    module = _text(arguments, "module", MAX_NAME) or None
    replace = arguments.get("replace", False)
    if not isinstance(replace, bool):
        raise InvalidArguments([("replace", "true or false")])
    if not names and module is None:
        raise InvalidArguments([("names", "give names (from find_tools) or a module")])
    wanted = list(granted(policy, names, "enable"))
    if module is not None:
        in_module = [name for name, spec in policy.visible.items() if spec.module == module]
        if not in_module:
            raise InvalidArguments([("module", f"{module!r} has none of your tools; see find_tools")])
        wanted += in_module
    after = tuple(dict.fromkeys([*(() if replace else enabled),
                                 *(name for name in wanted if name not in listing.core)]))
    size = listing.size + sum(listing.size_of(name) for name in after)
    if size > listing.budget:
        raise PolicyDenied(
            f"Enabling these would make your tool list {size:,} bytes, over its {listing.budget:,}: enable "
            "fewer (replace=true drops those enabled before), or call them through call_tool.",
            rule="tool_list_bytes")
    added = [name for name in after if name not in enabled]
    text = (f"Enabled {', '.join(added) or 'nothing new'}; now in your tool list: "
            f"{', '.join(after) or 'only the first listing'}. If your client did not refresh its list, call "
            "them through call_tool.")
    return after, text


def granted(policy: AgentPolicy, names: Sequence[str], verb: str) -> tuple[str, ...]:
    """The names, once each, when every one is a tool the agent may use; PolicyDenied naming each other one
    and why (the rule that hides it, or that no tool has that name), as a direct call would."""
    wrong = []
    for name in dict.fromkeys(names):
        if name in policy.visible:
            continue
        hidden = policy.hidden.get(name)
        wrong.append(f"{name!r} ({hidden.rule if hidden else 'no tool has this name'})")
    if wrong:
        raise PolicyDenied(f"Cannot {verb} {', '.join(wrong)}: only the tools agent {policy.agent!r} may "
                           "use; find_tools lists them.", rule="not the agent's tool")
    return tuple(dict.fromkeys(names))


def _only(tool: str, arguments: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = [name for name in arguments if name not in allowed]
    if unknown:
        raise InvalidArguments([(str(name)[:MAX_NAME], f"{tool} takes only {', '.join(allowed)}")
                                for name in unknown[:5]])


def _text(arguments: Mapping[str, Any], key: str, most: int) -> str:
    value = arguments.get(key, "")
    if not isinstance(value, str) or len(value) > most:
        raise InvalidArguments([(key, f"text of at most {most} characters")])
    return value


def _names(arguments: Mapping[str, Any], *, required: bool) -> list[str]:
    names = arguments.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME for n in names) \
            or len(names) > MAX_NAMES or (required and not names):
        raise InvalidArguments([("names", f"a list of 1 to {MAX_NAMES} tool names, as find_tools gives "
                                 "them")])
    return names


def _answer(text: str, structured: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)
