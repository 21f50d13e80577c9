"""Tool manifests (tool_manifests/*.yaml) -> validated ToolSpec values. Pure: reads only the files it is given.

A manifest file describes one Zoho module:

    module: invoices                 # the Zoho path segment; every tool's path starts with it
    effects:                         # every field the module's writes forward, by what it does beyond the record
      none: [customer_id, date, line_items, line_items.item_id, ...]
      emails: [send]
    tools:
      - name: get_invoice            # Zoho's operationId
        title: Get an invoice
        description: One sentence an agent reads on every turn.
        method: GET
        path: /invoices/{invoice_id}
        scope: ZohoBooks.invoices.READ
        access: read
        result_key: invoice          # where Zoho puts the payload in its answer
        path_params: {invoice_id: {type: string}}
        query: {...}                 # query parameters, as JSON Schema properties (advertised to agents)
        unadvertised_query: {...}    # further query parameters zbmcp accepts and checks, but does not list in
                                     # the schema agents read (Zoho's many list filters: the listing stays small)
        body: {...}                  # JSON body properties; present only for tools that send a body
        required: [...]              # required query/body arguments (path params always are)
        emails_customer: false       # true when the call sends a real email to a customer
        withheld: {batch_payments: moves_money, ...}   # Zoho fields of this operation with an effect that
                                     # zbmcp does not offer: never forwarded, named in refusals and the docs

Annotations are derived here, never typed twice. Every string property named `*_id` (and every item of a
`*_ids` array) must be a Zoho id: digits only (at most 19), so an id can never smuggle `/`, `?` or `..` into a
URL.

Only declared arguments reach Zoho: every object, at any depth, refuses properties it does not declare.

Effects (what a field makes Zoho do beyond writing the record itself) are data, per module:
    none            stays in the record written (or narrows what a read returns)
    emails          Zoho emails someone: the call is gated as the module's email tool (e.g. email_invoice)
    recipients      an address an email goes to (to, cc, bcc): on every approval question, in `recipients`
    email_content   what an email says, carries or is sent from
    moves_money     records, applies or routes money
    numbering       sets or bypasses a document number
    other_records   changes records besides the one written (converts an estimate, bills a time entry...)
Every field a write forwards must be classified; a read's query parameters are `none` (a GET changes
nothing). A declared field may carry only an effect zbmcp can gate (none, emails, recipients, email_content,
moves_money); the rest stay withheld: listed for the docs, never forwarded.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zbmcp.errors import ConfigError

ZOHO_ID_PATTERN = "^[0-9]{1,19}$"  # Zoho's ids are 64-bit numbers: at most 19 digits
PATH_PARAM = re.compile(r"\{([a-z_]+)\}")
SCOPE = re.compile(r"^ZohoBooks\.(?P<module>[a-z]+)\.(?P<op>CREATE|READ|UPDATE|DELETE|ALL)$")

Access = Literal["read", "write"]
Method = Literal["GET", "POST", "PUT", "DELETE"]
Effect = Literal["none", "emails", "recipients", "email_content", "moves_money", "numbering", "other_records"]
EFFECTS: tuple[Effect, ...] = ("none", "emails", "recipients", "email_content", "moves_money", "numbering",
                               "other_records")
# What a field with each effect makes Zoho do, in words (refusals, approval questions).
EFFECT_WORDS = {
    "none": "has no effect beyond the record",
    "emails": "makes Zoho email someone",
    "recipients": "chooses who Zoho emails",
    "email_content": "changes what Zoho emails",
    "moves_money": "records or moves money",
    "numbering": "sets or bypasses the document numbering",
    "other_records": "changes other records",
}

# Effects a declared field may have: zbmcp knows how to gate or show these. The others are only withheld.
OFFERABLE_EFFECTS = frozenset({"none", "emails", "recipients", "email_content", "moves_money"})

# The scope module that guards each Zoho path module, where the two names differ.
SCOPE_MODULE_OF = {
    "items": "settings",
    "organizations": "settings",
    "bankaccounts": "banking",
    "chartofaccounts": "accountants",
}


# The JSON Schema keywords a manifest may use: a misspelt or stray key (often a YAML flow-mapping slip) fails.
SCHEMA_KEYWORDS = frozenset(
    {"type", "description", "enum", "format", "pattern", "items", "properties", "required", "minimum", "maximum",
     "exclusiveMinimum", "minItems", "maxItems", "minLength", "maxLength", "default", "additionalProperties"}
)


def _check_property_schema(where: str, schema: Any) -> None:
    if not isinstance(schema, dict):
        raise ValueError(f"{where}: a property schema must be a mapping, got {schema!r}")
    unknown = sorted(set(schema) - SCHEMA_KEYWORDS)
    if unknown:
        raise ValueError(f"{where}: unknown schema keyword(s) {unknown}; use only {sorted(SCHEMA_KEYWORDS)}")
    if "type" not in schema:
        raise ValueError(f"{where}: give a type")
    for name, child in (schema.get("properties") or {}).items():
        _check_property_schema(f"{where}.{name}", child)
    if isinstance(schema.get("items"), dict):
        _check_property_schema(f"{where}[]", schema["items"])


class _ToolModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")
    title: str = Field(min_length=3, max_length=60)
    description: str = Field(min_length=10, max_length=400)
    method: Method
    path: str = Field(pattern=r"^/[a-z]+(/(\{[a-z_]+\}|[a-z]+))*$")
    scope: str
    access: Access
    result_key: str | None = None
    path_params: dict[str, dict[str, Any]] = {}
    query: dict[str, dict[str, Any]] = {}
    unadvertised_query: dict[str, dict[str, Any]] = {}
    body: dict[str, dict[str, Any]] | None = None
    required: list[str] = []
    emails_customer: bool = False
    withheld: dict[str, Effect] = {}

    @field_validator("scope")
    @classmethod
    def _scope_shape(cls, value: str) -> str:
        if not SCOPE.match(value):
            raise ValueError(f"scope {value!r} is not of the form ZohoBooks.<module>.<CREATE|READ|UPDATE|DELETE>")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _ToolModel:
        in_path = PATH_PARAM.findall(self.path)
        if set(in_path) != set(self.path_params):
            missing = sorted(set(in_path) - set(self.path_params))
            extra = sorted(set(self.path_params) - set(in_path))
            raise ValueError(
                f"path {self.path} and path_params disagree"
                + (f": declare {missing} in path_params" if missing else "")
                + (f": {extra} in path_params are not in the path" if extra else "")
            )
        groups = (("path_params", self.path_params), ("query", self.query),
                  ("unadvertised_query", self.unadvertised_query), ("body", self.body or {}))
        for group_name, group in groups:
            for name, schema in group.items():
                _check_property_schema(f"{group_name}.{name}", schema)
        seen: set[str] = set()
        for names in (set(group) for _, group in groups):
            clash = seen & names
            if clash:
                raise ValueError(f"argument {sorted(clash)} is declared twice (path, query and body share one namespace)")
            seen |= names
        if "organization_id" in seen:
            raise ValueError("organization_id is added by zbmcp itself; remove it from the manifest")
        offered = sorted(set(self.withheld) & _all_paths(self))
        if offered:
            raise ValueError(f"withheld fields {offered} are declared too; a field is either offered or withheld")
        unknown = [name for name in self.required if name not in seen]
        if unknown:
            raise ValueError(f"required names {unknown} are not declared in query or body")
        if self.body is not None and self.method not in ("POST", "PUT"):
            raise ValueError(f"a {self.method} tool cannot send a body")
        reads = self.method == "GET"
        if (self.access == "read") != reads:
            raise ValueError(f"access {self.access!r} does not fit method {self.method}: GET is read, the rest write")
        op = SCOPE.match(self.scope)
        assert op is not None
        if (op["op"] == "READ") != (self.access == "read"):
            raise ValueError(f"scope {self.scope} does not fit access {self.access!r}")
        return self


class _ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    module: str = Field(pattern=r"^[a-z]+$")
    effects: dict[Effect, list[str]] = {}
    tools: list[_ToolModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _each_field_once(self) -> _ManifestFile:
        seen: dict[str, str] = {}
        for effect, names in self.effects.items():
            for name in names:
                if name in seen:
                    raise ValueError(f"effects: {name!r} is classified twice ({seen[name]} and {effect})")
                seen[name] = effect
        return self


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
    # Zoho fields of this operation with an effect that zbmcp does not offer: never forwarded, named in refusals
    withheld: Mapping[str, Effect] = field(default_factory=dict)
    # the tool whose rules a field with effect "emails" brings along (the module's own email tool)
    email_tool: str | None = None

    @property
    def read_only(self) -> bool:
        return self.access == "read"

    @cached_property
    def outside_effects(self) -> tuple[tuple[str, Effect], ...]:
        """The top-level fields whose effect reaches beyond the record (send, to_mail_ids, invoices...)."""
        return tuple((name, effect) for name, effect in self.effects.items() if effect != "none" and "." not in name)

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

        Every tool costs context on every turn of every agent, so the agent reads shapes and choices (types,
        enums, descriptions) while bounds, formats, id patterns and the rules for undeclared arguments stay on
        zbmcp's side (argument_schema), where a breach gets a refusal that names the field and the fix.
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


ENFORCED_ONLY = frozenset({"pattern", "format", "minimum", "maximum", "exclusiveMinimum", "minItems", "maxItems",
                           "minLength", "maxLength", "additionalProperties", "default"})


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


def default_manifest_dir() -> Path:
    """The manifests shipped in the wheel, or the repository's top-level folder in a source checkout."""
    package = Path(__file__).parent.parent
    packaged = package / "tool_manifests"
    if packaged.is_dir():
        return packaged
    return package.parent / "tool_manifests"


def load_manifests(directory: Path | None = None) -> dict[str, ToolSpec]:
    """Load every `*.yaml` in the directory; a typo anywhere fails loudly with the file and the fix."""
    directory = directory or default_manifest_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no tool manifests (*.yaml) found in {directory}")
    return load_manifest_texts((str(path), path.read_text(encoding="utf-8")) for path in files)


def load_manifest_texts(texts: Iterable[tuple[str, str]]) -> dict[str, ToolSpec]:
    specs: dict[str, ToolSpec] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: start-up time matters
    for source, text in texts:
        try:
            raw = yaml.load(text, Loader=loader)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}", file=source) from None
        try:
            manifest = _ManifestFile.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, raw), file=source) from None
        for spec in _module_specs(manifest, source):
            if spec.name in specs:
                raise ConfigError(f"tool {spec.name!r} is defined twice (also in {specs[spec.name].source})", file=source)
            specs[spec.name] = spec
    return specs


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


def _module_specs(manifest: _ManifestFile, source: str) -> list[ToolSpec]:
    """The module's tools, each with the effects of the fields it forwards, checked against the module's map."""
    classified = {name: effect for effect, names in manifest.effects.items() for name in names}
    email_tools = [tool.name for tool in manifest.tools if tool.emails_customer]
    specs = []
    for tool in manifest.tools:
        spec = _to_spec(manifest.module, tool, source)
        forwarded = dotted_fields(tool.body or {}) + list(tool.query) + list(tool.unadvertised_query)
        effects: dict[str, Effect] = {}
        for name in forwarded:
            if tool.method == "GET":
                effects[name] = "none"  # a read changes nothing, whatever it filters by
                continue
            effect = classified.get(name)
            if effect is None:
                raise ConfigError(f"tool {tool.name!r}: field {name!r} is forwarded to Zoho but has no effect "
                                  f"classification; add it under `effects:` ({', '.join(EFFECTS)})", file=source)
            if effect not in OFFERABLE_EFFECTS:
                raise ConfigError(f"tool {tool.name!r}: field {name!r} has effect {effect!r}, which zbmcp cannot "
                                  "gate yet; do not declare it", file=source)
            if effect == "emails" and not email_tools:
                raise ConfigError(f"tool {tool.name!r}: field {name!r} emails someone, and module "
                                  f"{manifest.module!r} has no email tool whose rules it could take on; "
                                  "do not declare it", file=source)
            groups = {**tool.query, **tool.unadvertised_query, **(tool.body or {})}
            if effect == "recipients" and "format" not in schema_at(groups, name):
                raise ConfigError(f"tool {tool.name!r}: recipient field {name!r} must be checked as email "
                                  "addresses (format: email)", file=source)
            effects[name] = effect
        specs.append(dataclasses.replace(
            spec, effects=effects, email_tool=email_tools[0] if "emails" in effects.values() else None,
        ))
    declared_anywhere = {name for spec in specs if spec.method != "GET" for name in spec.effects}
    stray = sorted(set(classified) - declared_anywhere)
    if stray:
        raise ConfigError(f"effects: {stray} are classified but no write forwards them; remove them (a Zoho "
                          "field with an effect that is not offered goes under the tool's `withheld`)", file=source)
    return specs


def _all_paths(tool: _ToolModel) -> set[str]:
    return set(dotted_fields({**tool.path_params, **tool.query, **tool.unadvertised_query, **(tool.body or {})}))


def schema_at(properties: Mapping[str, Any], dotted: str) -> Mapping[str, Any]:
    """The schema of a dotted field's values (through arrays): line_items.rate -> {type: number, ...}."""
    schema: Mapping[str, Any] = {}
    for part in dotted.split("."):
        schema = properties.get(part, {})
        while schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            schema = schema["items"]
        properties = schema.get("properties") or {}
    return schema


def _to_spec(module: str, tool: _ToolModel, source: str) -> ToolSpec:
    path_module = tool.path.split("/")[1]
    if path_module != module:
        raise ConfigError(f"tool {tool.name!r}: path {tool.path} is outside module {module!r}", file=source)
    expected_scope_module = SCOPE_MODULE_OF.get(module, module)
    scope_module = SCOPE.match(tool.scope)["module"]  # type: ignore[index]
    if scope_module != expected_scope_module:
        raise ConfigError(
            f"tool {tool.name!r}: scope {tool.scope} names module {scope_module!r};"
            f" Zoho guards /{module} with ZohoBooks.{expected_scope_module}.*",
            file=source,
        )
    return ToolSpec(
        name=tool.name,
        module=module,
        title=tool.title,
        description=tool.description,
        method=tool.method,
        path=tool.path,
        scope=tool.scope,
        access=tool.access,
        result_key=tool.result_key,
        path_params=tool.path_params,
        query=tool.query,
        body=tool.body,
        required=tuple(tool.required),
        emails_customer=tool.emails_customer,
        source=source,
        unadvertised_query=tool.unadvertised_query,
        withheld=tool.withheld,
    )


def _explain(exc: ValidationError, raw: Any) -> str:
    lines = []
    for error in exc.errors():
        location = list(error["loc"])
        where = ".".join(str(part) for part in location)
        # name the tool rather than its index, so the reader can find it
        if len(location) >= 2 and location[0] == "tools" and isinstance(location[1], int):
            try:
                where = f"tool {raw['tools'][location[1]]['name']!r}" + "".join(f".{p}" for p in location[2:])
            except (KeyError, IndexError, TypeError):
                pass
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key; remove it or fix its spelling"
        lines.append(f"{where}: {message}")
    return "; ".join(lines)
