"""The catalog generated from Zoho's OpenAPI files (catalog/generated.json): current, checked, complete.

Zoho's side comes from tests/data/zoho_oas_extract.json, so these run without the OpenAPI files; when the
files are at ../shared/zoho-oas, the committed catalog is checked to be what scripts/generate_catalog.py makes
of them.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from zbmcp.calls.catalog import (
    generated_catalog,
    generated_catalog_path,
    load_catalog,
    load_hand_manifests,
    load_manifests,
)
from zbmcp.core.catalog_entry import check_entry, entry_of

REPO = Path(__file__).resolve().parents[2]
EXTRACTED = json.loads((REPO / "tests" / "data" / "zoho_oas_extract.json").read_text(encoding="utf-8"))[
    "operations"]
CATALOG = generated_catalog()
HAND = load_hand_manifests()
EVERY = load_catalog()
MCP_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # MCP's rule for tool names (SEP-986)


def _script(name: str) -> Any:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        module_spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO / "scripts"))


def test_the_catalog_is_what_the_generator_makes_of_zohos_files() -> None:
    """Zoho's files, catalog/fields.yaml, the overlays and the hand manifests' names -> the committed catalog
    (when Zoho's files are here; CI allows this one skip, as for the OAS extract)."""
    generator = _script("generate_catalog")
    if not any(generator.DEFAULT_OAS_DIR.glob("*.yml")):
        pytest.skip(f"Zoho's OpenAPI files are not at {generator.DEFAULT_OAS_DIR}")
    fresh = generator.render(generator.generate(generator.DEFAULT_OAS_DIR))
    committed = generated_catalog_path().read_text(encoding="utf-8")
    assert fresh == committed, "run: python scripts/generate_catalog.py"


def test_every_zoho_operation_is_a_tool_or_excluded_with_a_reason() -> None:
    renamed = CATALOG["renamed"]
    for key in EXTRACTED:
        name = renamed.get(key, key)
        assert (name in HAND) + (name in CATALOG["tools"]) + (key in CATALOG["excluded"]) == 1, key
    assert all(len(reason) > 20 for reason in CATALOG["excluded"].values())
    # the duplicated operationIds and the one without any are accounted for
    assert {key for key in EXTRACTED if " " in key} <= set(renamed) | set(CATALOG["excluded"])


def test_generated_tools_are_zohos_operations_with_zohos_scope_and_access() -> None:
    by_route = {(op["method"], op["path"]): op for op in EXTRACTED.values()}
    for name, entry in CATALOG["tools"].items():
        op = by_route[(entry["method"], entry["path"])]
        assert op.get("operation_id", name) in (name, *[k.split()[0] for k in CATALOG["renamed"]])
        assert [entry["scope"]] == op["scopes"]
        assert entry["access"] == ("read" if op["method"] == "GET" else "write")


def test_tool_names_are_valid_mcp_names_and_unique() -> None:
    assert all(MCP_TOOL_NAME.match(name) for name in EVERY)
    assert not set(CATALOG["tools"]) & set(HAND) - set(CATALOG["hand_written"])
    assert set(CATALOG["hand_written"]) == set(HAND), "run: python scripts/generate_catalog.py"


def test_every_generated_entry_passes_the_generators_checks() -> None:
    email_tools = {name for name, spec in EVERY.items() if spec.emails_customer}
    problems = [p for entry in CATALOG["tools"].values() for p in check_entry(entry, email_tools)]
    assert problems == []


def test_hand_written_tools_win_and_load_as_before() -> None:
    assert {name: EVERY[name] for name in HAND}.keys() == HAND.keys()
    assert all(EVERY[name].source.endswith(".yaml") for name in HAND)
    assert all(entry_of(EVERY[name]) == entry_of(HAND[name]) for name in HAND)
    assert len(EVERY) == len(HAND) + len(CATALOG["tools"])


def test_the_server_loads_the_whole_catalog() -> None:
    """Which of these an agent's wildcards grant is its `catalog:` (tests/test_catalog_grant.py)."""
    assert set(load_manifests()) == set(EVERY)


def test_a_generated_entry_round_trips() -> None:
    for name in ("create_journal", "list_journals", "email_credit_note"):
        assert entry_of(EVERY[name]) == CATALOG["tools"][name]


def _withheld_here_or_above(withheld: dict[str, str], field: str) -> bool:
    parts = field.split(".")
    return any(".".join(parts[:cut]) in withheld for cut in range(1, len(parts) + 1))


def _operation(name: str) -> dict[str, Any]:
    keys = {new: old for old, new in CATALOG["renamed"].items()}
    return EXTRACTED[keys.get(name, name)]


@pytest.mark.parametrize("name", sorted(CATALOG["tools"]))
def test_every_field_of_the_operation_is_declared_with_an_effect_or_withheld(name: str) -> None:
    """Walks Zoho's whole field list for the operation (query parameters, their documented variants and every
    body field, dotted): each is forwarded with an effect zbmcp can gate, or withheld saying why. A field in
    the path is the path's (a body copy of it is never sent)."""
    spec, op = EVERY[name], _operation(name)
    fields = set(op["query_params"]) | set(op["query_variants"]) | set(op["body_fields"])
    fields -= {"organization_id"}  # zbmcp's own, checked against the agent's organizations
    if spec.method == "GET":
        fields -= set(op["body_fields"])  # (Zoho's files draw a body on one GET; a GET sends none)
    unaccounted = sorted(
        field for field in fields
        if field not in spec.effects and not _withheld_here_or_above(dict(spec.withheld), field)
        and field.split(".")[0] not in spec.path_params)
    assert unaccounted == []
    forwarded = set(spec.effects)
    assert forwarded <= fields | {v for v in forwarded if v.split("_")[0] in op["query_params"]}
    assert all(effect in {"none", "emails", "recipients", "email_content", "moves_money"}
               for effect in spec.effects.values())
    if spec.method == "GET":
        assert set(spec.effects.values()) <= {"none"}


def test_the_catalog_table_in_the_docs_is_current() -> None:
    tool_table = _script("tool_table")
    document = (REPO / "docs" / "tools.md").read_text(encoding="utf-8")
    assert f"{tool_table.CATALOG_START}\n{tool_table.catalog_table()}{tool_table.CATALOG_END}" in document, (
        "run: python scripts/tool_table.py README.md docs/tools.md")


def test_selectors_work_across_the_whole_catalog_for_an_agent_that_opts_in() -> None:
    from zbmcp.core.config_parse import parse_config
    from zbmcp.core.policy import policies

    head = ("connections:\n  main: {region: eu, client_id: id, client_secret: secret, refresh_token: r}\n"
            "agents:\n")

    def visible(agent: str) -> set[str]:
        loaded = parse_config(head + agent, "zbmcp.yaml", {})
        return set(next(iter(policies(loaded, EVERY, {"main": None}).values())).visible)

    journals = {name for name, spec in EVERY.items() if spec.module == "journals"}
    assert "list_journals" in journals and "create_journal" in journals
    whole = "  a: {connection: main, organizations: ['1'], catalog: whole, "
    assert visible(whole + "tools: ['journals:read']}\n") == {
        name for name in journals if EVERY[name].read_only}
    assert visible(whole + "tools: ['journals:*'], "
                   "exclude: [delete_journal]}\n") == journals - {"delete_journal"}
    everything = visible(whole + "tools: ['*:*'], read_only: true}\n")
    assert everything == {name for name, spec in EVERY.items() if spec.read_only} and len(everything) > 140
    assert visible(whole + "tools: ['*_credit_note_refund*']}\n") == {
        name for name in EVERY if "_credit_note_refund" in name}
    with pytest.raises(Exception, match="unknown module 'journal'.*journals"):
        visible(whole + "tools: ['journal:read']}\n")
    # without `catalog: whole`, a wildcard picks only hand-written tools; a name picks any tool
    curated = visible("  a: {connection: main, organizations: ['1'], tools: ['*:*', list_journals]}\n")
    assert curated == set(HAND) | {"list_journals"}
    with pytest.raises(Exception, match="agents.a.tools: 'journals:read' picks only tools generated.*whole"):
        visible("  a: {connection: main, organizations: ['1'], tools: ['journals:read']}\n")
    with pytest.raises(Exception, match="agents.a.catalog: .*'curated' or 'whole'"):
        visible("  a: {connection: main, organizations: ['1'], catalog: all, tools: ['*:*']}\n")
