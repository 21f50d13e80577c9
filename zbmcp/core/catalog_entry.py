"""The generated tool catalog (catalog/generated.json, written by scripts/generate_catalog.py) -> ToolSpec
values (pure: the caller reads the file, zbmcp.calls.catalog).

Each entry is a ToolSpec's fields as JSON, the effects and withheld fields included. The server turns entries
into ToolSpec values without validating them again: that costs time on every start, for some 460 tools, and
the generator already checked every entry with `check_entry`, as a test does again on the committed file.

What `check_entry` holds a generated tool to, on top of a hand manifest's rules (zbmcp.core.manifest_file):
    every field it forwards has an effect zbmcp can gate (none, emails, recipients, email_content,
    moves_money); a read's are all none
    a field with effect emails names the module's email tool, whose rules it takes on
    a recipient field is checked as email addresses
    a withheld field is not declared, and says why (its effect, `unclassified` or `file`)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from pydantic import Field, ValidationError

from zbmcp.core.manifest import ToolSpec, Withheld, dotted_fields, schema_at
from zbmcp.core.manifest_file import OFFERABLE_EFFECTS, _ToolModel

SPEC_FIELDS = ("name", "module", "title", "description", "method", "path", "scope", "access", "result_key",
               "path_params", "query", "unadvertised_query", "body", "required", "emails_customer", "effects",
               "withheld", "email_tool")


class _GeneratedTool(_ToolModel):
    # Zoho's paths as its files write them: /recurring_bills/{recurring_bill_id}, /settings/taxes
    path: str = Field(pattern=r"^(/([a-z0-9_]+|\{[a-z_]+\}))+$")
    module: str = Field(pattern=r"^[a-z]+$")
    email_tool: str | None = None


def entry_of(spec: ToolSpec) -> dict[str, Any]:
    """A ToolSpec as a catalog entry (JSON-ready)."""
    entry = {name: getattr(spec, name) for name in SPEC_FIELDS}
    entry["required"] = list(spec.required)
    entry["effects"] = dict(spec.effects)
    entry["withheld"] = dict(spec.withheld)
    return entry


def spec_of(entry: Mapping[str, Any], source: str) -> ToolSpec:
    """A catalog entry as a ToolSpec, trusted (check_entry vetted it when it was generated)."""
    values = {name: entry[name] for name in SPEC_FIELDS}
    values["required"] = tuple(values["required"])
    return ToolSpec(**values, source=source, generated=True)


def check_entry(entry: Mapping[str, Any], email_tools: set[str]) -> list[str]:
    """What is wrong with one generated entry, in words naming the tool and the field; [] when nothing is.
    `email_tools`: the names of every tool that emails openly (emails_customer), across the catalog."""
    name = entry.get("name", "?")
    missing = sorted(set(SPEC_FIELDS) - set(entry))
    if missing:
        return [f"{name}: missing {missing}"]
    try:
        _GeneratedTool.model_validate({k: v for k, v in entry.items() if k != "effects"})
    except ValidationError as exc:
        return [f"{name}: {error['loc']}: {error['msg']}" for error in exc.errors()]
    problems = []
    groups = {**entry["query"], **entry["unadvertised_query"], **(entry["body"] or {})}
    forwarded = dotted_fields(groups)
    effects: Mapping[str, str] = entry["effects"]
    if sorted(effects) != sorted(forwarded):
        problems.append(f"{name}: effects {sorted(set(effects) ^ set(forwarded))} do not match the fields it "
                        "forwards")
    for field, effect in effects.items():
        if effect not in OFFERABLE_EFFECTS:
            problems.append(f"{name}: field {field!r} has effect {effect!r}, which zbmcp cannot gate")
        elif entry["method"] == "GET" and effect != "none":
            problems.append(f"{name}: a read's field {field!r} has effect {effect!r}")
        elif effect == "emails" and entry["email_tool"] not in email_tools:
            problems.append(f"{name}: field {field!r} emails, and {entry['email_tool']!r} is no email tool")
        elif effect == "recipients" and schema_at(groups, field).get("format") != "email":
            problems.append(f"{name}: recipient field {field!r} is not checked as email addresses")
    for field, why in entry["withheld"].items():
        if why not in get_args(Withheld):
            problems.append(f"{name}: withheld {field!r} says {why!r}")
        if field in forwarded:
            problems.append(f"{name}: {field!r} is both withheld and forwarded")
    return problems
