"""One tool as its manifest describes it (ToolSpec), with everything derived from it (pure).

Annotations are derived here, never typed twice. Every string property named `*_id` (and every item of a
`*_ids` array) must be a Zoho id: digits only (at most 19), so an id can never smuggle `/`, `?` or `..` into a
URL.

Only declared arguments reach Zoho: every object, at any depth, refuses properties it does not declare.

Effects: what a field makes Zoho do beyond writing the record itself (zbmcp.core.manifest_file says how a
manifest classifies them).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

ZOHO_ID_PATTERN = "^[0-9]{1,19}$"  # Zoho's ids are 64-bit numbers: at most 19 digits
SCOPE = re.compile(r"^ZohoBooks\.(?P<module>[a-z]+)\.(?P<op>CREATE|READ|UPDATE|DELETE|ALL)$")

Access = Literal["read", "write"]
Method = Literal["GET", "POST", "PUT", "DELETE"]
Effect = Literal["none", "emails", "recipients", "email_content", "moves_money", "numbering", "other_records"]
EFFECTS: tuple[Effect, ...] = ("none", "emails", "recipients", "email_content", "moves_money", "numbering",
                               "other_records")
# Why a Zoho field is withheld: its effect, which zbmcp does not offer; nobody has classified it yet
# (generated tools: catalog/fields.yaml); or Zoho takes it as a file, which zbmcp does not send.
Withheld = Literal["emails", "recipients", "email_content", "moves_money", "numbering", "other_records",
                   "unclassified", "file"]
# What a field with each effect makes Zoho do, in words (refusals, approval questions).
EFFECT_WORDS = {
    "none": "has no effect beyond the record",
    "emails": "makes Zoho email someone",
    "recipients": "chooses who Zoho emails",
    "email_content": "changes what Zoho emails",
    "moves_money": "records or moves money",
    "numbering": "sets or bypasses the document numbering",
    "other_records": "changes other records",
    "unclassified": "has not been reviewed for its effect",
    "file": "is a file upload",
}


@dataclass(frozen=True, eq=False)  # identity: a spec is loaded once and used as a cache key
class ToolSpec:
    """One MCP tool, exactly as a manifest describes it, with everything derived from it."""

    name: str
    module: str
    title: str
    description: str
    method: Method
    path: str
    scope: str
    access: Access
    result_key: str | None
    path_params: Mapping[str, Mapping[str, Any]]
    query: Mapping[str, Mapping[str, Any]]
    body: Mapping[str, Mapping[str, Any]] | None
    required: tuple[str, ...]
    emails_customer: bool
    source: str = field(compare=False)
    unadvertised_query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # dotted field path -> effect, for every field the tool forwards (a read's are all "none")
    effects: Mapping[str, Effect] = field(default_factory=dict)
    # Zoho fields of this operation with an effect that zbmcp does not offer: never forwarded, named in
    # refusals
    withheld: Mapping[str, Withheld] = field(default_factory=dict)
    # the tool whose rules a field with effect "emails" brings along (the module's own email tool)
    email_tool: str | None = None
    # generated from Zoho's OpenAPI files (catalog/generated.json) rather than hand-written: a wildcard or
    # module selector grants it only to an agent with `catalog: whole` (zbmcp.core.policy.select)
    generated: bool = field(default=False, compare=False)

    @property
    def read_only(self) -> bool:
        return self.access == "read"

    @cached_property
    def outside_effects(self) -> tuple[tuple[str, Effect], ...]:
        """The top-level fields whose effect reaches beyond the record (send, to_mail_ids, invoices...)."""
        return tuple((name, effect) for name, effect in self.effects.items()
                     if effect != "none" and "." not in name)

    @property
    def may_email(self) -> bool:
        """True when a call can email someone: openly, or through a field such as create_invoice's send."""
        return self.emails_customer or "emails" in self.effects.values()

    @property
    def destructive(self) -> bool:
        return self.method == "DELETE" or self.may_email

    @property
    def idempotent(self) -> bool:
        return self.method in ("GET", "PUT", "DELETE")

    @property
    def open_world(self) -> bool:
        # The books of one organization are a closed world; an email reaches people outside it.
        return self.may_email

    def argument_group(self, name: str) -> Literal["path", "query", "body"] | None:
        if name in self.path_params:
            return "path"
        if name in self.query or name in self.unadvertised_query:
            return "query"
        if name in (self.body or {}):
            return "body"
        return None

    @property
    def is_list(self) -> bool:
        return self.name.startswith("list_")

    @property
    def scope_module(self) -> str:
        match = SCOPE.match(self.scope)
        assert match is not None
        return match["module"]

    @cached_property
    def argument_schema(self) -> dict[str, Any]:
        """The JSON Schema zbmcp enforces on the tool's own arguments (organization_id is added per agent):
        every `*_id` must be digits, and no object at any depth takes a property it does not declare."""
        properties: dict[str, Any] = {}
        for group in (self.path_params, self.query, self.unadvertised_query, self.body or {}):
            for name, declared in group.items():
                properties[name] = _closed(_with_id_patterns(name, dict(declared)))
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        required = self._required_arguments()
        if required:
            schema["required"] = required
        return schema

    @cached_property
    def advertised_schema(self) -> dict[str, Any]:
        """The schema an agent reads on every turn: the manifest's own, without what zbmcp checks anyway.

        Every tool costs context on every turn of every agent, so the agent reads what tells it what to send
        (one type per field, enums, `format: date`, the manifest's patterns such as a report's period names,
        descriptions) while bounds, id patterns and the rules for undeclared arguments stay on zbmcp's side
        (argument_schema), where a breach gets a refusal that names the field and the fix.
        """
        properties = {name: _shape_only(schema) for group in (self.path_params, self.query, self.body or {})
                      for name, schema in group.items()}
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = self._required_arguments()
        if required:
            schema["required"] = required
        return schema

    def _required_arguments(self) -> list[str]:
        return list(self.path_params) + [n for n in self.required if n not in self.path_params]


# Id patterns are never in the manifest (argument_schema adds them), so they stay off the listing too.
# `examples` are zbmcp's own: they explain a refusal (discount: "10" or "10%").
ENFORCED_ONLY = frozenset({"minimum", "maximum", "exclusiveMinimum", "minItems", "maxItems", "minLength",
                           "maxLength", "additionalProperties", "default", "examples"})


def _shape_only(schema: Mapping[str, Any]) -> dict[str, Any]:
    shaped = {k: v for k, v in schema.items() if k not in ENFORCED_ONLY}
    if isinstance(shaped.get("items"), Mapping):
        shaped["items"] = _shape_only(shaped["items"])
    if isinstance(shaped.get("properties"), Mapping):
        shaped["properties"] = {k: _shape_only(v) for k, v in shaped["properties"].items()}
    return shaped


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Every object in the schema refuses properties it does not declare (line_items[].send, say)."""
    if schema.get("type") == "object" or "properties" in schema:
        schema.setdefault("additionalProperties", False)
        schema["properties"] = {k: _closed(v) for k, v in (schema.get("properties") or {}).items()}
    if isinstance(schema.get("items"), dict):
        schema["items"] = _closed(schema["items"])
    return schema


def _with_id_patterns(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Add the Zoho id pattern to `*_id` strings and `*_ids` arrays, at any depth."""
    schema = copy.deepcopy(schema)
    kind = schema.get("type")
    if name.endswith("_id") and kind == "string":
        schema.setdefault("pattern", ZOHO_ID_PATTERN)
    elif name.endswith("_ids") and kind == "array" and "format" not in schema.get("items", {}):
        # (to_mail_ids and cc_mail_ids are lists of email addresses, and say so with a format)
        schema["items"] = {"type": "string", "pattern": ZOHO_ID_PATTERN, **schema.get("items", {})}
    if kind == "array" and isinstance(schema.get("items"), dict):
        schema["items"] = _with_id_patterns("", schema["items"])
    if kind == "object" and isinstance(schema.get("properties"), dict):
        schema["properties"] = {k: _with_id_patterns(k, v) for k, v in schema["properties"].items()}
    return schema


def dotted_fields(properties: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every declared property as a dotted path through arrays and objects, e.g. line_items.item_id."""
    paths: list[str] = []
    for name, schema in properties.items():
        paths.append(prefix + name)
        inner = schema
        while inner.get("type") == "array" and isinstance(inner.get("items"), dict):
            inner = inner["items"]
        paths += dotted_fields(inner.get("properties") or {}, f"{prefix}{name}.")
    return paths


def schema_at(properties: Mapping[str, Any], dotted: str) -> Mapping[str, Any]:
    """The schema of a dotted field's values (through arrays): line_items.rate -> {type: number, ...}."""
    schema: Mapping[str, Any] = {}
    for part in dotted.split("."):
        schema = properties.get(part, {})
        while schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            schema = schema["items"]
        properties = schema.get("properties") or {}
    return schema
