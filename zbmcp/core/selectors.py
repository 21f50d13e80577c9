"""Selectors: which tools a line of an agent's `tools`, `exclude`, `require_approval`, `pinned` or a rule's
`tools` picks (pure).

    list_invoices          an exact tool name
    list_*                 a glob on tool names
    invoices:read          a module's reads;  invoices:write, invoices:*  likewise
    *:read, *:write, *:*   every module
A module is the Zoho path segment (invoices, contacts, salesorders, customerpayments, ...).

A wildcard or module selector in `tools` picks a tool generated from Zoho's OpenAPI files only for an agent
with `catalog: whole`: configs written for the hand-written tools keep their grant when the catalog grows.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Mapping, Sequence

from zbmcp.core.manifest import ToolSpec

GROUP_ACCESS = ("read", "write", "*")


def select_all(selectors: Sequence[str], specs: Mapping[str, ToolSpec], *,
                curated_only: bool = False) -> dict[str, str]:
    """tool name -> the first selector that picked it."""
    picked: dict[str, str] = {}
    for selector in selectors:
        for name in select(selector, specs, curated_only=curated_only):
            picked.setdefault(name, selector)
    return picked


def select(selector: str, specs: Mapping[str, ToolSpec], *, curated_only: bool = False) -> list[str]:
    """The tools one selector picks; ValueError with the fix when it is malformed or picks nothing.

    `curated_only`: a wildcard or module selector picks no generated tool (an agent's `tools` without
    `catalog: whole`); a tool named exactly is picked either way. The keys that narrow a grant (exclude,
    require_approval, rules) pick from the whole catalog, so they cover a generated tool named in `tools`.
    """
    if curated_only and selector in specs:
        return [selector]
    if curated_only:
        picked = [name for name in select(selector, specs) if not specs[name].generated]
        if not picked:
            raise ValueError(f"{selector!r} picks only tools generated from Zoho's OpenAPI files, which a "
                             "wildcard grants only with `catalog: whole`; name the tools, or add "
                             "`catalog: whole` to the agent")
        return picked
    if ":" in selector:
        module, _, access = selector.partition(":")
        modules = sorted({s.module for s in specs.values()})
        if module != "*" and module not in modules:
            raise ValueError(f"unknown module {module!r} in {selector!r}{nearest(module, modules)}")
        if access not in GROUP_ACCESS:
            raise ValueError(f"{selector!r}: after the colon write read, write or *")
        return [
            n for n, s in specs.items()
            if module in ("*", s.module) and access in ("*", s.access)
        ]
    if any(ch in selector for ch in "*?["):
        matches = [n for n in specs if fnmatch.fnmatchcase(n, selector)]
        if not matches:
            raise ValueError(f"{selector!r} matches no tool")
        return matches
    if selector not in specs:
        raise ValueError(f"unknown tool {selector!r}{nearest(selector, list(specs))}")
    return [selector]


def nearest(word: str, candidates: Sequence[str]) -> str:
    near = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.5)
    return f"; did you mean {near[0]!r}?" if near else ""
