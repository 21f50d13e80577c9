"""Every generated tool through a real MCP client, against the sandbox; and the refusals a generated tool
gives for what zbmcp does not offer (an unclassified or withheld field, an excluded operation, a tool outside
the agent's grant), with nothing sent to Zoho."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest

from tests.conftest import AuditCapture, agent, mcp_client, running
from zbmcp.calls.catalog import generated_catalog, load_catalog
from zbmcp.cli.listing import print_tools

SPECS = load_catalog()
CATALOG = generated_catalog()
GENERATED = sorted(CATALOG["tools"])
MODULES = sorted({SPECS[name].module for name in GENERATED})
SOME_ID = "460000000000123"


def example(name: str, schema: dict[str, Any]) -> Any:
    """A value of the schema's shape, for a required argument."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "array":
        return [example(name, schema.get("items") or {"type": "string"})]
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: example(key, properties[key]) for key in schema.get("required", [])}
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2026-01-15"
    if schema.get("format") == "email":
        return "someone@example.com"
    if name.endswith("_id") or schema.get("pattern") == "^[0-9]{1,19}$":
        return SOME_ID
    if "pattern" in schema:  # a path segment such as a custom module's name
        return "cm_things"
    if name in ("file_name", "file_content_base64"):  # an upload (zbmcp.core.uploads): a small PDF
        return "note.pdf" if name == "file_name" else "JVBERi0xLjQKJSVFT0YK"
    return "x"


def arguments(name: str) -> dict[str, Any]:
    spec = SPECS[name]
    groups = {**spec.path_params, **spec.query, **spec.unadvertised_query, **(spec.body or {})}
    wanted = list(spec.path_params) + list(spec.required)
    return {key: example(key, groups[key]) for key in wanted}


@pytest.fixture
def everything(make_config):
    return make_config({"all": agent(["*:*"], catalog="whole")})


@pytest.mark.parametrize("module", MODULES)
async def test_every_generated_tool_answers_on_the_sandbox(everything, sandbox, module):
    """Each call reaches the sandbox and gets Zoho's answer: a record, or Zoho's own error (an id the sandbox
    does not hold is Zoho's 1002): never a refusal of arguments the tool itself declares as required."""
    names = [name for name in GENERATED if SPECS[name].module == module]
    outcomes: Counter[str] = Counter()
    async with running(everything, sandbox, specs=SPECS) as runtime, mcp_client(runtime, "all") as client:
        for name in names:
            result = await client.call_tool(name, arguments(name))
            if not result.is_error:
                outcomes["ok"] += 1
                continue
            error = result.structured_content["error"]
            assert error["type"] == "ZohoApiError" and "zoho_code" in error, (name, error)
            assert error["http_status"] != 404 or error["zoho_code"] == 1002, (name, error)
            outcomes[str(error["zoho_code"])] += 1
    assert sum(outcomes.values()) == len(names)


def _write_with_withheld(reason: str) -> tuple[str, str]:
    name = next(name for name in GENERATED if SPECS[name].method == "POST" and not SPECS[name].path_params
                and any(why == reason and "." not in field for field, why in SPECS[name].withheld.items()))
    field = next(f for f, why in SPECS[name].withheld.items() if why == reason and "." not in f)
    return name, field


@pytest.mark.parametrize("reason", ["unclassified", "other_records", "numbering"])
async def test_a_withheld_field_is_refused_naming_why_and_nothing_is_sent(make_config, sandbox, reason):
    name, field = _write_with_withheld(reason)
    loaded = make_config({"all": agent(["*:*"], catalog="whole")})
    audit = AuditCapture()
    async with running(loaded, sandbox, specs=SPECS, audit=audit) as runtime, \
            mcp_client(runtime, "all") as client:
        result = await client.call_tool(name, {**arguments(name), field: "1"})
    assert result.is_error
    error = result.structured_content["error"]
    assert error["type"] == "InvalidArguments"
    assert f"is not an argument of {name}" in error["message"] and f"Zoho's {field}" in error["message"]
    assert "zbmcp does not offer it" in error["message"]
    assert audit.lines and not any(line.get("phase") == "intent" for line in audit.lines)  # nothing sent
    [record] = audit.records
    assert record["tool"] == name and record["decision"] == "denied"


async def test_a_generated_tool_outside_the_grant_is_refused(make_config, sandbox):
    loaded = make_config({"reader": agent(["journals:read"], catalog="whole")})
    async with running(loaded, sandbox, specs=SPECS) as runtime, mcp_client(runtime, "reader") as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert listed == {name for name, spec in SPECS.items()
                          if spec.module == "journals" and spec.read_only}
        result = await client.call_tool("create_journal", {"journal_date": "2026-01-15"})
    assert result.is_error
    assert "not available to agent 'reader'" in result.content[0].text
    assert "Nothing was sent to Zoho" in result.content[0].text


async def test_an_excluded_operation_is_refused_saying_why(make_config, sandbox):
    loaded = make_config({"all": agent(["*:*"], catalog="whole")})
    audit = AuditCapture()
    async with running(loaded, sandbox, specs=SPECS, audit=audit) as runtime, \
            mcp_client(runtime, "all") as client:
        result = await client.call_tool("get_organization", {"organization_id": "10234695"})
    assert result.is_error
    text = result.content[0].text
    assert "'get_organization' is not a zbmcp tool" in text and "list_organizations" in text
    assert "Nothing was sent to Zoho" in text
    assert [(r["tool"], r["decision"]) for r in audit.records] == [("get_organization", "denied")]


def test_zbmcp_tools_stays_readable_with_the_whole_catalog(make_config):
    """500 tools: one line per visible tool under its module's heading, and one line per rule that hides the
    rest, naming whole modules rather than every tool."""
    loaded = make_config({"clerk": agent(["journals:*", "list_invoices"], exclude=["delete_journal"],
                                         catalog="whole")})
    out = io.StringIO()
    print_tools(loaded, "clerk", as_json=False, out=out, specs=SPECS)
    text = out.getvalue()
    shown = {name for name, spec in SPECS.items() if spec.module == "journals"} - {"delete_journal"}
    assert text.startswith(f"Agent 'clerk' sees {len(shown) + 1} of {len(SPECS)} tools.\n")
    visible, hidden = text.split("\nHidden:\n")
    assert "journals (" in visible and "invoices (1 tool)" in visible
    assert {line.split()[0] for line in visible.splitlines() if line.startswith("  ")} == shown | {
        "list_invoices"}
    lines = hidden.splitlines()
    assert len(lines) == 2  # one per rule
    assert "  excluded by `exclude: delete_journal`: delete_journal" in lines
    not_selected = next(line for line in lines if "not selected" in line)
    assert "taxes (" in not_selected and "list_invoices" not in not_selected
    assert "create_invoice" in not_selected  # a module hidden in part names its tools


def test_zbmcp_tools_shows_what_a_wildcard_leaves_out_without_catalog_whole(make_config):
    """The same `*:*` grants the hand-written tools alone unless the agent opts in; `zbmcp tools` says which
    generated tools it leaves out and how to grant them."""
    hand = {name for name, spec in SPECS.items() if not spec.generated}
    texts = {}
    for catalog in ("curated", "whole"):
        loaded = make_config({"clerk": agent(["*:*", "list_journals"], catalog=catalog)})
        out = io.StringIO()
        print_tools(loaded, "clerk", as_json=False, out=out, specs=SPECS)
        texts[catalog] = out.getvalue()
    assert texts["curated"].startswith(f"Agent 'clerk' sees {len(hand) + 1} of {len(SPECS)} tools.\n")
    assert texts["whole"].startswith(f"Agent 'clerk' sees {len(SPECS)} of {len(SPECS)} tools.\n")
    [rule] = [line for line in texts["curated"].split("\nHidden:\n")[1].splitlines() if line.strip()]
    assert "a generated tool, which `tools: *:*` grants only with `catalog: whole`" in rule
    assert "email_invoices" in rule or "invoices (" in rule
