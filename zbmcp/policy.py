"""Which tools and organizations an agent may use (pure).

Precedence, strongest first:
    read_only: true        hides every write, whatever else says
    exclude: [...]         hides what it selects, even if `tools` selects it too
    tools: [...]           selects what the agent may see and call; nothing is allowed unless selected
    granted scopes         when the connection's granted scopes are known, a tool whose scope was not granted is
                           hidden (calling it could only fail)

Selectors (in tools, exclude, require_approval):
    list_invoices          an exact tool name
    list_*                 a glob on tool names
    invoices:read          a module's reads;  invoices:write, invoices:*  likewise
    *:read, *:write, *:*   every module
A module is the Zoho path segment (invoices, contacts, salesorders, customerpayments, ...).
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from zbmcp.config import Agent, LoadedConfig
from zbmcp.errors import ConfigError, PolicyDenied
from zbmcp.manifest import ToolSpec

GROUP_ACCESS = ("read", "write", "*")
SELECTOR_KEYS = ("tools", "exclude", "require_approval")


@dataclass(frozen=True)
class Hidden:
    tool: str
    rule: str  # which rule hides it, in words a person can act on


@dataclass(frozen=True)
class AgentPolicy:
    """What one agent may see and do, resolved once from the config and the manifests."""

    agent: str
    organizations: tuple[str, ...]
    visible: Mapping[str, ToolSpec]
    hidden: Mapping[str, Hidden]
    needs_approval: frozenset[str]
    dry_run: bool

    def tool_for_call(self, name: str) -> ToolSpec:
        """The tool the agent asked for, or PolicyDenied naming the rule that refuses it."""
        spec = self.visible.get(name)
        if spec is not None:
            return spec
        hidden = self.hidden.get(name)
        if hidden is not None:
            raise PolicyDenied(
                f"Tool {name!r} is not available to agent {self.agent!r}: {hidden.rule}. Nothing was sent to Zoho.",
                rule=hidden.rule,
            )
        near = [n for n in self.visible if n.lower() == name.lower()]
        hint = f" Tool names are case-sensitive: did you mean {near[0]!r}?" if near else ""
        raise PolicyDenied(f"There is no tool named {name!r}.{hint} Nothing was sent to Zoho.", rule="unknown tool")

    def check_organization(self, organization_id: str) -> None:
        if organization_id not in self.organizations:
            allowed = ", ".join(self.organizations)
            raise PolicyDenied(
                f"Agent {self.agent!r} may not touch organization {organization_id}; its organizations are: "
                f"{allowed}. Nothing was sent to Zoho.",
                rule="organizations",
            )

    @property
    def scopes(self) -> list[str]:
        """The least-privilege OAuth scopes that cover every tool this agent may call."""
        return sorted({spec.scope for spec in self.visible.values()})


def resolve(
    agent_name: str,
    agent: Agent,
    specs: Mapping[str, ToolSpec],
    granted_scopes: Iterable[str] | None = None,
) -> AgentPolicy:
    selected = _select_all(agent.tools, specs)
    excluded = _select_all(agent.exclude, specs)
    granted = None if granted_scopes is None else {s.lower() for s in granted_scopes}
    visible: dict[str, ToolSpec] = {}
    hidden: dict[str, Hidden] = {}
    for name, spec in specs.items():
        rule = None
        if agent.read_only and not spec.read_only:
            rule = "the agent is read_only and this tool writes"
        elif name in excluded:
            rule = f"excluded by `exclude: {excluded[name]}`"
        elif name not in selected:
            rule = "not selected by the agent's `tools` (everything is denied unless selected)"
        elif granted is not None and not scope_granted(spec.scope, granted):
            rule = f"the connection was not granted scope {spec.scope} (log in again with it)"
        if rule:
            hidden[name] = Hidden(name, rule)
        else:
            visible[name] = spec
    approval = _select_all(agent.require_approval, specs)
    return AgentPolicy(
        agent=agent_name,
        organizations=tuple(agent.organizations),
        visible=visible,
        hidden=hidden,
        needs_approval=frozenset(n for n in approval if n in visible),
        dry_run=agent.dry_run,
    )


def scope_granted(scope: str, granted: set[str]) -> bool:
    _, module, _op = scope.split(".")
    return bool({scope.lower(), f"zohobooks.{module}.all".lower(), "zohobooks.fullaccess.all"} & granted)


def _select_all(selectors: Sequence[str], specs: Mapping[str, ToolSpec]) -> dict[str, str]:
    """tool name -> the first selector that picked it."""
    picked: dict[str, str] = {}
    for selector in selectors:
        for name in select(selector, specs):
            picked.setdefault(name, selector)
    return picked


def select(selector: str, specs: Mapping[str, ToolSpec]) -> list[str]:
    """The tools one selector picks; ValueError with the fix when it is malformed or picks nothing."""
    if ":" in selector:
        module, _, access = selector.partition(":")
        modules = sorted({s.module for s in specs.values()})
        if module != "*" and module not in modules:
            raise ValueError(f"unknown module {module!r} in {selector!r}{_nearest(module, modules)}")
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
        raise ValueError(f"unknown tool {selector!r}{_nearest(selector, list(specs))}")
    return [selector]


def _nearest(word: str, candidates: Sequence[str]) -> str:
    near = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.5)
    return f"; did you mean {near[0]!r}?" if near else ""


def check_selectors(loaded: LoadedConfig, specs: Mapping[str, ToolSpec]) -> None:
    """Fail at start-up, with file and line, on any selector that is malformed or names nothing."""
    for agent_name, agent in loaded.config.agents.items():
        for key in SELECTOR_KEYS:
            for index, selector in enumerate(getattr(agent, key)):
                try:
                    select(selector, specs)
                except ValueError as exc:
                    raise loaded.source.error(f"agents.{agent_name}.{key}: {exc}", ("agents", agent_name, key, index))


def policies(
    loaded: LoadedConfig,
    specs: Mapping[str, ToolSpec],
    granted_scopes: Mapping[str, Iterable[str] | None] | None = None,
) -> dict[str, AgentPolicy]:
    check_selectors(loaded, specs)
    granted_scopes = granted_scopes or {}
    return {
        name: resolve(name, agent, specs, granted_scopes.get(agent.connection))
        for name, agent in loaded.config.agents.items()
    }


def unknown_agent(name: str, known: Iterable[str]) -> ConfigError:
    known = sorted(known)
    listing = ", ".join(known) or "none is configured"
    return ConfigError(f"no agent named {name!r} in the config (agents: {listing}){_nearest(name, known)}")
