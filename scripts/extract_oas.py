"""Extract what the manifest tests need from Zoho's OpenAPI files into tests/data/zoho_oas_extract.json.

    python scripts/extract_oas.py [OAS_DIR]        # default: ../shared/zoho-oas, relative to the repo root

For every operation in every *.yml: operationId, method, path, scopes, path and query parameter names, the
filter variants the query parameters' descriptions document (e.g. `date_start`), body field names (top level,
plus nested names as dotted paths through arrays and objects, e.g. `line_items.item_id`, with every $ref
resolved), required body fields (nested ones as dotted paths too) and the keys the success answer puts its
payload under. For the operations zbmcp offers as tools (tool_manifests/*.yaml), also each body field's and
query parameter's description, as plain text: the effect-classification tests read them. The output is
deterministic (sorted keys and lists), so re-running it on the same files gives no diff. The tests read only
the JSON, so they run without the OAS files.

Operations are keyed by operationId. Zoho's files give one operationId to two operations
in a few places (e.g. `list_credit_note_refunds` for both `GET /creditnotes/refunds` and
`GET /creditnotes/{creditnote_id}/refunds`): then no operation takes the bare operationId, each is keyed
"operationId METHOD path" (e.g. "list_credit_note_refunds GET /creditnotes/refunds") and carries its
operationId under "operation_id", so both are kept and a reader never mistakes one for the other. An operation
with no operationId (Zoho's files have one: `POST /crm/item/{crm_product_id}/import`) is keyed "METHOD
path" with "operation_id": null.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OAS_DIR = REPO_ROOT.parent / "shared" / "zoho-oas"
OUTPUT = REPO_ROOT / "tests" / "data" / "zoho_oas_extract.json"
METHODS = ("get", "post", "put", "delete", "patch")
MANIFESTS = REPO_ROOT / "tool_manifests"
CODE = re.compile(r"<code>(.*?)</code>", re.DOTALL)
WORD = re.compile(r"[A-Za-z0-9_.]+")
TAG = re.compile(r"<[^>]+>")


def offered_operations(manifests: Path = MANIFESTS) -> set[str]:
    """The operationIds zbmcp offers as tools: only theirs get descriptions (they are what the tests need)."""
    names: set[str] = set()
    for path in manifests.glob("*.yaml"):
        names |= {tool["name"] for tool in yaml.safe_load(path.read_text(encoding="utf-8"))["tools"]}
    return names


def plain(text: Any) -> str:
    """A description as one line of plain text (Zoho's hold HTML tags and line breaks)."""
    return " ".join(TAG.sub(" ", str(text or "")).split())


def documented_variants(param: dict[str, Any]) -> set[str]:
    """Filter variants a query parameter's description names, e.g. `date_start` for `date`.

    Zoho documents its suffix filters (`_startswith`, `_contains`, `_start`, `_end`, ...) only in prose:
    "Supports variants: <code>date_start</code>, <code>date_end</code>".
    """
    name = param["name"]
    words = {word for code in CODE.findall(param.get("description") or "") for word in WORD.findall(code)}
    return {word for word in words if word.startswith(name + "_")}


def resolve(doc: dict[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> tuple[Any, frozenset[str]]:
    """Follow `$ref`s (local ones only, which is all Zoho's files use) to the node they name."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"non-local $ref {ref!r}")
        if ref in seen:  # a recursive schema: stop rather than loop
            return {}, seen
        seen = seen | {ref}
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node, seen


def walk_schema(
    doc: dict[str, Any], schema: Any, prefix: str, fields: dict[str, str], required: set[str],
    seen: frozenset[str]
) -> None:
    """Collect dotted field names (with their descriptions) and dotted required names below one object or
    array schema."""
    schema, seen = resolve(doc, schema, seen)
    if not isinstance(schema, dict):
        return
    for combinator in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(combinator, []):
            walk_schema(doc, part, prefix, fields, required, seen)
    if "items" in schema:
        walk_schema(doc, schema["items"], prefix, fields, required, seen)
    for name in schema.get("required", []) or []:
        required.add(prefix + name)
    for name, child in (schema.get("properties") or {}).items():
        described, _ = resolve(doc, child, seen)
        text = plain(described.get("description")) if isinstance(described, dict) else ""
        fields[prefix + name] = fields.get(prefix + name) or text
        walk_schema(doc, child, f"{prefix}{name}.", fields, required, seen)


def response_keys(doc: dict[str, Any], op: dict[str, Any]) -> list[str]:
    """Top-level keys of the success answers besides the envelope's code, message and page_context."""
    keys: set[str] = set()
    for status, response in (op.get("responses") or {}).items():
        if not str(status).startswith("2"):
            continue
        response, _ = resolve(doc, response)
        for media in (response.get("content") or {}).values():
            schema, _ = resolve(doc, media.get("schema"))
            keys |= set((schema or {}).get("properties") or {})
    return sorted(keys - {"code", "message", "page_context"})


def extract_file(
    path: Path, offered: set[str] | frozenset[str] = frozenset()
) -> list[tuple[str | None, dict[str, Any]]]:
    """(operationId, facts) for every operation in one file, in the file's order."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    operations: list[tuple[str, dict[str, Any]]] = []
    for url, item in (doc.get("paths") or {}).items():
        shared_params = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [resolve(doc, p)[0] for p in [*shared_params, *op.get("parameters", [])]]
            fields: dict[str, str] = {}
            required: set[str] = set()
            content = (op.get("requestBody") or {}).get("content") or {}
            for media in content.values():
                walk_schema(doc, media.get("schema"), "", fields, required, frozenset())
            scopes = sorted(
                {scope for block in op.get("security", []) for names in block.values() for scope in names}
            )
            op_id = op.get("operationId")
            facts: dict[str, Any] = {
                "file": path.name,
                "method": method.upper(),
                "path": url,
                "scopes": scopes,
                "path_params": sorted({p["name"] for p in params if p.get("in") == "path"}),
                "query_params": sorted({p["name"] for p in params if p.get("in") == "query"}),
                "query_variants": sorted(
                    {v for p in params if p.get("in") == "query" for v in documented_variants(p)}
                ),
                "body_content_types": sorted(content),
                "body_fields": sorted(fields),
                "required_body_fields": sorted(required),
                "response_keys": response_keys(doc, op),
            }
            if op_id in offered:
                facts["body_descriptions"] = {name: text for name, text in fields.items() if text}
                facts["query_descriptions"] = {
                    p["name"]: plain(p.get("description")) for p in params
                    if p.get("in") == "query" and plain(p.get("description"))
                }
            operations.append((op_id, facts))
    return operations


def extract(oas_dir: Path) -> dict[str, Any]:
    files = sorted(oas_dir.glob("*.yml"))
    if not files:
        raise SystemExit(f"no *.yml OpenAPI files in {oas_dir}")
    offered = offered_operations()
    found = [pair for path in files for pair in extract_file(path, offered)]
    counts = Counter(op_id for op_id, _ in found)
    operations: dict[str, dict[str, Any]] = {}
    for op_id, op in found:
        route = f"{op['method']} {op['path']}"
        key = route if op_id is None else op_id if counts[op_id] == 1 else f"{op_id} {route}"
        if key in operations:
            raise SystemExit(f"{op['file']}: {op['method']} {op['path']} appears twice")
        operations[key] = op if key == op_id else {**op, "operation_id": op_id}
    return {
        "about": "Generated by scripts/extract_oas.py from Zoho Books v3 OpenAPI files; do not edit by hand.",
        "files": [path.name for path in files],
        "operations": operations,
    }


def main(argv: list[str]) -> int:
    oas_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OAS_DIR
    data = extract(oas_dir)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"{len(data['operations'])} operations from {len(data['files'])} files -> "
        f"{OUTPUT.relative_to(REPO_ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
