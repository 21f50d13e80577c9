"""Generate the sandbox's route data from Zoho's OpenAPI files: zbmcp/sandbox/generic/routes.json.

    python scripts/sandbox_routes.py [OAS_DIR]        # default: ../shared/zoho-oas, relative to the repo root

One route per method and path shape (Zoho's files give a few routes twice, e.g. customer debit notes are
invoices), with what the sandbox needs to answer it as Zoho would: the scope from the operation's
`security`, the success status, message and payload key from its response, and the body fields (with their
types and the required ones) from its request. Each route also gets a kind, read from its path:

    list, create, get, update, delete     a collection (`/settings/taxes`) and its records (`.../{tax_id}`)
    bulk_update, bulk_delete               PUT or DELETE on a collection (by custom field; ids in the query)
    status                                 POST on a record that sets its status (`/status/void`, `/approve`)
    patch                                  sets fields of a record (`/address/billing`, `/templates/{id}`)
    attach, detach, attachment             a record's attachments (ids and names; the files are not kept)
    email                                  an email about a record (kept in the sandbox's outbox)
    view, action                           anything else read or done; answers Zoho's shape
    clone, singleton_*, me, timer_*        a few of their own
    not_emulated                           with the reason: what the generic emulation cannot do honestly

Where a path cannot say it, the reviewed overlay (scripts/sandbox_routes_overlay.py) does, each entry with its
reason. The sandbox's own route
table (zbmcp/sandbox/operations.py, business rules by module) answers first; these routes answer the rest.
The output is deterministic, so re-running on the same files gives no diff; a test
(tests/sandbox/test_generic_routes.py) regenerates it when the files are there and fails on a difference.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extract_oas import CODE, DEFAULT_OAS_DIR, METHODS, REPO_ROOT, resolve  # noqa: E402
from sandbox_routes_overlay import (  # noqa: E402
    ID_FIELDS,
    KEY_FIXES,
    KINDS,
    NOT_EMULATED,
    PATCHES,
    PATH_ALIASES,
    STATUS_WORDS,
    THINGS,
)

OUTPUT = REPO_ROOT / "zbmcp" / "sandbox" / "generic" / "routes.json"
PARAM = re.compile(r"^\{(\w+)\}$")

# Kinds that act on a collection (their path names only the parents); the others act on one record.
COLLECTION_KINDS = frozenset({"list", "create", "create_many", "bulk_update", "bulk_delete", "list_all",
                              "latest", "by_ids", "me", "timer_running", "timer_stop", "singleton_get",
                              "singleton_put", "singleton_delete"})
NAME_LIKE = re.compile(r"(name|number|description|notes|reference|email)")


def _load(oas_dir: Path) -> list[dict[str, Any]]:
    """Every operation of every file, its $refs resolved where the generator reads them."""
    ops: list[dict[str, Any]] = []
    for path in sorted(oas_dir.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for url, item in (doc.get("paths") or {}).items():
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                shared = item.get("parameters", [])
                params = [resolve(doc, p)[0] for p in [*shared, *op.get("parameters", [])]]
                ops.append({"doc": doc, "file": path.stem, "method": method.upper(), "path": url, "op": op,
                            "params": params, "id": op.get("operationId")})
    counts: dict[str, int] = {}
    for entry in ops:
        counts[entry["id"]] = counts.get(entry["id"], 0) + 1
    for entry in ops:  # the keys scripts/extract_oas.py gives: unique, whatever Zoho's files repeat
        route = f"{entry['method']} {entry['path']}"
        entry["key"] = route if entry["id"] is None else entry["id"] if counts[entry["id"]] == 1 \
            else f"{entry['id']} {route}"
    return ops


def _shape(path: str) -> str:
    return "/" + "/".join("{}" if PARAM.match(part) else part for part in path.strip("/").split("/"))


def _canonical(shape: str, collections: set[str]) -> str:
    """The path shape with Zoho's other spellings of a collection replaced by the one its list uses."""
    for alias, target in PATH_ALIASES.items():
        if shape == alias or shape.startswith(alias + "/"):
            shape = target + shape[len(alias):]
    parts = shape.strip("/").split("/")
    for index, part in enumerate(parts):
        prefix = "/" + "/".join(parts[:index])
        for spelling in (part + "s", part.replace("_", "")):
            if spelling != part and f"{prefix.rstrip('/')}/{spelling}" in collections:
                parts[index] = spelling
                break
    return "/" + "/".join(parts)


def _schema_props(doc: dict[str, Any], schema: Any) -> tuple[dict[str, Any], list[str]]:
    """Top-level properties (resolved) and required names of an object schema, through allOf."""
    schema, _ = resolve(doc, schema)
    if not isinstance(schema, dict):
        return {}, []
    props: dict[str, Any] = {}
    required = list(schema.get("required") or [])
    for part in schema.get("allOf", []):
        more, needed = _schema_props(doc, part)
        props.update(more)
        required += needed
    for name, child in (schema.get("properties") or {}).items():
        props[name] = resolve(doc, child)[0]
    return props, required


def _type(schema: Any) -> str:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind is None and isinstance(schema, dict) and "properties" in schema:
        kind = "object"
    return str(kind or "any")


def _body(entry: dict[str, Any]) -> dict[str, Any]:
    """Body fields with their types, required ones (nested ones in arrays as "line_items.amount")."""
    doc, op = entry["doc"], entry["op"]
    content = (op.get("requestBody") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if schema is None:
        return {"body": "none" if not content else "optional", "fields": {}, "required": []}
    if _type(resolve(doc, schema)[0]) == "array":  # a bare JSON array (the custom-field updates)
        return {"body": "list", "fields": {}, "required": []}
    props, required = _schema_props(doc, schema)
    fields = {name: _type(child) for name, child in sorted(props.items())}
    needed = set(required) & set(fields)
    for name, child in props.items():
        items = child.get("items") if _type(child) == "array" else None
        if items is not None:
            inner, inner_required = _schema_props(doc, items)
            needed |= {f"{name}.{field}" for field in inner_required if field in inner}
    return {"body": "required" if needed else "optional", "fields": fields, "required": sorted(needed)}


def _response(entry: dict[str, Any]) -> dict[str, Any]:
    """Success status, message and payload (key and type, or flat fields) of the operation's answer."""
    doc, op = entry["doc"], entry["op"]
    for status, response in sorted((op.get("responses") or {}).items()):
        if not str(status).startswith("2"):
            continue
        response, _ = resolve(doc, response)
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
        props, _ = _schema_props(doc, schema)
        message = (props.get("message") or {}).get("example")
        payload = {name: child for name, child in props.items() if name not in ("code", "message",
                                                                                "page_context")}
        answer: dict[str, Any] = {"status": int(status), "message": message if isinstance(message, str)
                                  else "success", "paged": "page_context" in props}
        if len(payload) == 1:
            (name, child), = payload.items()
            answer["key"] = KEY_FIXES.get(name, name)
            answer["payload"] = _type(child)
            answer["record_schema"] = child
        elif payload:
            answer["flat"] = {name: _type(child) for name, child in sorted(payload.items())}
        return answer
    return {"status": 200, "message": "success", "paged": False}


def _query(entry: dict[str, Any]) -> dict[str, Any]:
    """The list filters the operation documents: parameter -> filter kind; and the sort and filter values."""
    filters: dict[str, str] = {}
    sort_columns: list[str] = []
    filter_by: list[str] = []
    for param in entry["params"]:
        if param.get("in") != "query":
            continue
        name, schema = param["name"], param.get("schema") or {}
        listed = CODE.findall(str(param.get("description") or ""))  # "Allowed Values: <code>...</code>"
        allowed = [value.strip() for value in listed if value.strip()]
        if name == "sort_column":
            sort_columns = allowed
        elif name == "filter_by":
            filter_by = allowed
        elif name in ("organization_id", "page", "per_page", "sort_order", "search_text", "status"):
            continue
        elif schema.get("format") == "date" or name.endswith("date"):
            filters[name] = "date"
        elif schema.get("type") in ("number", "integer"):
            filters[name] = "number"
        elif schema.get("type") == "boolean":
            filters[name] = "bool"
        elif name.endswith("_id"):
            filters[name] = "id"
        else:
            filters[name] = "text"
    return {"filters": dict(sorted(filters.items())), "sort_columns": sorted(set(sort_columns)),
            "filter_by": sorted(set(filter_by))}


def _thing(id_field: str) -> str:
    name = id_field.removesuffix("_id")
    return THINGS.get(name) or name.replace("_", " ").capitalize()


def _singular(key: str) -> str:
    for plural, single in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("s", "")):
        if key.endswith(plural):
            return key[: -len(plural)] + single
    return key


def _kind(entry: dict[str, Any], shape: str, collections: set[str], items: set[str]) -> dict[str, Any]:
    """What a route does, from its path shape (canonical) and method; the tables above say the rest."""
    reason = NOT_EMULATED.get(entry["key"]) or NOT_EMULATED.get(entry["id"] or "")
    if reason:
        return {"kind": "not_emulated", "reason": reason}
    method = entry["method"]
    member = _member(method, shape.strip("/").split("/"), collections)
    if member is not None and member["kind"] == "patch":
        found = member  # `/invoices/{}/templates/{}` sets a field; it is not a record of templates
    elif shape in collections:
        found = {"kind": {"GET": "list", "POST": "create", "PUT": "bulk_update",
                          "DELETE": "bulk_delete"}[method], "resource": shape}
    elif shape in items:
        found = {"kind": {"GET": "get", "PUT": "update", "DELETE": "delete", "POST": "action"}[method],
                 "resource": shape.rsplit("/", 1)[0]}
    elif member is not None:
        found = member
    else:
        found = {"kind": "view" if method == "GET" else "action"}
    override = KINDS.get(entry["key"]) or KINDS.get(entry["id"] or "")
    if override:
        found = {"resource": found.get("resource"), **override}
    return {key: value for key, value in found.items() if value is not None}


def _member(method: str, parts: list[str], collections: set[str]) -> dict[str, Any] | None:
    """A route below a record of a collection (`/bills/{}/status/void`), or None."""
    for cut in range(len(parts) - 1, 0, -1):
        resource = "/" + "/".join(parts[: cut - 1])
        if parts[cut - 1] != "{}" or resource not in collections:
            continue
        rest = "/".join(parts[cut:])
        word = parts[-1] if parts[-1] != "{}" else parts[-2]
        if rest in PATCHES and method in ("PUT", "POST"):
            field, source = PATCHES[rest]
            return {"kind": "patch", "resource": resource, "field": field, "source": source}
        if method == "POST" and (word in STATUS_WORDS or rest.startswith("status/")):
            return {"kind": "status", "resource": resource, "value": STATUS_WORDS.get(word, word)}
        if word in ("email", "paymentreminder"):
            return {"kind": "email" if method == "POST" else "email_content", "resource": resource}
        return {"kind": "view" if method == "GET" else "action", "resource": resource}
    return None


def _params(entry: dict[str, Any], route: dict[str, Any]) -> dict[str, Any]:
    """Which path parameters name the parents of the route's records, and which names the record."""
    names = [match.group(1) for match in map(PARAM.match, entry["path"].strip("/").split("/")) if match]
    resource = route.get("resource")
    if resource is None:
        return {}
    depth = resource.count("{}")
    if route["kind"] in COLLECTION_KINDS:
        return {"parent_params": names[:depth] if len(names) >= depth else None}
    if len(names) > depth:
        return {"parent_params": names[:depth], "id_param": names[depth]}
    return {"parent_params": None, "id_param": names[-1]} if names else {}


def _scopes(op: dict[str, Any]) -> list[str]:
    return sorted({scope for block in op.get("security", []) for names in block.values() for scope in names})


def _inferred_scope(entry: dict[str, Any], ops: list[dict[str, Any]]) -> str:
    """An operation Zoho's file gives no scope (POST /bankstatements): its file's module, at the access its
    method implies, as every other operation of the file has."""
    modules = sorted({scope.split(".")[1] for other in ops if other["file"] == entry["file"]
                      for scope in _scopes(other["op"])})
    access = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}[entry["method"]]
    return f"ZohoBooks.{modules[0]}.{access}"


def _route(entry: dict[str, Any], shape: str, shapes: tuple[set[str], set[str]],
           ops: list[dict[str, Any]]) -> dict[str, Any]:
    collections, items = shapes
    scopes = _scopes(entry["op"])
    route = {"method": entry["method"], "path": entry["path"], "file": entry["file"],
             "operations": [entry["key"]], "scope": scopes[0] if scopes else None,
             **_kind(entry, shape, collections, items), **_response(entry), **_body(entry)}
    route.update(_params(entry, route))
    if route["scope"] is None:
        route.update(scope=_inferred_scope(entry, ops), scope_inferred=True)
    if route["kind"] in ("attach", "detach", "attachment"):
        route.update(body="none", fields={}, required=[])  # a file upload, never a JSON body
    if route["kind"] == "bulk_delete":
        ids = [param["name"] for param in entry["params"] if param.get("in") == "query"
               and param["name"] not in ("organization_id", "bulk_delete")]
        if ids:
            route["ids_param"] = ids[0]
    if route["kind"] in ("list", "list_all"):
        route.update(_query(entry))
    return route


def build(oas_dir: Path) -> dict[str, Any]:
    ops = _load(oas_dir)
    if not ops:
        raise SystemExit(f"no *.yml OpenAPI files in {oas_dir}")
    raw_items = {_shape(e["path"]) for e in ops if _shape(e["path"]).endswith("/{}")}
    raw_collections = {shape.rsplit("/", 1)[0] or "/" for shape in raw_items}
    shapes = {e["key"]: _canonical(_shape(e["path"]), raw_collections) for e in ops}
    items = {shape for shape in shapes.values() if shape.endswith("/{}")}
    collections = {shape.rsplit("/", 1)[0] for shape in items} - {""}
    collections |= {"/{}"}  # custom modules: /{module_name} is a collection of its own records
    named = {e["key"] for e in ops} | {e["id"] for e in ops}
    stale = sorted((set(KINDS) | set(NOT_EMULATED)) - named)
    if stale:
        raise SystemExit(f"the tables name operations Zoho's files do not have: {stale}")
    routes: dict[str, dict[str, Any]] = {}
    resources: dict[str, dict[str, Any]] = {}
    for entry in sorted(ops, key=lambda entry: not _owns(entry)):  # the module a path names speaks first
        route_key = f"{entry['method']} {_shape(entry['path'])}"
        seen = routes.get(route_key)
        if seen is not None:  # Zoho's files give a few routes twice (debit notes are invoices)
            seen["operations"] = sorted([*seen["operations"], entry["key"]])
            continue
        route = _route(entry, shapes[entry["key"]], (collections, items), ops)
        _learn(resources, route, entry)
        route.pop("record_schema", None)
        routes[route_key] = route
    return {
        "about": "Generated by scripts/sandbox_routes.py from Zoho Books v3 OpenAPI files; do not edit.",
        "resources": dict(sorted(resources.items())),
        "routes": [routes[key] for key in sorted(routes)],
    }


def _owns(entry: dict[str, Any]) -> bool:
    """Whether the operation's file is the module its path names (invoices.yml for /invoices)."""
    return entry["path"].strip("/").split("/")[0].startswith(entry["file"].replace("-", "").rstrip("s"))


def _learn(resources: dict[str, dict[str, Any]], route: dict[str, Any], entry: dict[str, Any]) -> None:
    """What a route tells about its resource: id field, keys, first status, searchable fields."""
    name = route.get("resource")
    if name is None:
        return
    facts = resources.setdefault(name, {})
    kind, key = route["kind"], route.get("key")
    if kind in ("get", "update", "delete") and route.get("id_param") and "id_field" not in facts:
        facts["id_field"] = route["id_param"]
    if kind in ("get", "create", "update", "singleton_get") and key and "record_key" not in facts \
            and route.get("payload") in ("object", "array"):
        facts["record_key"] = key
    if kind == "list" and key:
        facts["list_key"] = key
    schema = route.get("record_schema")
    if kind in ("get", "create", "singleton_get") and isinstance(schema, dict):
        props, _ = _schema_props(entry["doc"], schema.get("items", schema))
        status = props.get("status", {}).get("example")
        if isinstance(status, str) and "status" not in facts:
            facts["status"] = status
        searchable = sorted(field for field, child in props.items()
                            if _type(child) == "string" and NAME_LIKE.search(field))
        if searchable and "search" not in facts:
            facts["search"] = searchable


def finish(data: dict[str, Any]) -> dict[str, Any]:
    """Fill what no route said: id fields and keys by convention, and the name in "... does not exist."."""
    for name, facts in data["resources"].items():
        last = [part for part in name.strip("/").split("/") if part != "{}"][-1:] or ["record"]
        list_key = facts.get("list_key") or (last[0] if last[0] != "" else "module_record")
        record_key = facts.get("record_key") or _singular(list_key)
        facts.setdefault("list_key", list_key)
        facts.setdefault("record_key", record_key)
        facts.setdefault("id_field", f"{record_key}_id")
        facts["id_field"] = ID_FIELDS.get(name, facts["id_field"])
        facts["thing"] = _thing(facts["id_field"])
        facts.setdefault("search", [])
    for route in data["routes"]:
        if route["kind"] == "bulk_delete" and "ids_param" not in route and not route.get("all"):
            route["ids_param"] = data["resources"][route["resource"]]["id_field"] + "s"
    return data


def main(argv: list[str]) -> int:
    oas_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OAS_DIR
    data = finish(build(oas_dir))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(data['routes'])} routes, {len(data['resources'])} resources -> "
          f"{OUTPUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
