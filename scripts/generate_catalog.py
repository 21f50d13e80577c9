"""Generate the tool catalog from Zoho's OpenAPI files: catalog/generated.json.

    python scripts/generate_catalog.py [OAS_DIR]     # default: ../shared/zoho-oas, relative to the repo root

Every operation in Zoho's files becomes a tool named with its operationId, carrying its method, path, scope
and read/write flag from the file, unless
  - a hand-written manifest (tool_manifests/*.yaml) has a tool of that name: the hand entry wins, and the
    server loads it from there;
  - its module's overlay (catalog/overlays/MODULE.yaml) excludes it, with a one-line reason; or it cannot
    work through zbmcp at all (a file upload, a file download, a field Zoho requires that zbmcp withholds):
    then the generator excludes it and says why.
Each forwarded field gets its effect from the tool's overlay entry, its module's overlay, or
catalog/fields.yaml (by name); a field nobody classified is withheld as "unclassified": not declared, so
refused, never forwarded.
The output is deterministic; a test regenerates it (when Zoho's files are here) and fails on a difference.

An overlay (catalog/overlays/MODULE.yaml; every key optional):
    exclude: {OPERATION: one-line reason}           # OPERATION as the OAS extract keys it
    rename: {"OPERATION_ID METHOD PATH": new_name}   # Zoho's files give a few operationIds to two operations
    effects: {EFFECT: [field or dotted.field, ...]}  # this module's fields, over catalog/fields.yaml
    tools:
      OPERATION_ID: {title, description, result_key, emails_customer, advertise: [query names],
                     effects: {EFFECT: [fields]}}
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from catalog_schema import Classifier, Operation, build_entry, operations  # noqa: E402

from zbmcp.calls.catalog import load_hand_manifests  # noqa: E402
from zbmcp.core.catalog_entry import check_entry  # noqa: E402

DEFAULT_OAS_DIR = REPO_ROOT.parent / "shared" / "zoho-oas"
CATALOG = REPO_ROOT / "catalog"
OUTPUT = CATALOG / "generated.json"
OVERLAY_KEYS = {"exclude", "rename", "effects", "tools"}
TOOL_KEYS = {"title", "description", "result_key", "emails_customer", "advertise", "effects"}


def load_overlays(folder: Path = CATALOG / "overlays") -> dict[str, dict[str, Any]]:
    overlays = {}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(data) - OVERLAY_KEYS
        if unknown:
            raise SystemExit(f"{path}: unknown keys {sorted(unknown)}; use {sorted(OVERLAY_KEYS)}")
        for name, tool in (data.get("tools") or {}).items():
            if set(tool) - TOOL_KEYS:
                raise SystemExit(f"{path}: tool {name}: unknown keys {sorted(set(tool) - TOOL_KEYS)}")
        overlays[path.stem] = data
    return overlays


def generate(oas_dir: Path) -> dict[str, Any]:
    files = sorted(oas_dir.glob("*.yml"))
    if not files:
        raise SystemExit(f"no *.yml OpenAPI files in {oas_dir}")
    rules = yaml.safe_load((CATALOG / "fields.yaml").read_text(encoding="utf-8"))
    overlays = load_overlays()
    hand = load_hand_manifests()
    found = [op for path in files for op in operations(path, rules)]
    counts = Counter(op.operation_id for op in found)
    excluded: dict[str, str] = {}
    renamed: dict[str, str] = {}
    chosen: list[tuple[str, str, Operation]] = []
    used_overlay: set[tuple[str, str, str]] = set()
    for op in found:
        route = f"{op.method} {op.path}"
        key = route if op.operation_id is None else op.operation_id if counts[op.operation_id] == 1 \
            else f"{op.operation_id} {route}"
        overlay = overlays.get(op.module, {})
        if key in (overlay.get("exclude") or {}):
            excluded[key] = overlay["exclude"][key]
            used_overlay.add((op.module, "exclude", key))
            continue
        name = (overlay.get("rename") or {}).get(key, key)
        if name != key:
            used_overlay.add((op.module, "rename", key))
            renamed[key] = name
        if " " in name:
            raise SystemExit(f"{key}: Zoho's files give it no unique operationId; in "
                             f"catalog/overlays/{op.module}.yaml, rename it or exclude it with a reason")
        if name in hand:
            hand_spec = hand[name]
            if (hand_spec.method, hand_spec.path) != (op.method, op.path):
                raise SystemExit(f"{name}: the hand manifest says {hand_spec.method} {hand_spec.path}, "
                                 f"Zoho's file {op.method} {op.path}")
            continue
        why = op.unusable()
        if why:
            excluded[key] = why
            continue
        chosen.append((name, key, op))
    classifier = Classifier(rules, overlays)
    email_tools = {spec.name for spec in hand.values() if spec.emails_customer}
    email_tools |= {name for name, _, op in chosen if classifier.emails_openly(name, op)}
    module_email_tool = _email_tool_by_module(hand, chosen, email_tools)
    tools: dict[str, dict[str, Any]] = {}
    for name, key, op in chosen:
        entry, why = build_entry(name, op, classifier, module_email_tool.get(op.module))
        if entry is None:
            excluded[key] = why
            continue
        tools[name] = entry
    problems = [problem for entry in tools.values() for problem in check_entry(entry, email_tools)]
    stale = _unused_overlay(overlays, used_overlay, tools, excluded)
    if problems or stale:
        raise SystemExit("\n".join(problems + stale))
    return {
        "about": "Generated by scripts/generate_catalog.py from Zoho Books v3 OpenAPI files, "
                 "catalog/fields.yaml and catalog/overlays/; do not edit by hand.",
        "files": [path.name for path in files],
        "hand_written": sorted(hand),
        "excluded": dict(sorted(excluded.items())),
        "renamed": dict(sorted(renamed.items())),
        "tools": dict(sorted(tools.items())),
    }


def _email_tool_by_module(hand: dict[str, Any], chosen: list[tuple[str, str, Operation]],
                          email_tools: set[str]) -> dict[str, str]:
    """Each module's email tool (whose rules a field such as send=true takes on): the shortest email_*."""
    by_module: dict[str, list[str]] = {}
    for spec in hand.values():
        if spec.name in email_tools:
            by_module.setdefault(spec.module, []).append(spec.name)
    for name, _, op in chosen:
        if name in email_tools:
            by_module.setdefault(op.module, []).append(name)
    return {module: min(names, key=lambda n: (not n.startswith("email_"), len(n), n))
            for module, names in by_module.items()}


def _unused_overlay(overlays: dict[str, dict[str, Any]], used: set[tuple[str, str, str]],
                    tools: dict[str, Any], excluded: dict[str, str]) -> list[str]:
    """Overlay entries that name nothing: a typo, or an operation Zoho renamed."""
    stale = []
    for module, overlay in overlays.items():
        for kind in ("exclude", "rename"):
            for key in overlay.get(kind) or {}:
                if (module, kind, key) not in used:
                    stale.append(f"catalog/overlays/{module}.yaml: {kind} {key!r} names no operation of "
                                 f"module {module}")
        for name in overlay.get("tools") or {}:
            if name not in tools and name not in excluded:
                stale.append(f"catalog/overlays/{module}.yaml: tool {name!r} is not generated")
    return stale


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    oas_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OAS_DIR
    data = generate(oas_dir)
    OUTPUT.write_text(render(data), encoding="utf-8")
    print(f"{len(data['tools'])} generated tools, {len(data['hand_written'])} hand-written, "
          f"{len(data['excluded'])} operations excluded -> {OUTPUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

