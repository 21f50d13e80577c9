"""Who can do what, at a glance: agents by modules, each cell with the rule behind it; and what a change of
config would grant or take away (pure: built from the resolved policies, never a second set of rules).

    each tool, for each agent:  hidden < dry run < read < approval < write
    a cell (agent x module):    the states of the module's tools, with the rule behind each
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from zbmcp.core.config import LoadedConfig
from zbmcp.core.config_parse import parse_config
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.policy import AgentPolicy, policies, select
from zbmcp.core.yamlsource import Placeholders

State = Literal["hidden", "dry run", "read", "approval", "write"]
POWER: dict[State, int] = {"hidden": 0, "dry run": 1, "read": 2, "approval": 3, "write": 4}
SHOWN_ORDER: tuple[State, ...] = ("read", "write", "approval", "dry run")


@dataclass(frozen=True)
class ToolAccess:
    tool: str
    state: State
    rule: str


@dataclass(frozen=True)
class Cell:
    module: str
    tools: tuple[ToolAccess, ...]

    @property
    def states(self) -> list[State]:
        present = {t.state for t in self.tools}
        shown = [s for s in SHOWN_ORDER if s in present]
        return shown or ["hidden"]


@dataclass(frozen=True)
class AgentAccess:
    agent: str
    connection: str
    organizations: tuple[str, ...]
    scopes: list[str]
    approval: str  # who approves require_approval calls, in words
    keys: int  # API keys (hosted agents)
    flags: list[str]  # read_only, dry_run, quota
    cells: dict[str, Cell]
    channel: str | None = None  # the agent's `approval:` (None: by transport), what `approval` words

    def tool(self, name: str) -> ToolAccess | None:
        for cell in self.cells.values():
            for access in cell.tools:
                if access.tool == name:
                    return access
        return None


@dataclass(frozen=True)
class Matrix:
    modules: list[str]
    agents: list[AgentAccess]

    def agent(self, name: str) -> AgentAccess | None:
        return next((a for a in self.agents if a.agent == name), None)


@dataclass(frozen=True)
class Change:
    agent: str
    what: str  # a tool name, "organization 123", "approval", "API keys", "agent"
    before: str
    after: str
    grants: bool  # True: the change gives the agent more; False: it takes some away


def access_matrix(loaded: LoadedConfig, specs: Mapping[str, ToolSpec],
                  policies: Mapping[str, AgentPolicy]) -> Matrix:
    modules = sorted({spec.module for spec in specs.values()})
    rows = []
    for name, policy in policies.items():
        agent = loaded.config.agents[name]
        cells: dict[str, Cell] = {}
        for module in modules:
            accesses = tuple(_tool_access(policy, spec, agent.tools, agent.require_approval, specs)
                             for spec in specs.values() if spec.module == module)
            cells[module] = Cell(module, accesses)
        flags = [flag for flag, on in (("read_only", agent.read_only), ("dry_run", agent.dry_run)) if on]
        if agent.quota is not None:
            flags.append("quota " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in
                                             agent.quota.model_dump(exclude_none=True).items()))
        rows.append(AgentAccess(
            agent=name, connection=agent.connection, organizations=policy.organizations, scopes=policy.scopes,
            approval=_approver(agent.approval, bool(agent.api_keys)), keys=len(agent.api_keys), flags=flags,
            cells=cells, channel=agent.approval,
        ))
    return Matrix(modules, rows)


def _approver(channel: str | None, hosted: bool) -> str:
    if channel == "client":
        return "the agent's own MCP client (elicitation)"
    if channel == "console":
        return "an operator in the console"
    return "an operator in the console over HTTP; the client over stdio" if hosted else \
        "the client over stdio; an operator in the console over HTTP"


def _tool_access(policy: AgentPolicy, spec: ToolSpec, selectors: list[str], approvals: list[str],
                 specs: Mapping[str, ToolSpec]) -> ToolAccess:
    hidden = policy.hidden.get(spec.name)
    if hidden is not None:
        return ToolAccess(spec.name, "hidden", hidden.rule)
    chosen = policy.selected_by.get(spec.name) or _first_selecting(selectors, spec.name, specs)
    rule = f"selected by `tools: {chosen}`" if chosen else "selected by `tools`"
    argument_rules = [r.describe() for r in policy.rules if r.applies_to([spec.name])]
    if argument_rules:  # the argument rules (CEL) that may still allow, ask or deny a given call
        rule += "; " + "; ".join(argument_rules)
    if spec.read_only:
        return ToolAccess(spec.name, "read", rule)
    if policy.dry_run:
        return ToolAccess(spec.name, "dry run", rule + "; `dry_run: true` sends nothing")
    if spec.name in policy.needs_approval:
        by = _first_selecting(approvals, spec.name, specs)
        return ToolAccess(spec.name, "approval",
                          rule + f"; a person approves each call (`require_approval: {by}`)")
    return ToolAccess(spec.name, "write", rule)


def _first_selecting(selectors: list[str], tool: str, specs: Mapping[str, ToolSpec]) -> str | None:
    for selector in selectors:
        if tool in select(selector, specs):
            return selector
    return None


def compare(before: Matrix, after: Matrix) -> list[Change]:
    """What changes, agent by agent, when `after` replaces `before`."""
    changes: list[Change] = []
    added = [a.agent for a in after.agents if before.agent(a.agent) is None]
    names = [a.agent for a in before.agents] + added
    for name in names:
        old, new = before.agent(name), after.agent(name)
        if old is None or new is None:
            present = new or old
            assert present is not None
            tools = sum(1 for cell in present.cells.values() for t in cell.tools if t.state != "hidden")
            changes.append(Change(name, "agent", "absent" if old is None else f"{tools} tools",
                                  f"{tools} tools" if old is None else "removed", grants=old is None))
            continue
        for organization in sorted(set(new.organizations) - set(old.organizations)):
            changes.append(Change(name, f"organization {organization}", "no access", "access", grants=True))
        for organization in sorted(set(old.organizations) - set(new.organizations)):
            changes.append(Change(name, f"organization {organization}", "access", "no access", grants=False))
        for cell in old.cells.values():
            for was in cell.tools:
                now = new.tool(was.tool)
                if now is not None and now.state != was.state:
                    changes.append(Change(name, was.tool, was.state, now.state,
                                          grants=POWER[now.state] > POWER[was.state]))
        if old.channel != new.channel:  # the words also say whether the agent is hosted, which keys tell
            # An agent's own client can be the agent itself: moving approvals there gives the agent more.
            changes.append(Change(name, "approval", old.approval, new.approval,
                                  grants="client" in new.approval.split(";")[0]))
        if old.keys != new.keys:
            changes.append(Change(name, "API keys", str(old.keys), str(new.keys), grants=new.keys > old.keys))
    return changes


def matrix_of(text: str, file: str, specs: Mapping[str, ToolSpec], *, aliases: bool = True) -> Matrix:
    """The access matrix of a config file's text (ConfigError with file and line if it would not load).
    `aliases=False` for text from a browser (zbmcp.core.yamlsource)."""
    loaded = parse_config(text, file, Placeholders(), aliases=aliases)
    return access_matrix(loaded, specs, policies(loaded, specs))


def compare_texts(old: tuple[str, str], new: tuple[str, str], specs: Mapping[str, ToolSpec]) -> list[Change]:
    """What the config `new` would grant or take away against `old`, each given as (file, text)."""
    return compare(matrix_of(old[1], old[0], specs), matrix_of(new[1], new[0], specs))


def format_changes(changes: list[Change]) -> str:
    if not changes:
        return "No agent would gain or lose anything.\n"
    rows = [f"{'grants' if c.grants else 'takes':<6}  {c.agent:<16} {c.what:<28} {c.before} -> {c.after}"
            for c in changes]
    granted = sum(1 for c in changes if c.grants)
    return "\n".join(rows) + f"\n{granted} grant more, {len(changes) - granted} take away.\n"
