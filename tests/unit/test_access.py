"""The access matrix and the comparison of two configs (pure: from the resolved policies)."""

from __future__ import annotations

from zbmcp.core.access import access_matrix, compare, matrix_of
from zbmcp.core.config_parse import parse_config
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.policy import policies

SPECS = load_manifests()
CONFIG = """
connections:
  main: {region: eu, client_id: "1000.X", client_secret: s, refresh_token: r}
agents:
  payables:
    connection: main
    organizations: ["10234695"]
    tools: ["bills:*", "contacts:read"]
    rules:
      - approve: amount > 5000.0
        name: big-amounts
        tools: [create_bill]
  rehearsal:
    connection: main
    organizations: ["10234695"]
    tools: ["invoices:*"]
    exclude: [delete_invoice]
    dry_run: true
"""


def test_each_cell_names_the_rule_behind_each_tool():
    loaded = parse_config(CONFIG, "zbmcp.yaml", {})
    matrix = access_matrix(loaded, SPECS, policies(loaded, SPECS))
    payables, rehearsal = matrix.agent("payables"), matrix.agent("rehearsal")
    assert payables is not None and rehearsal is not None
    assert payables.cells["bills"].states == ["read", "write"]
    create_bill = payables.tool("create_bill")
    assert create_bill is not None and "selected by `tools: bills:*`" in create_bill.rule
    assert "rule big-amounts (approve: amount > 5000.0)" in create_bill.rule  # an argument rule (CEL)
    assert payables.cells["invoices"].states == ["hidden"]
    assert rehearsal.cells["invoices"].states == ["read", "dry run"]
    delete = rehearsal.tool("delete_invoice")
    assert delete is not None and delete.state == "hidden" and "exclude: delete_invoice" in delete.rule


def test_a_comparison_lists_what_is_granted_and_what_is_taken_away():
    before = matrix_of(CONFIG, "old.yaml", SPECS)
    after = matrix_of(CONFIG.replace("dry_run: true", "dry_run: false").replace('"contacts:read"',
                                                                                '"list_bills"'),
                      "new.yaml", SPECS)
    changes = {(c.agent, c.what): (c.before, c.after, c.grants) for c in compare(before, after)}
    assert changes[("rehearsal", "create_invoice")] == ("dry run", "write", True)
    assert changes[("payables", "list_contacts")] == ("read", "hidden", False)
    assert ("payables", "create_bill") not in changes
    assert compare(before, before) == []


def test_an_api_key_added_is_the_only_change_not_a_change_of_approver_too():
    """`zbmcp agent key` on an agent without `approval:`: the same people approve its
    calls before and after."""
    before = matrix_of(CONFIG, "old.yaml", SPECS)
    after = matrix_of(CONFIG.replace("  payables:\n",
                                     '  payables:\n    api_keys: ["sha256:' + "a" * 64 + '"]\n'),
                      "new.yaml", SPECS)
    changes = [(c.agent, c.what, c.before, c.after, c.grants) for c in compare(before, after)]
    assert changes == [("payables", "API keys", "0", "1", True)]
