"""Zoho's OpenAPI operations -> catalog entries: the schemas, effects and withheld fields of each generated
tool (used by scripts/generate_catalog.py)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from extract_oas import plain, resolve
from zbmcp.core.manifest import EFFECTS
from zbmcp.core.manifest_file import OFFERABLE_EFFECTS

METHODS = ("get", "post", "put", "delete")
PATH_PARAM = re.compile(r"\{([a-z_]+)\}")
CODE = re.compile(r"<code>(.*?)</code>", re.DOTALL)
WORD = re.compile(r"[A-Za-z0-9_.]+")
# Zoho's files name a module's file as Zoho's docs do; a module is the file's name without dashes, but where
# zbmcp's hand-written modules (named by Zoho's path) already say otherwise.
MODULE_OF_FILE = {"purchase-order.yml": "purchaseorders", "sales-order.yml": "salesorders",
                  "sales-receipt.yml": "salesreceipts"}
# Query parameters that make Zoho answer with a file (a PDF, a printout) instead of JSON.
FILE_ANSWERS = {"accept", "print"}
ADVERTISED_QUERY = {"page", "search_text"}  # a list's other filters are accepted, not advertised
SAFE_SEGMENT = "^[a-z0-9_]{1,64}$"  # a path parameter that is not a Zoho id (a custom module's name)
MAX_DESCRIPTION = 160


@dataclass
class Operation:
    file: str
    module: str
    method: str
    path: str
    operation_id: str | None
    summary: str
    description: str
    scopes: list[str]
    path_params: list[str]
    query: list[tuple[dict[str, Any], set[str]]]  # (parameter schema, documented variants)
    body: dict[str, Any] | None  # converted JSON body schema (object), or None
    body_types: list[str]
    response_keys: list[str]
    answers_json: bool
    binary: set[str] = field(default_factory=set)  # body fields Zoho takes as files

    def unusable(self) -> str:
        if "" in self.binary:
            return "Zoho takes a JSON array as the whole body; a tool's arguments are named fields"
        if self.body_types and "application/json" not in self.body_types:
            return f"Zoho takes a file upload ({', '.join(self.body_types)}); zbmcp sends JSON only"
        if not self.answers_json:
            return "Zoho answers with a file (a PDF or an attachment), not JSON; zbmcp returns JSON only"
        if len(self.scopes) != 1:
            return "Zoho's file names no OAuth scope for it"
        if "organization_id" in self.path_params:
            return ("the organization is in its path: zbmcp checks organization_id as an argument of every "
                    "call and does not put it in paths yet")
        return ""


def convert(doc: dict[str, Any], node: Any, name: str, seen: frozenset[str] = frozenset(),
            binary: set[str] | None = None, prefix: str = "") -> dict[str, Any] | None:
    """An OpenAPI schema as the JSON Schema subset manifests use (type, enum, format, items, properties,
    required); None for a file."""
    schema, seen = resolve(doc, node, seen)
    if not isinstance(schema, dict):
        return {"type": "string"}
    merged = dict(schema)
    for part in schema.get("allOf") or []:
        inner, _ = resolve(doc, part, seen)
        if isinstance(inner, dict):
            merged = {**inner, **merged, "properties": {**(inner.get("properties") or {}),
                                                        **(merged.get("properties") or {})}}
    kind = merged.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None:
        kind = "object" if merged.get("properties") else "array" if "items" in merged else "string"
    if merged.get("format") == "binary":
        return None
    if kind == "integer" and name.endswith("_id"):
        kind = "string"  # Zoho's ids: zbmcp checks them as strings of digits, at most 19
    out: dict[str, Any] = {"type": kind}
    if kind == "string":
        if merged.get("format") == "date" or name == "date" or name.endswith("_date"):
            out["format"] = "date"
        elif name.endswith("_mail_ids") or merged.get("format") == "email":
            out["format"] = "email"
    enum = merged.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                               for v in enum):
        out["enum"] = sorted(set(enum), key=str) if kind == "string" else enum
        if kind == "string":
            out["enum"] = [str(v) for v in out["enum"]]
    if kind == "array":
        inner = convert(doc, merged.get("items") or {}, name, seen, binary, prefix)
        if inner is None:
            return None
        out["items"] = inner
    elif kind == "object":
        properties = {}
        for child, child_schema in (merged.get("properties") or {}).items():
            converted = convert(doc, child_schema, child, seen, binary, f"{prefix}{name}.")
            if converted is None:
                if binary is not None:
                    binary.add(f"{prefix}{name}.{child}".lstrip("."))
                continue
            properties[child] = converted
        out["properties"] = properties
        required = [r for r in merged.get("required") or [] if r in properties]
        if required:
            out["required"] = required
    return out


def _variants(param: dict[str, Any]) -> set[str]:
    words = {w for code in CODE.findall(param.get("description") or "") for w in WORD.findall(code)}
    return {w for w in words if w.startswith(param["name"] + "_")}


def module_of(file: str) -> str:
    return MODULE_OF_FILE.get(file, file.removesuffix(".yml").replace("-", ""))


def operations(path: Path, rules: dict[str, Any]) -> list[Operation]:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    found = []
    for url, item in (doc.get("paths") or {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [resolve(doc, p, frozenset())[0] for p in [*item.get("parameters", []),
                                                                 *op.get("parameters", [])]]
            content = (op.get("requestBody") or {}).get("content") or {}
            binary: set[str] = set()
            body = None
            if "application/json" in content and method != "get":  # (Zoho's files draw a body on a GET)
                body = convert(doc, content["application/json"].get("schema"), "", binary=binary)
                if body is not None and body.get("type") != "object":
                    binary.add("")  # the whole body is an array: see Operation.unusable
            answers, keys = _answers(doc, op)
            found.append(Operation(
                file=path.name, module=module_of(path.name), method=method.upper(), path=url,
                operation_id=op.get("operationId"), summary=plain(op.get("summary")),
                description=plain(op.get("description")),
                scopes=sorted({s for block in op.get("security", []) for names in block.values()
                               for s in names}),
                path_params=PATH_PARAM.findall(url),  # (one of Zoho's operations leaves its own undeclared)
                query=[(p, _variants(p)) for p in params if p.get("in") == "query"
                       and p["name"] != "organization_id" and p["name"] not in PATH_PARAM.findall(url)],
                body=body, body_types=sorted(content), response_keys=keys, answers_json=answers,
                binary={b.removeprefix(".") for b in binary},
            ))
            found[-1].query = [(dict(p, schema=convert(doc, p.get("schema") or {}, p["name"])), v)
                               for p, v in found[-1].query]
    return found


def _answers(doc: dict[str, Any], op: dict[str, Any]) -> tuple[bool, list[str]]:
    """Whether a success answer is JSON, and the keys it puts its payload under."""
    keys: set[str] = set()
    json_answer = False
    for status, response in (op.get("responses") or {}).items():
        if not str(status).startswith("2"):
            continue
        response, _ = resolve(doc, response, frozenset())
        media_types = (response.get("content") or {})
        if not media_types or "application/json" in media_types:
            json_answer = True
        for media in media_types.values():
            schema, _ = resolve(doc, media.get("schema"), frozenset())
            keys |= set((schema or {}).get("properties") or {})
    return json_answer, sorted(keys - {"code", "message", "page_context"})


class Classifier:
    """The effect of a field: the tool's overlay, then its module's, then catalog/fields.yaml (by full dotted
    name first, then by the field's own name)."""

    def __init__(self, rules: dict[str, Any], overlays: dict[str, dict[str, Any]]) -> None:
        self.rules = _table(rules)
        self.overlays = overlays
        self.email_globs = list(rules.get("tools_that_email") or [])

    def tool(self, module: str, name: str) -> dict[str, Any]:
        return ((self.overlays.get(module) or {}).get("tools") or {}).get(name) or {}

    def effect(self, module: str, name: str, dotted: str) -> str | None:
        leaf = dotted.rsplit(".", 1)[-1]
        tables = (_table(self.tool(module, name).get("effects") or {}),
                  _table((self.overlays.get(module) or {}).get("effects") or {}), self.rules)
        for table in tables:
            for key in (dotted, leaf):
                if key in table:
                    return table[key]
            for glob, effect in table.items():
                if "*" in glob and fnmatch.fnmatchcase(leaf, glob):
                    return effect
        return None

    def emails_openly(self, name: str, op: Operation) -> bool:
        said = self.tool(op.module, name).get("emails_customer")
        if said is not None:
            return bool(said)
        return op.method != "GET" and any(fnmatch.fnmatchcase(name, glob) for glob in self.email_globs)


def _table(by_effect: dict[str, Any]) -> dict[str, str]:
    table: dict[str, str] = {}
    for effect, names in by_effect.items():
        if effect not in EFFECTS:
            continue
        for name in names or []:
            if name in table:
                raise SystemExit(f"{name!r} is classified twice ({table[name]} and {effect})")
            table[name] = effect
    return table


@dataclass
class _Fields:
    """What one write's fields become: declared with an effect, or withheld with a reason."""

    classifier: Classifier
    op: Operation
    name: str
    email_tool: str | None
    effects: dict[str, str] = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)

    def keep(self, dotted: str, schema: dict[str, Any]) -> bool:
        if self.op.method == "GET":
            self.effects[dotted] = "none"  # a read changes nothing, whatever it filters by
            return True
        effect = self.classifier.effect(self.op.module, self.name, dotted)
        inner = schema
        while inner.get("type") == "array":
            inner = inner["items"]
        if effect is None:
            self.withheld[dotted] = "unclassified"
        elif effect not in OFFERABLE_EFFECTS:
            self.withheld[dotted] = effect
        elif effect == "emails" and self.email_tool is None:
            self.withheld[dotted] = effect  # no email tool whose rules it could take on
        elif effect == "recipients" and inner.get("format") != "email":
            self.withheld[dotted] = effect  # zbmcp shows recipients by address; these are not addresses
        else:
            self.effects[dotted] = effect
            return True
        return False

    def prune(self, properties: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        kept = {}
        for child, schema in properties.items():
            dotted = prefix + child
            if not self.keep(dotted, schema):
                continue
            holder = schema
            while holder.get("type") == "array":
                holder = holder["items"]
            if holder.get("type") == "object" and holder.get("properties"):
                inner = self.prune(holder["properties"], dotted + ".")
                if not inner:  # an object none of whose fields may be sent is of no use
                    self.effects.pop(dotted)
                    self.withheld[dotted] = "unclassified"
                    continue
                holder["properties"] = inner
                holder["required"] = [r for r in holder.get("required", []) if r in inner]
                if not holder["required"]:
                    holder.pop("required")
            kept[child] = schema
        return kept


def build_entry(name: str, op: Operation, classifier: Classifier,
                email_tool: str | None) -> tuple[dict[str, Any] | None, str]:
    """The catalog entry of one operation, or (None, why it is excluded)."""
    overlay = classifier.tool(op.module, name)
    fields = _Fields(classifier, op, name, email_tool)
    for dotted in sorted(op.binary):
        fields.withheld[dotted] = "file"
    query: dict[str, Any] = {}
    unadvertised: dict[str, Any] = {}
    required: list[str] = []
    advertise = ADVERTISED_QUERY | set(overlay.get("advertise") or [])
    for param, variants in op.query:
        pname, schema = param["name"], param["schema"]
        if schema is None or pname in FILE_ANSWERS:
            fields.withheld[pname] = "file"
            continue
        holder = schema
        while holder.get("type") == "array":
            holder = holder["items"]
        if holder.get("type") == "object":  # (a slip in Zoho's files: a query string carries no objects)
            fields.withheld[pname] = "unclassified"
            continue
        if not fields.keep(pname, schema):
            continue
        if op.method != "GET" or param.get("required") or pname in advertise:
            query[pname] = schema
            if param.get("required"):
                required.append(pname)
        else:
            unadvertised[pname] = schema
        for variant in sorted(variants):
            if variant not in query and fields.keep(variant, schema):
                unadvertised[variant] = dict(schema)
    body = None
    if op.body is not None:
        # a record's own id (or its parent's) travels in the path: never in the body, where it could renumber
        own = set(op.path_params)
        body = fields.prune({k: v for k, v in (op.body.get("properties") or {}).items() if k not in own})
        required += [r for r in op.body.get("required") or [] if r in body]
        missing = [r for r in op.body.get("required") or [] if r not in body and r not in own]
        if missing:
            why = fields.withheld.get(missing[0], "file")
            return None, (f"Zoho requires {missing[0]}, which zbmcp withholds ({why}): a call without it "
                          "could only fail")
    emails = classifier.emails_openly(name, op)
    entry = {
        "name": name, "module": op.module,
        "title": overlay.get("title") or _title(op, name),
        "description": overlay.get("description") or _description(op, name, emails),
        "method": op.method, "path": op.path, "scope": op.scopes[0],
        "access": "read" if op.method == "GET" else "write",
        "result_key": overlay.get("result_key", op.response_keys[0] if len(op.response_keys) == 1 else None),
        "path_params": {p: {"type": "string"} if p.endswith("_id") else {"type": "string",
                                                                         "pattern": SAFE_SEGMENT}
                        for p in op.path_params},
        "query": query, "unadvertised_query": unadvertised, "body": body,
        "required": sorted(set(required)), "emails_customer": emails,
        "effects": dict(sorted(fields.effects.items())), "withheld": dict(sorted(fields.withheld.items())),
        "email_tool": email_tool if "emails" in fields.effects.values() else None,
    }
    return entry, ""


def _title(op: Operation, name: str) -> str:
    title = op.summary or name.replace("_", " ").capitalize()
    return title if len(title) <= 60 else title[:57].rsplit(" ", 1)[0] + "..."


def _description(op: Operation, name: str, emails: bool) -> str:
    text = op.description or op.summary or name.replace("_", " ")
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].strip()
    if len(first) > MAX_DESCRIPTION:
        first = first[:MAX_DESCRIPTION - 3].rsplit(" ", 1)[0] + "..."
    if not first.endswith((".", "...")):
        first += "."
    if name.startswith("list_") and any(p["name"] == "per_page" for p, _ in op.query):
        first += " 50 a page."
    if emails:
        first += " Sends a real email."
    return first if len(first) >= 10 else f"{first} ({name})"
