"""Per-agent least privilege: deny by default, selectors, exclude over tools, read_only over everything."""

from __future__ import annotations

import pytest

from zbmcp.core.config_parse import parse_config
from zbmcp.errors import ConfigError, PolicyDenied
from zbmcp.calls.catalog import load_hand_manifests
from zbmcp.core.policy import policies

# The hand-written tools: what each selector picks is spelled out below (tests/unit/test_catalog.py checks the
# selectors across the whole generated catalog).
SPECS = load_hand_manifests()
HEAD = """\
connections:
  main:
    region: eu
    client_id: id
    client_secret: secret
    refresh_token: refresh
agents:
"""


def policy_of(agent_yaml: str, granted: list[str] | None = None):
    loaded = parse_config(HEAD + agent_yaml, "zbmcp.yaml", {})
    return policies(loaded, SPECS, {"main": granted})


def one(agent_yaml: str, granted: list[str] | None = None):
    return next(iter(policy_of(agent_yaml, granted).values()))


def test_nothing_is_allowed_unless_selected():
    policy = one("  a:\n    connection: main\n    organizations: ['1']\n")
    assert policy.visible == {}
    with pytest.raises(PolicyDenied) as info:
        policy.tool_for_call("list_invoices")
    assert "not selected" in str(info.value)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("list_invoices", {"list_invoices"}),
        ("list_*", {s.name for s in SPECS.values() if s.name.startswith("list_")}),
        ("invoices:read", {"list_invoices", "get_invoice"}),
        ("invoices:write", {"create_invoice", "update_invoice", "delete_invoice", "mark_invoice_sent",
                            "email_invoice", "mark_invoice_void", "mark_invoice_draft"}),
        ("invoices:*", {s.name for s in SPECS.values() if s.module == "invoices"}),
        ("*:read", {s.name for s in SPECS.values() if s.access == "read"}),
        ("*:write", {s.name for s in SPECS.values() if s.access == "write"}),
    ],
)
def test_each_selector_form_selects_exactly_its_tools(selector, expected):
    policy = one(f"  a:\n    connection: main\n    organizations: ['1']\n    tools: ['{selector}']\n")
    assert set(policy.visible) == expected


def test_exclude_beats_tools_and_read_only_beats_everything():
    policy = one(
        "  a:\n    connection: main\n    organizations: ['1']\n    tools: ['invoices:*']\n"
        "    exclude: [delete_invoice]\n"
    )
    assert "delete_invoice" not in policy.visible and "create_invoice" in policy.visible
    assert "exclude" in policy.hidden["delete_invoice"].rule
    read_only = one("  a:\n    connection: main\n    organizations: ['1']\n    tools: ['*:*']\n    "
                    "read_only: true\n")
    assert all(spec.access == "read" for spec in read_only.visible.values())
    assert "read_only" in read_only.hidden["create_invoice"].rule


def test_a_hidden_tool_is_refused_naming_the_rule_and_case_matters():
    policy = one("  a:\n    connection: main\n    organizations: ['1']\n    tools: [list_invoices]\n")
    with pytest.raises(PolicyDenied) as info:
        policy.tool_for_call("List_Invoices")
    assert "case-sensitive" in str(info.value) and "'list_invoices'" in str(info.value)


def test_organizations_outside_the_agents_list_are_refused():
    policy = one("  a:\n    connection: main\n    organizations: ['1', '2']\n    tools: [list_invoices]\n")
    policy.check_organization("2")
    with pytest.raises(PolicyDenied) as info:
        policy.check_organization("3")
    assert info.value.rule == "organizations"


@pytest.mark.parametrize(
    ("selector", "fix"),
    [("list_invoice", "did you mean 'list_invoices'?"), ("invoice:read", "did you mean 'invoices'?"),
     ("invoices:rw", "read, write or *"), ("nothing_*", "matches no tool")],
)
def test_bad_selectors_fail_at_start_up_with_file_line_and_fix(selector, fix):
    with pytest.raises(ConfigError) as info:
        policy_of(f"  a:\n    connection: main\n    organizations: ['1']\n    tools:\n      - {selector}\n")
    assert str(info.value).startswith("zbmcp.yaml:12:")
    assert fix in str(info.value)


def test_least_privilege_scopes_cover_exactly_the_agents_tools():
    policy = one("  a:\n    connection: main\n    organizations: ['1']\n    tools: ['invoices:read', "
                 "list_items]\n")
    assert policy.scopes == ["ZohoBooks.invoices.READ", "ZohoBooks.settings.READ"]


def test_tools_whose_scope_was_not_granted_are_hidden_with_the_reason():
    yaml = "  a:\n    connection: main\n    organizations: ['1']\n    tools: ['invoices:read', list_items]\n"
    policy = one(yaml, granted=["ZohoBooks.invoices.ALL"])
    assert set(policy.visible) == {"list_invoices", "get_invoice"}
    assert "ZohoBooks.settings.READ" in policy.hidden["list_items"].rule
    assert set(one(yaml, granted=["ZohoBooks.fullaccess.all"]).visible) \
        == {"list_invoices", "get_invoice", "list_items"}


def test_require_approval_applies_to_the_tools_the_agent_has():
    policy = one(
        "  a:\n    connection: main\n    organizations: ['1']\n    tools: ['invoices:*']\n"
        "    require_approval: ['email_*']\n"
    )
    assert policy.needs_approval == {"email_invoice"}  # email_estimate is not the agent's: nothing to ask


@pytest.mark.parametrize(
    ("extra", "line", "fix"),
    [
        ("    require_approval: [email_invoice, delete_contact]\n", 12,
         "require_approval[1]: 'delete_contact' selects no tool agent 'a' can see"),
        ("    exclude: [email_invoice]\n    require_approval:\n      - email_invoice\n", 14,
         "'email_invoice' selects no tool agent 'a' can see (email_invoice: excluded by `exclude: "
         "email_invoice`)"),
        ("    rules:\n      - deny: amount > 1.0\n        tools: [create_bill]\n", 14,
         "rules[0].tools[0]: 'create_bill' selects no tool agent 'a' can see"),
    ],
)
def test_an_approval_or_rule_for_a_tool_the_agent_cannot_see_stops_start_up(extra, line, fix):
    with pytest.raises(ConfigError) as info:
        policy_of(f"  a:\n    connection: main\n    organizations: ['1']\n    tools: ['invoices:*']\n{extra}")
    assert str(info.value).startswith(f"zbmcp.yaml:{line}:") and fix in str(info.value)
