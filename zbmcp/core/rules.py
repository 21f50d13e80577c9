"""Argument rules: the config's `rules`, compiled once with CEL, evaluated against a call's facts (pure).

    agents:
      bookkeeper:
        rules:
          - approve: amount > 5000.0              # a CEL expression over the variables below
            name: big-amounts                     # named in refusals, approval questions and the audit log
            tools: [create_bill, create_customer_payment]   # selectors; default: every tool of the agent
          - deny: date != "" && date < "2026-01-01"
            reason: the books before 2026 are closed
          - allow: counterparty_id in ["460000000012345", "460000000012346"]
            tools: [create_invoice]

Variables (VARIABLES below says what each holds). A rule that cannot be evaluated for a call (a type error,
an argument it reads that the call does not carry, an amount zbmcp cannot know, recipients it could not read
from Zoho) counts against the call:
a deny or approve rule denies it, an allow rule does not allow it. A rule that does not compile, names an
unknown variable, mixes types or does not yield true/false stops start-up with the file and line.

CEL (cel.dev) through `common-expression-language`, the Rust engine (cel-rust) agentgateway uses: typed,
side-effect free and always terminating, so a rule cannot loop, call out or change anything. Only its engine
is loaded, and only when a config has rules: `import cel` also loads the package's command-line tool (typer,
rich, prompt_toolkit), about 0.13 s on a 2-core machine and more on a busy one, for nothing zbmcp uses.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from zbmcp.core.config import LoadedConfig
from zbmcp.core.config import Rule as RuleConfig

Kind = Literal["deny", "approve", "allow"]

VARIABLES: dict[str, str] = {
    "agent": "the agent's name",
    "tool": "the tool called, e.g. create_invoice",
    "module": "the tool's Zoho module, e.g. invoices",
    "access": '"read" or "write"',
    "organization": 'the organization id ("" for list_organizations)',
    "amount": "the money the call writes: a document's total as Zoho computes it (zbmcp.core.amounts), never "
              "less; a payment's or an expense's amount; 0.0 when it writes none",
    "counterparty_id": 'the customer_id or vendor_id the call names ("" when none)',
    "date": 'the document date the call sets, yyyy-mm-dd (a create without one: today in the organization\'s '
            'time zone, as Zoho does; "" when '
            "none)",
    "recipients": "every address the call emails (to, cc and bcc); with send=true, the customer's contact "
                  "persons, read from Zoho before the call is decided",
    "emails": "true when the call emails someone, openly or through a field such as send",
    "effects": 'the effects the call carries beyond its record, e.g. ["emails"] or ["moves_money"]',
    "args": "the call's own arguments, as sent (use has(args.x) before reading an optional one)",
}

# Values of every type a variable can hold: each rule is tried on them at start-up, so a typo in a variable
# name or a type mix-up (amount > "5000") stops start-up instead of refusing calls later.
SAMPLE: dict[str, Any] = {
    "agent": "agent", "tool": "create_invoice", "module": "invoices", "access": "write",
    "organization": "10234695", "amount": 1.0, "counterparty_id": "460000000000001", "date": "2026-01-01",
    "recipients": ["person@example.com"], "emails": True, "effects": ["emails"], "args": {},
}


# CEL lists a macro's loop variable (r in recipients.exists(r, ...)) among the expression's variables.
LOOP_VARIABLE = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


class RuleError(Exception):
    """A rule could not be evaluated for this call; the message says why."""


@dataclass(frozen=True)
class Rule:
    kind: Kind
    expression: str
    label: str  # its name, or where it is: rules[2]
    tools: frozenset[str]  # the tools it applies to; empty: all of the agent's
    reason: str | None
    program: Any  # a compiled cel.Program

    @property
    def uses_amount(self) -> bool:
        return "amount" in self.program.variables()

    @property
    def uses_date(self) -> bool:
        return "date" in self.program.variables()

    @property
    def uses_counterparty(self) -> bool:
        return "counterparty_id" in self.program.variables()

    @property
    def uses_recipients(self) -> bool:
        return "recipients" in self.program.variables()

    def describe(self) -> str:
        """rule big-amounts (approve: amount > 5000.0)"""
        return f"rule {self.label} ({self.kind}: {_short(self.expression)})"

    def applies_to(self, tools: Sequence[str]) -> bool:
        return not self.tools or any(tool in self.tools for tool in tools)

    def holds(self, context: Mapping[str, Any]) -> bool:
        try:
            result = self.program.execute(dict(context))
        except KeyError as exc:
            raise RuleError(f"the call has no {exc.args[0]!r} (read optional arguments as "
                            f"has(args.{exc.args[0]}) && ...)") from None
        except Exception as exc:  # noqa: BLE001 - CEL reports type and runtime errors as several classes
            raise RuleError(_first_line(exc)) from None
        if not isinstance(result, bool):
            raise RuleError(f"it gave {result!r}, not true or false")
        return result


def compile_rules(loaded: LoadedConfig, agent_name: str, select: Any) -> tuple[Rule, ...]:
    """The agent's rules, compiled and tried on sample values; ConfigError with file and line on a bad one.

    `select(selector)` returns the tool names a selector picks (zbmcp.core.policy.select, bound to the
    manifests).
    """
    configured = loaded.config.agents[agent_name].rules
    if not configured:
        return ()
    cel = _engine()

    compiled = []
    for index, rule in enumerate(configured):
        where = ("agents", agent_name, "rules", index)
        prefix = f"agents.{agent_name}.rules[{index}]"
        kind: Kind = rule.kind  # type: ignore[assignment]
        try:
            program = cel.compile(rule.expression)
        except Exception as exc:  # noqa: BLE001 - a parse error; the message shows where in the expression
            raise loaded.source.error(f"{prefix}.{kind}: not a valid CEL expression: {_first_line(exc)}",
                                      (*where, kind)) from None
        _try_on_sample(loaded, program, rule.expression, f"{prefix}.{kind}", (*where, kind))
        tools: set[str] = set()
        for position, selector in enumerate(rule.tools):
            try:
                tools.update(select(selector))
            except ValueError as exc:
                raise loaded.source.error(f"{prefix}.tools: {exc}", (*where, "tools", position)) from None
        compiled.append(Rule(kind, rule.expression, rule.name or f"rules[{index}]", frozenset(tools),
                             rule.reason, program))
    _check_names_unique(loaded, agent_name, configured)
    return tuple(compiled)


def _engine() -> Any:
    """cel-rust's compiled module (`cel.cel`, which the package re-exports), without the package's __init__
    and the command-line tool it imports; the package as usual if its layout is not the one expected."""
    if "cel.cel" in sys.modules:
        return sys.modules["cel.cel"]
    package = importlib.util.find_spec("cel")  # found, not run
    folders = package.submodule_search_locations if package else None
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = next((Path(folder) / f"cel{suffix}" for folder in folders or ()
                     if (Path(folder) / f"cel{suffix}").is_file()), None)
        if path is not None:
            spec = importlib.util.spec_from_file_location("cel.cel", path)
            assert spec is not None and spec.loader is not None
            engine = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(engine)
            sys.modules["cel.cel"] = engine  # a later `import cel` re-exports this one, not a second copy
            return engine
    import cel

    return cel


def _try_on_sample(loaded: LoadedConfig, program: Any, expression: str, where: str,
                   path: tuple[str | int, ...]) -> None:
    unknown = sorted(set(program.variables()) - set(VARIABLES) - set(LOOP_VARIABLE.findall(expression)))
    if unknown:
        raise loaded.source.error(f"{where}: unknown variable {', '.join(map(repr, unknown))}; the variables "
                                  f"are: {', '.join(VARIABLES)} (docs/policy.md)", path)
    try:
        result = program.execute(dict(SAMPLE))
    except (KeyError, ZeroDivisionError):
        return  # an argument the sample lacks, or arithmetic on sample values: fine at start-up
    except Exception as exc:  # noqa: BLE001 - a type error or an unknown function: the rule can never work
        raise loaded.source.error(f"{where}: {_first_line(exc)}", path) from None
    if not isinstance(result, bool):
        raise loaded.source.error(f"{where}: the expression gives {type(result).__name__} {result!r}; a rule "
                                  "must give true or false (e.g. amount > 5000.0)", path)


def _check_names_unique(loaded: LoadedConfig, agent_name: str, configured: Sequence[RuleConfig]) -> None:
    seen: dict[str, int] = {}
    for index, rule in enumerate(configured):
        if rule.name is None:
            continue
        if rule.name in seen:
            raise loaded.source.error(
                f"agents.{agent_name}.rules[{index}].name: {rule.name!r} is also rules[{seen[rule.name]}]'s "
                "name; the audit log tells rules apart by name",
                ("agents", agent_name, "rules", index, "name"),
            )
        seen[rule.name] = index


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "\n" not in text:
        return text.splitlines()[0]
    return " ".join(line.strip() for line in text.splitlines()[:3])


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
