"""A manifest file's text (tool_manifests/*.yaml) -> validated ToolSpec values (pure: the caller reads
the files, zbmcp.calls.catalog).

A manifest file describes one Zoho module:

    module: invoices                 # the Zoho path segment; every tool's path starts with it
    effects:                         # each field the module's writes forward, by its effect beyond the record
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
        unadvertised_query: {...}    # further query parameters zbmcp accepts and checks, but leaves out of
                                     # the agents' schema (Zoho's many list filters: the listing stays small)
        body: {...}                  # JSON body properties; present only for tools that send a body
        required: [...]              # required query/body arguments (path params always are)
        emails_customer: false       # true when the call sends a real email to a customer
        withheld: {batch_payments: moves_money, ...}   # Zoho fields of this operation with an effect that
                                     # zbmcp does not offer: never forwarded, named in refusals and the docs

Annotations, id patterns and the schemas zbmcp enforces are derived from the manifest, never typed twice
(zbmcp.core.manifest).

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

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zbmcp.core.manifest import (EFFECTS, SCOPE, Access, Effect, Method, ToolSpec, Withheld, dotted_fields,
                                 schema_at)
from zbmcp.errors import ConfigError

PATH_PARAM = re.compile(r"\{([a-z_]+)\}")

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
    {"type", "description", "enum", "format", "pattern", "items", "properties", "required", "minimum",
     "maximum", "exclusiveMinimum", "minItems", "maxItems", "minLength", "maxLength", "default",
     "additionalProperties", "examples"}
)


def _check_property_schema(where: str, schema: Any) -> None:
    if not isinstance(schema, dict):
        raise ValueError(f"{where}: a property schema must be a mapping, got {schema!r}")
    unknown = sorted(set(schema) - SCHEMA_KEYWORDS)
    if unknown:
        raise ValueError(f"{where}: unknown schema keyword(s) {unknown}; use only {sorted(SCHEMA_KEYWORDS)}")
    if not isinstance(schema.get("type"), str):
        # Several clients (Gemini's among them) take one type per field: no ["number", "string"] unions.
        raise ValueError(f"{where}: give one type (such as number or string), got {schema.get('type')!r}")
    for keyword in ("anyOf", "oneOf", "allOf", "$ref"):
        if keyword in schema:
            raise ValueError(f"{where}: {keyword} is not offered to agents; give one type")
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
    withheld: dict[str, Withheld] = {}

    @field_validator("scope")
    @classmethod
    def _scope_shape(cls, value: str) -> str:
        if not SCOPE.match(value):
            raise ValueError(f"scope {value!r} is not of the form "
                             "ZohoBooks.<module>.<CREATE|READ|UPDATE|DELETE>")
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
                raise ValueError(f"argument {sorted(clash)} is declared twice (path, query and body share "
                                 "one namespace)")
            seen |= names
        if "organization_id" in seen:
            raise ValueError("organization_id is added by zbmcp itself; remove it from the manifest")
        offered = sorted(set(self.withheld) & _all_paths(self))
        if offered:
            raise ValueError(f"withheld fields {offered} are declared too; a field is either offered or "
                             "withheld")
        unknown = [name for name in self.required if name not in seen]
        if unknown:
            raise ValueError(f"required names {unknown} are not declared in query or body")
        if self.body is not None and self.method not in ("POST", "PUT"):
            raise ValueError(f"a {self.method} tool cannot send a body")
        reads = self.method == "GET"
        if (self.access == "read") != reads:
            raise ValueError(f"access {self.access!r} does not fit method {self.method}: GET is read, the "
                             "rest write")
        op = SCOPE.match(self.scope)
        assert op is not None
        if op["op"] != "ALL" and (op["op"] == "READ") != (self.access == "read"):
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
                raise ConfigError(f"tool {spec.name!r} is defined twice (also in {specs[spec.name].source})",
                                  file=source)
            specs[spec.name] = spec
    return specs


def _module_specs(manifest: _ManifestFile, source: str) -> list[ToolSpec]:
    """The module's tools, each with the effects of the fields it forwards, checked against the module's
    map."""
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
                raise ConfigError(f"tool {tool.name!r}: field {name!r} is forwarded to Zoho but has no "
                                  f"effect classification; add it under `effects:` ({', '.join(EFFECTS)})",
                                  file=source)
            if effect not in OFFERABLE_EFFECTS:
                raise ConfigError(f"tool {tool.name!r}: field {name!r} has effect {effect!r}, which zbmcp "
                                  "cannot gate yet; do not declare it", file=source)
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
        raise ConfigError(f"effects: {stray} are classified but no write forwards them; remove them (a "
                          "Zoho field with an effect that is not offered goes under the tool's `withheld`)",
                          file=source)
    return specs


def _all_paths(tool: _ToolModel) -> set[str]:
    return set(dotted_fields({**tool.path_params, **tool.query, **tool.unadvertised_query,
                              **(tool.body or {})}))


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
