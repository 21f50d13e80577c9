"""The policy layer (pure): which tools and organizations an agent may use, what a call's arguments may do,
and one entry that decides each call: decide(spec, request, today) -> Decision(allow | approve | deny, rule,
revision).

Visibility precedence, strongest first:
    read_only: true        hides every write, whatever else says
    exclude: [...]         hides what it selects, even if `tools` selects it too
    tools: [...]           selects what the agent may see and call; nothing is allowed unless selected
    granted scopes         when the connection's granted scopes are known, a tool whose scope was not granted
                           is hidden (calling it could only fail)

Selectors: zbmcp.core.selectors.

A call to a visible tool in one of the agent's organizations is then decided, deny beating approve beating
allow:
    effects                a field that emails (create_invoice's send) takes on the rules of the tool that
                           emails openly (email_invoice): denied if the agent cannot see it, asked if it needs
                           approval, and that tool's argument rules apply too
    rules                  deny / approve rules whose CEL expression holds (zbmcp.core.rules); a rule that
                           cannot be evaluated for the call counts against it
                           allow rules: when some apply to the tool, one of them must hold
    require_approval       the tool itself needs a person's approval
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from zbmcp.core.config import Agent, LoadedConfig
from zbmcp.errors import ConfigError, PolicyDenied
from zbmcp.core.facts import Facts, facts_of, reads_for, tax_read_scopes
from zbmcp.core.found import NOTHING, Found, Reads
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.requests import ZohoRequest
from zbmcp.core.rules import Rule, RuleError, compile_rules
from zbmcp.core.selectors import nearest, select, select_all

LOOKUP_SCOPE = "ZohoBooks.contacts.READ"  # zbmcp reads whom a field such as send=true emails
SELECTOR_KEYS = ("tools", "exclude", "require_approval", "pinned")


@dataclass(frozen=True)
class Hidden:
    tool: str
    rule: str  # which rule hides it, in words a person can act on


Outcome = Literal["allow", "approve", "deny"]


@dataclass(frozen=True)
class Decision:
    """What the policy says about one call, and the rule that says it (named in the audit record)."""

    outcome: Outcome
    rule: str  # the rule that decided, as a person can find it in the config
    revision: str  # the config's revision (LoadedConfig.revision)
    facts: Facts | None = None
    reasons: tuple[str, ...] = ()  # approve: every rule that asks a person
    message: str = ""  # deny: the refusal the agent reads, naming the rule and the fix


@dataclass(frozen=True)
class AgentPolicy:
    """What one agent may see and do, resolved once from the config and the manifests."""

    agent: str
    organizations: tuple[str, ...]
    visible: Mapping[str, ToolSpec]
    hidden: Mapping[str, Hidden]
    needs_approval: frozenset[str]
    dry_run: bool
    selected_by: Mapping[str, str] = field(default_factory=dict)  # visible tool -> the `tools` selector
    rules: tuple[Rule, ...] = ()
    revision: str = ""
    pinned: tuple[str, ...] = ()  # visible tools `pinned` selects, in its order (zbmcp/calls/tool_list.py)

    @property
    def may_ask_approval(self) -> bool:
        """Whether any call of this agent can need a person's approval: a `require_approval` tool (which also
        gates the same effect in another tool, e.g. send=true) or an `approve` rule."""
        return bool(self.needs_approval) or any(rule.kind == "approve" for rule in self.rules)

    def decide(self, spec: ToolSpec, request: ZohoRequest, today: dt.date,
               found: Found = NOTHING) -> Decision:
        """The one decision for a well-formed call: deny beats approve beats allow. `today` dates a create
        that gives no date; `found` is what zbmcp read from Zoho for the call (reads_before_deciding)."""
        refused = self._refusal(spec, request)
        if refused is not None:
            return refused
        facts = facts_of(spec, request, today, found)
        reasons: list[str] = []
        like = self._like(spec, facts, reasons)
        if isinstance(like, Decision):
            return like
        applying = [rule for rule in self.rules if rule.applies_to(like)]
        context = _context(self.agent, spec, facts) if applying else {}
        allow_rules = [rule for rule in applying if rule.kind == "allow"]
        allowed_by = None
        for rule in applying:
            try:
                unknowable = _unknowable(rule, facts)
                if unknowable is not None:
                    raise RuleError(unknowable)
                holds = rule.holds(context)
            except RuleError as exc:
                if rule.kind == "allow":
                    continue
                return self._deny(rule.describe(), f"{rule.describe()} could not be evaluated for this "
                                  f"call: {exc}. zbmcp refuses what a rule cannot judge.", facts)
            if holds and rule.kind == "deny":
                return self._deny(rule.describe(), f"{rule.describe()} refuses this call"
                                  + (f": {rule.reason}" if rule.reason else "") + ".", facts)
            if holds and rule.kind == "approve":
                reasons.append(rule.describe() + (f": {rule.reason}" if rule.reason else ""))
            if holds and rule.kind == "allow" and allowed_by is None:
                allowed_by = rule.describe()
        if allow_rules and allowed_by is None:
            names = "; ".join(rule.describe() for rule in allow_rules)
            return self._deny(f"no allow rule holds ({', '.join(r.label for r in allow_rules)})",
                              f"None of the rules that allow {spec.name} holds for this call: {names}.",
                              facts)
        if spec.name in self.needs_approval:
            reasons.append(f"require_approval: {spec.name}")
        if reasons:
            return Decision("approve", reasons[0], self.revision, facts, tuple(reasons))
        return Decision("allow", allowed_by or f"tools: {self.selected_by.get(spec.name, spec.name)}",
                        self.revision, facts)

    def reads_before_deciding(self, spec: ToolSpec, request: ZohoRequest) -> Reads:
        """What zbmcp must read from Zoho to decide this call: whom a field that emails reaches (the rules see
        them as `recipients`) and, when a rule that applies reads `amount`, what the amount depends on.
        Nothing for a call refused whatever Zoho says."""
        if self._refusal(spec, request) is not None:
            return Reads()
        like = self._like(spec, facts_of(spec, request, dt.date.min), [])
        if isinstance(like, Decision):
            return Reads()
        applying = [rule for rule in self.rules if rule.applies_to(like)]
        return reads_for(spec, request, amount=any(rule.uses_amount for rule in applying), question=False,
                         date=any(rule.uses_date for rule in applying),
                         party=any(rule.uses_counterparty for rule in applying))

    def _like(self, spec: ToolSpec, facts: Facts, reasons: list[str]) -> list[str] | Decision:
        """The tools whose rules this call takes on: its own, and the email tool of a field that emails (which
        may refuse it, or add to the `reasons` to ask a person)."""
        like = [spec.name]
        for effect in facts.effects:
            if effect.effect != "emails" or spec.email_tool is None:
                continue
            denied = self._effect_gate(spec, effect.field, spec.email_tool, reasons)
            if denied is not None:
                return denied
            like.append(spec.email_tool)
        return like

    def _refusal(self, spec: ToolSpec, request: ZohoRequest) -> Decision | None:
        if spec.name not in self.visible:
            hidden = self.hidden[spec.name].rule if spec.name in self.hidden else "unknown tool"
            return self._deny(hidden,
                              f"Tool {spec.name!r} is not available to agent {self.agent!r}: {hidden}.")
        if request.organization_id is not None and request.organization_id not in self.organizations:
            return self._deny("organizations", f"Agent {self.agent!r} may not touch organization "
                              f"{request.organization_id}; its organizations are: "
                              f"{', '.join(self.organizations)}.")
        return None

    def _effect_gate(self, spec: ToolSpec, field_name: str, open_tool: str,
                     reasons: list[str]) -> Decision | None:
        """A field that does what another tool does openly brings that tool's rules along."""
        if open_tool not in self.visible:
            hidden = self.hidden.get(open_tool)
            why = hidden.rule if hidden else "not available"
            return self._deny(
                f"effects: {field_name} emails like {open_tool}, which the agent may not use",
                f"{spec.name} with {field_name} emails someone, as {open_tool} does, and agent "
                f"{self.agent!r} may not use {open_tool} ({why}). Leave {field_name} out to create it "
                "without emailing anyone.",
            )
        if open_tool in self.needs_approval:
            reasons.append(f"require_approval: {open_tool} ({spec.name} with {field_name} emails like it)")
        return None

    def _deny(self, rule: str, message: str, facts: Facts | None = None) -> Decision:
        return Decision("deny", rule, self.revision, facts, message=f"{message} Nothing was sent to Zoho.")

    def tool_for_call(self, name: str) -> ToolSpec:
        """The tool the agent asked for, or PolicyDenied naming the rule that refuses it."""
        spec = self.visible.get(name)
        if spec is not None:
            return spec
        hidden = self.hidden.get(name)
        if hidden is not None:
            raise PolicyDenied(
                f"Tool {name!r} is not available to agent {self.agent!r}: {hidden.rule}. "
                "Nothing was sent to Zoho.",
                rule=hidden.rule,
            )
        near = [n for n in self.visible if n.lower() == name.lower()]
        hint = f" Tool names are case-sensitive: did you mean {near[0]!r}?" if near else ""
        raise PolicyDenied(f"There is no tool named {name!r}.{hint} Nothing was sent to Zoho.",
                           rule="unknown tool")

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
        """The least-privilege OAuth scopes that cover every tool this agent may call, and zbmcp's own reads
        its calls are decided on (calls.lookups): whom send=true emails, a tax's rate for an amount."""
        emails_through_a_field = any(
            effect == "emails" and spec.email_tool in self.visible
            for spec in self.visible.values() for _, effect in spec.outside_effects)
        lookups = {LOOKUP_SCOPE} if emails_through_a_field else set()
        lookups |= tax_read_scopes(self.visible, lambda name: any(
            rule.uses_amount and rule.applies_to([name]) for rule in self.rules))
        return sorted({spec.scope for spec in self.visible.values()} | lookups)


def _context(agent: str, spec: ToolSpec, facts: Facts) -> dict[str, Any]:
    """The CEL variables (zbmcp.core.rules.VARIABLES) for one call."""
    return {
        "agent": agent, "tool": spec.name, "module": spec.module, "access": spec.access,
        "organization": facts.organization or "", "amount": facts.amount,
        "counterparty_id": facts.counterparty_id or "", "date": facts.date or "",
        "recipients": list(facts.recipients.all()), "emails": facts.emails, "effects": facts.effect_names,
        "args": dict(facts.arguments),
    }


def _unknowable(rule: Rule, facts: Facts) -> str | None:
    """Why the rule cannot judge this call, before it is run: it reads a fact zbmcp could not learn."""
    if facts.amount is None and rule.uses_amount:
        return f"it reads the amount, which zbmcp cannot know: {facts.amount_unknown}"
    if facts.counterparty_unknown is not None and rule.uses_counterparty:
        return f"it reads the counterparty, which zbmcp cannot know: {facts.counterparty_unknown}"
    if facts.recipients.unknown is not None and rule.uses_recipients:
        return (f"it reads the recipients, and the call emails people zbmcp could not learn: "
                f"{facts.recipients.unknown}")
    return None


def resolve(
    agent_name: str,
    agent: Agent,
    specs: Mapping[str, ToolSpec],
    granted_scopes: Iterable[str] | None = None,
    *,
    rules: tuple[Rule, ...] = (),
    revision: str = "",
) -> AgentPolicy:
    curated = agent.catalog == "curated"
    selected = select_all(agent.tools, specs, curated_only=curated)
    # what the wildcards would pick from the whole catalog, to say why a generated tool is hidden
    widened = select_all(agent.tools, specs) if curated else selected
    excluded = select_all(agent.exclude, specs)
    granted = None if granted_scopes is None else {s.lower() for s in granted_scopes}
    visible: dict[str, ToolSpec] = {}
    hidden: dict[str, Hidden] = {}
    for name, spec in specs.items():
        rule = None
        if agent.read_only and not spec.read_only:
            rule = "the agent is read_only and this tool writes"
        elif name in excluded:
            rule = f"excluded by `exclude: {excluded[name]}`"
        elif name not in selected and name in widened:
            rule = (f"a generated tool, which `tools: {widened[name]}` grants only with `catalog: whole` "
                    "(or name the tool in `tools`)")
        elif name not in selected:
            rule = "not selected by the agent's `tools` (everything is denied unless selected)"
        elif granted is not None and not scope_granted(spec.scope, granted):
            rule = f"the connection was not granted scope {spec.scope} (log in again with it)"
        if rule:
            hidden[name] = Hidden(name, rule)
        else:
            visible[name] = spec
    approval = select_all(agent.require_approval, specs)
    return AgentPolicy(
        agent=agent_name,
        organizations=tuple(agent.organizations),
        visible=visible,
        hidden=hidden,
        needs_approval=frozenset(n for n in approval if n in visible),
        dry_run=agent.dry_run,
        selected_by={name: selected[name] for name in visible},
        rules=rules,
        revision=revision,
        pinned=tuple(name for name in select_all(agent.pinned, specs) if name in visible),
    )


def scope_granted(scope: str, granted: set[str]) -> bool:
    _, module, _op = scope.split(".")
    return bool({scope.lower(), f"zohobooks.{module}.all".lower(), "zohobooks.fullaccess.all"} & granted)


def check_selectors(loaded: LoadedConfig, specs: Mapping[str, ToolSpec]) -> None:
    """Fail at start-up, with file and line, on any selector that is malformed or names nothing, and on a
    require_approval or rule that selects only tools the agent cannot see: it would silently do nothing."""
    for agent_name, agent in loaded.config.agents.items():
        for key in SELECTOR_KEYS:
            for index, selector in enumerate(getattr(agent, key)):
                try:
                    select(selector, specs, curated_only=key == "tools" and agent.catalog == "curated")
                except ValueError as exc:
                    raise loaded.source.error(f"agents.{agent_name}.{key}: {exc}",
                                              ("agents", agent_name, key, index))
        configured = resolve(agent_name, agent, specs)  # what the config lets it see, whatever was granted
        for key in ("require_approval", "pinned"):
            for index, selector in enumerate(getattr(agent, key)):
                _check_sees(loaded, agent_name, configured, selector, specs, (key, index))
        for index, rule in enumerate(agent.rules):
            for position, selector in enumerate(rule.tools):
                _check_sees(loaded, agent_name, configured, selector, specs,
                            ("rules", index, "tools", position))


def _check_sees(loaded: LoadedConfig, agent_name: str, configured: AgentPolicy, selector: str,
                specs: Mapping[str, ToolSpec], where: tuple[str | int, ...]) -> None:
    key = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in where).replace(".[", "[")
    try:
        picked = select(selector, specs)
    except ValueError as exc:
        raise loaded.source.error(f"agents.{agent_name}.{key}: {exc}",
                                  ("agents", agent_name, *where)) from None
    if any(name in configured.visible for name in picked):
        return
    why = "; ".join(f"{name}: {configured.hidden[name].rule}" for name in picked[:3])
    raise loaded.source.error(
        f"agents.{agent_name}.{key}: {selector!r} selects no tool agent {agent_name!r} can see ({why}), so "
        "it would silently do nothing. Remove it, or give the agent the tool in `tools`.",
        ("agents", agent_name, *where),
    )


def policies(
    loaded: LoadedConfig,
    specs: Mapping[str, ToolSpec],
    granted_scopes: Mapping[str, Iterable[str] | None] | None = None,
) -> dict[str, AgentPolicy]:
    check_selectors(loaded, specs)
    granted_scopes = granted_scopes or {}
    return {
        name: resolve(name, agent, specs, granted_scopes.get(agent.connection),
                      rules=compile_rules(loaded, name, lambda selector: select(selector, specs)),
                      revision=loaded.revision)
        for name, agent in loaded.config.agents.items()
    }


def unknown_agent(name: str, known: Iterable[str]) -> ConfigError:
    known = sorted(known)
    listing = ", ".join(known) or "none is configured"
    return ConfigError(f"no agent named {name!r} in the config (agents: {listing}){nearest(name, known)}")
