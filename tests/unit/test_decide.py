"""The one decision per call (pure): effects take on the rules of the tool that does them openly, CEL argument
rules deny, ask or allow, deny beats approve beats allow, and every decision names its rule and revision."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from zbmcp.core.config_parse import parse_config
from zbmcp.errors import ConfigError
from zbmcp.core.facts import facts_of
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.policy import AgentPolicy, policies
from zbmcp.core.found import Document, Found
from zbmcp.core.requests import build_request

SPECS = load_manifests()
ORG = "10234695"
ACME = "460000000000011"
GLOBEX = "460000000000012"
TODAY = dt.date(2026, 11, 25)
HEAD = """\
connections:
  main:
    region: eu
    client_id: id
    client_secret: secret
agents:
  a:
    connection: main
    organizations: ['10234695']
"""


def agent(body: str) -> AgentPolicy:
    loaded = parse_config(HEAD + body, "zbmcp.yaml", {})
    return policies(loaded, SPECS)["a"]


def decide(policy: AgentPolicy, tool: str, arguments: dict[str, Any]):
    request = build_request(SPECS[tool], arguments, list(policy.organizations))
    return policy.decide(SPECS[tool], request, TODAY)


def invoice(rate: float = 100.0, quantity: float = 3, **extra: Any) -> dict[str, Any]:
    return {"customer_id": ACME, "line_items": [{"item_id": "1", "rate": rate, "quantity": quantity}],
            **extra}


BOOKKEEPER = """\
    tools: ["invoices:*", "contacts:read", list_items]
    exclude: [delete_invoice]
    require_approval: [email_invoice]
"""


def test_a_plain_call_is_allowed_by_the_selector_that_gave_the_tool_and_names_the_revision():
    loaded = parse_config(HEAD + BOOKKEEPER, "zbmcp.yaml", {})
    decision = decide(policies(loaded, SPECS)["a"], "create_invoice", invoice())
    assert (decision.outcome, decision.rule) == ("allow", "tools: invoices:*")
    assert decision.revision == loaded.revision and len(decision.revision) == 16


def test_send_true_asks_as_email_invoice_does_for_this_agent():
    decision = decide(agent(BOOKKEEPER), "create_invoice", invoice(send=True))
    assert decision.outcome == "approve"
    assert decision.rule == "require_approval: email_invoice (create_invoice with send emails like it)"
    assert decision.facts is not None and decision.facts.emails
    assert decide(agent(BOOKKEEPER), "create_invoice", invoice(send=False)).outcome == "allow"


def test_send_true_is_refused_for_an_agent_that_may_not_email():
    policy = agent('    tools: ["invoices:*"]\n    exclude: [email_invoice]\n')
    decision = decide(policy, "create_invoice", invoice(send=True))
    assert decision.outcome == "deny"
    assert decision.rule == "effects: send emails like email_invoice, which the agent may not use"
    assert "excluded by `exclude: email_invoice`" in decision.message
    assert "Leave send out" in decision.message and "Nothing was sent to Zoho" in decision.message


def test_send_true_is_allowed_where_email_invoice_is_and_for_estimates_too():
    assert decide(agent('    tools: ["invoices:*"]\n'), "create_invoice", invoice(send=True)).outcome \
        == "allow"
    estimates = agent('    tools: [create_estimate]\n')
    assert decide(estimates, "create_estimate", invoice(send=True)).outcome == "deny"
    assert decide(estimates, "create_estimate", invoice()).outcome == "allow"


RULES = """\
    tools: ["*:*"]
    rules:
      - approve: amount > 5000.0
        name: big-amounts
        tools: [create_bill, create_customer_payment, create_invoice]
      - deny: amount > 50000
        name: too-big
        reason: above 50,000 a partner signs
      - deny: date != "" && date < "2026-01-01"
        name: closed-period
      - allow: counterparty_id in ["460000000000011"]
        name: known-customers
        tools: [create_invoice]
      - deny: recipients.exists(r, !r.endsWith("@acme.example"))
        name: acme-only
        tools: [email_invoice]
"""


@pytest.mark.parametrize(
    ("tool", "arguments", "outcome", "rule"),
    [
        ("create_invoice", invoice(rate=1000, quantity=3), "allow", "rule known-customers"),
        ("create_invoice", invoice(rate=1000, quantity=6), "approve", "rule big-amounts"),
        ("create_invoice", invoice(rate=1000, quantity=60), "deny", "rule too-big"),  # deny beats approve
        ("create_invoice", {**invoice(), "customer_id": GLOBEX}, "deny",
         "no allow rule holds (known-customers)"),
        ("create_invoice", invoice(date="2025-12-31"), "deny", "rule closed-period"),
        ("create_invoice", invoice(date="2026-01-01"), "allow", "rule known-customers"),
        ("create_customer_payment", {"customer_id": GLOBEX, "payment_mode": "cash", "amount": 5000.01,
                                     "date": "2026-11-25",
                                     "invoices": [{"invoice_id": "9", "amount_applied": 1}]},
         "approve", "rule big-amounts"),
        ("create_bill", {"vendor_id": "7", "bill_number": "B-1", "line_items": [{"account_id": "8",
                                                                                 "rate": 4999}]},
         "allow", "tools: *:*"),
        ("email_invoice", {"invoice_id": "5", "to_mail_ids": ["ap@acme.example"],
                           "cc_mail_ids": ["me@elsewhere.example"]}, "deny", "rule acme-only"),
        ("email_invoice", {"invoice_id": "5", "to_mail_ids": ["ap@acme.example"]}, "allow", "tools: *:*"),
        # a filter is not a document date
        ("list_invoices", {"date_start": "2020-01-01"}, "allow", "tools: *:*"),
    ],
)
def test_rules_deny_ask_or_allow_and_the_decision_names_the_rule(tool, arguments, outcome, rule):
    decision = decide(agent(RULES), tool, arguments)
    assert decision.outcome == outcome, decision.message
    assert decision.rule.startswith(rule)
    if outcome == "deny":
        assert decision.message.endswith("Nothing was sent to Zoho.")


def test_a_create_without_a_date_is_dated_today_as_zoho_does():
    policy = agent('    tools: ["*:*"]\n    rules:\n      - deny: date < "2026-12-01"\n        name: '
                   'future-only\n')
    assert decide(policy, "create_invoice", invoice()).rule.startswith("rule future-only")
    assert decide(policy, "create_invoice", invoice(date="2026-12-01")).outcome == "allow"


def test_an_amount_zbmcp_cannot_know_fails_closed_and_says_how_to_fix_it():
    policy = agent('    tools: ["*:*"]\n    rules:\n      - approve: amount > 100.0\n        name: big\n')
    decision = decide(policy, "create_invoice", {"customer_id": ACME, "line_items": [{"item_id": "1"}]})
    assert decision.outcome == "deny" and decision.rule.startswith("rule big")
    assert "line_items[0] has no rate" in decision.message and "give every line a rate" in decision.message


def test_the_amount_is_the_total_of_the_lines_less_their_discounts():
    request = build_request(SPECS["create_invoice"], {"customer_id": ACME, "line_items": [
        {"item_id": "1", "rate": 100, "quantity": 3, "discount": "10%"},
        {"item_id": "2", "rate": 50.5, "discount": "0.5"},
        {"item_id": "3", "rate": 0.1, "quantity": 3}]}, [ORG])
    facts = facts_of(SPECS["create_invoice"], request, TODAY)
    assert facts.amount == pytest.approx(270 + 50 + 0.3)
    assert facts.counterparty_id == ACME and facts.date == "2026-11-25" and not facts.emails


def test_rules_of_the_email_tool_apply_to_a_create_that_sends():
    policy = agent('    tools: ["invoices:*"]\n    rules:\n      - deny: emails && size(recipients) == 0\n'
                   "        name: name-the-recipients\n        tools: [email_invoice]\n")
    assert decide(policy, "create_invoice", invoice(send=True)).rule.startswith("rule name-the-recipients")
    assert decide(policy, "create_invoice", invoice()).outcome == "allow"


def test_an_argument_a_rule_reads_that_the_call_lacks_counts_against_the_call():
    policy = agent('    tools: ["*:*"]\n    rules:\n      - deny: args.payment_mode == "cash"\n        '
                   'name: no-cash\n      - allow: args.reference_number != ""\n        name: with-reference\n'
                   "        tools: [create_expense]\n")
    payment = {"customer_id": "1", "payment_mode": "cash", "amount": 1, "date": "2026-11-25",
               "invoices": [{"invoice_id": "2", "amount_applied": 1}]}
    assert decide(policy, "create_customer_payment", payment).rule.startswith("rule no-cash")
    # A deny rule that cannot read its argument refuses (fail closed), naming the fix...
    listing = decide(policy, "list_invoices", {})
    assert listing.outcome == "deny" and "could not be evaluated" in listing.message
    assert "has(args.payment_mode)" in listing.message
    # ... and an allow rule that cannot read it does not allow.
    scoped = agent('    tools: ["*:*"]\n    rules:\n      - allow: args.reference_number != ""\n'
                   "        name: with-reference\n        tools: [create_expense]\n")
    expense = {"account_id": "1", "paid_through_account_id": "2", "amount": 5, "date": "2026-11-25"}
    assert decide(scoped, "create_expense", expense).rule == "no allow rule holds (with-reference)"
    assert decide(scoped, "create_expense", {**expense, "reference_number": "R1"}).outcome == "allow"


@pytest.mark.parametrize(
    ("rule", "line", "fix"),
    [
        ('      - deny: amount >> 5\n', 12, "not a valid CEL expression"),
        ('      - deny: totl > 5.0\n', 12, "unknown variable 'totl'"),
        ('      - deny: amount > "5000"\n', 12, "No such overload"),
        ('      - approve: amount\n', 12, "must give true or false"),
        ('      - deny: amount > 1.0\n        approve: amount > 2.0\n', 12,
         "exactly one of deny, approve or allow"),
        ('      - deny: amount > 1.0\n        tools: [create_invoce]\n', 13,
         "did you mean 'create_invoice'?"),
        ('      - deny: amount > 1.0\n        name: x\n      - deny: amount > 2.0\n        name: x\n', 15,
         "'x' is also rules[0]'s name"),
        ('      - deny: nosuchfunction(amount)\n', 12, "nosuchfunction"),
    ],
)
def test_a_bad_rule_stops_start_up_with_file_line_and_fix(rule, line, fix):
    with pytest.raises(ConfigError) as info:
        agent('    tools: ["*:*"]\n    rules:\n' + rule)
    assert str(info.value).startswith(f"zbmcp.yaml:{line}:"), str(info.value)
    assert fix in str(info.value)


def test_rules_may_loop_over_recipients_with_their_own_variable():
    policy = agent('    tools: ["*:*"]\n    rules:\n      - deny: recipients.all(address, '
                   "address.size() > 60)\n        tools: [email_invoice]\n")
    assert decide(policy, "email_invoice", {"invoice_id": "1", "to_mail_ids": ["a@b.example"]}).outcome \
        == "allow"


REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
CONNECTION = "connections:\n  main:\n    region: eu\n    client_id: id\n    client_secret: secret\n"


@pytest.mark.parametrize(("document", "name"), [("README.md", "payables"), ("docs/policy.md", "payables")])
def test_the_documented_rules_load_and_decide_as_the_documents_say(document, name):
    text = (REPO / document).read_text(encoding="utf-8")
    example = next(block for block in text.split("```yaml\n")[1:] if "rules:" in block).split("```")[0]
    policy = policies(parse_config(CONNECTION + example, document, {}), SPECS)[name]
    bill = {"vendor_id": "7", "bill_number": "B-1", "date": "2026-11-25", "line_items": [{"account_id": "8"}]}
    assert decide(policy, "create_bill", {**bill, "line_items": [{"account_id": "8",
                                                                  "rate": 6000}]}).outcome == "approve"
    assert decide(policy, "create_bill", {**bill, "line_items": [{"account_id": "8", "rate": 60}]}).outcome \
        == "allow"
    assert decide(policy, "create_bill", {**bill, "date": "2025-12-31",
                                          "line_items": [{"account_id": "8", "rate": 60}]}).outcome == "deny"
    assert decide(policy, "create_invoice", invoice()).outcome in ("allow", "approve")
    assert decide(policy, "create_invoice", {**invoice(), "customer_id": "99"}).outcome == "deny"


def test_the_policy_guides_discount_rule_asks_for_any_line_discount():
    # docs/policy.md: line discounts are taken as applied, so a cautious config asks a person about them.
    policy = agent('    tools: ["invoices:*"]\n    rules:\n'
                   '      - approve: has(args.line_items) && args.line_items.exists(l, has(l.discount))\n'
                   '        name: discounts\n')
    plain = {"customer_id": ACME, "line_items": [{"item_id": "1", "quantity": 1, "rate": 100}]}
    discounted = {"customer_id": ACME, "line_items": [{"item_id": "1", "quantity": 1, "rate": 100},
                                                      {"item_id": "2", "rate": 900, "discount": "99%"}]}
    assert decide(policy, "create_invoice", plain).outcome == "allow"
    asked = decide(policy, "create_invoice", discounted)
    assert asked.outcome == "approve" and "discounts" in asked.rule
    assert decide(policy, "list_invoices", {}).outcome == "allow"  # no line_items: the rule does not hold


def test_a_rule_on_the_counterparty_reads_the_record_the_path_names_and_refuses_when_it_cannot():
    """mark_invoice_void names no customer_id: its counterparty is the invoice's customer, read before
    deciding; an invoice that could not be read leaves it unknown, and the rule refuses."""
    policy = agent(f"""\
    tools: ["invoices:*"]
    rules:
      - deny: counterparty_id == "{GLOBEX}"
        name: not-globex
""")
    request = build_request(SPECS["mark_invoice_void"], {"invoice_id": "9"}, [ORG])
    assert policy.reads_before_deciding(SPECS["mark_invoice_void"], request).document == "9"
    globex_s = Document("invoice", "9", "INV-9", "Globex", party_id=GLOBEX)
    acme_s = Document("invoice", "9", "INV-9", "Acme", party_id=ACME)
    void = SPECS["mark_invoice_void"]
    assert policy.decide(void, request, TODAY, Found(document=globex_s)).outcome == "deny"
    assert policy.decide(void, request, TODAY, Found(document=acme_s)).outcome == "allow"
    unread = policy.decide(void, request, TODAY, Found(document=Document("invoice", "9", unread="timed out")))
    assert unread.outcome == "deny" and "timed out" in unread.message
