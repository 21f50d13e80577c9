"""The amount a rule sees and what zbmcp reads from Zoho to know it (pure): Zoho's rounding where the
currency's precision is known, an upper bound where it is not, an update's stored charges, and unknown where
nothing bounds it. (tests/test_amounts.py compares it with the sandbox's totals.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tests.unit.test_decide import ACME, ORG, SPECS, agent
from zbmcp.calls.catalog import load_catalog
from zbmcp.core.facts import facts_of, reads_for
from zbmcp.core.found import NOTHING, Document, Found, Organization, Party, Reads, Tax
from zbmcp.core.requests import ZohoRequest, build_request

TODAY = dt.date(2026, 11, 25)
GBP = Found(Party(ACME, "Acme Corporation", "GBP"), None, Organization(ORG, "GBP", 2))
YEN = Found(Party(ACME, "Acme Corporation", "JPY"), None, Organization(ORG, "JPY", 0))


def amount(tool: str, arguments: dict[str, Any], found: Found = NOTHING) -> float | None:
    request = build_request(SPECS[tool], arguments, [ORG])
    return facts_of(SPECS[tool], request, TODAY, found).amount


def lines(*rates: float, **line: Any) -> dict[str, Any]:
    return {"customer_id": ACME, "line_items": [{"item_id": "1", "rate": rate, **line} for rate in rates]}


def test_each_line_is_rounded_in_the_currencys_precision_and_unknown_precision_counts_the_most():
    three_halves = lines(0.5, 0.5, 0.5)
    assert amount("create_invoice", three_halves, GBP) == 1.5
    assert amount("create_invoice", three_halves, YEN) == 3.0  # each 0.5 yen rounds up to 1
    assert amount("create_invoice", three_halves) == 3.0  # not knowing the currency: the most it can be
    assert amount("create_invoice", lines(4997.5, *[0.005] * 499), GBP) == 5002.49
    # another currency than the organization's: its precision is not the organization's
    euro = Found(Party(ACME, "Acme Corporation", "EUR"), None, Organization(ORG, "GBP", 2))
    assert amount("create_invoice", three_halves, euro) == 3.0


def test_an_update_adds_the_stored_charges_and_is_unknown_without_them():
    update = {"invoice_id": "9", **lines(100)}
    stored = Document("invoice", "9", "INV-9", "Acme", Decimal("150"), "GBP", 2, Decimal("12.5"),
                      Decimal("-2"))
    assert amount("update_invoice", update, Found(GBP.counterparty, stored, GBP.organization)) == 110.5
    assert amount("update_invoice", update) is None
    unread = Document("invoice", "9", unread="timed out")
    request = build_request(SPECS["update_invoice"], update, [ORG])
    facts = facts_of(SPECS["update_invoice"], request, TODAY, Found(document=unread))
    assert facts.amount is None and "could not be read from Zoho (timed out)" in (facts.amount_unknown or "")


def test_a_tax_adds_its_rate_of_each_line_as_zoho_rounds_it():
    twenty = (Tax("77", Decimal(20)),)
    taxed = Found(GBP.counterparty, None, GBP.organization, twenty)
    assert amount("create_invoice", lines(10, tax_id="77"), taxed) == 12.0
    # 20% of 10.03 is 2.006: Zoho rounds each line's tax, 2.01 twice
    assert amount("create_invoice", lines(10.03, 10.03, tax_id="77"), taxed) == 24.08
    # a third of a cent on each of three lines rounds to nothing per line; counted once it is a cent
    assert amount("create_invoice", lines(0.01, 0.01, 0.01, tax_id="77"), Found(
        GBP.counterparty, None, GBP.organization, (Tax("77", Decimal("33.4")),))) == 0.04
    # fields the tool does not offer, as Zoho would get them (tests/test_amounts.py compares with the sandbox)
    inclusive = ZohoRequest("POST", "/invoices", (("organization_id", ORG),),
                            {**lines(10, tax_id="77"), "is_inclusive_tax": True}, ORG)
    assert facts_of(SPECS["create_invoice"], inclusive, TODAY, taxed).amount == 10.0
    # the tax counts on the whole line: an upper bound when Zoho takes a discount first
    discounted = ZohoRequest("POST", "/invoices", (("organization_id", ORG),),
                             {**lines(100, tax_id="77"), "discount": "10%"}, ORG)
    assert facts_of(SPECS["create_invoice"], discounted, TODAY, taxed).amount == 110.0
    mixed = {"customer_id": ACME, "line_items": [{"item_id": "1", "rate": 10}, {"item_id": "1", "rate": 5,
                                                                               "tax_id": "77"}]}
    assert amount("create_invoice", mixed, taxed) == 16.0


def test_a_tax_not_read_makes_the_amount_unknown_and_a_rule_that_reads_it_refuses():
    policy = agent('    tools: ["*:*"]\n    rules:\n      - approve: amount > 100.0\n        name: big\n')
    taxed = lines(10, tax_id="460000000000077")
    request = build_request(SPECS["create_invoice"], taxed, [ORG])
    decision = policy.decide(SPECS["create_invoice"], request, TODAY)
    assert decision.outcome == "deny" and "the rate of tax 460000000000077 was not read" in decision.message
    unread = Found(taxes=(Tax("460000000000077", unread="Tax does not exist."),))
    facts = facts_of(SPECS["create_invoice"], request, TODAY, unread)
    assert facts.amount is None
    assert facts.amount_unknown \
        == "the rate of tax 460000000000077 could not be read from Zoho (Tax does not exist.)"


def test_zbmcp_reads_only_what_the_decision_depends_on():
    def reads(body: str, tool: str, arguments: dict[str, Any]) -> Reads:
        policy = agent(body)
        return policy.reads_before_deciding(SPECS[tool], build_request(SPECS[tool], arguments, [ORG]))

    plain = '    tools: ["invoices:*"]\n'
    amounts = plain + ("    rules:\n      - approve: amount > 5000\n"
                       "        tools: [create_invoice, update_invoice]\n")
    assert reads(plain, "create_invoice", {**lines(150), "send": True}) == Reads(counterparty=ACME)
    assert not reads(plain, "create_invoice", lines(150))
    assert not reads(plain + "    exclude: [email_invoice]\n", "create_invoice", {**lines(150), "send": True})
    assert not reads(amounts, "create_invoice", lines(150, quantity=3))  # the same at every precision
    assert reads(amounts, "create_invoice", lines(0.005)) == Reads(counterparty=ACME, organization=True)
    assert reads(amounts, "update_invoice", {"invoice_id": "9", **lines(150)}) == Reads(document="9")
    # a tax's rate, and the precision its rounding is in, when a rule reads the amount; not otherwise
    assert reads(amounts, "create_invoice", lines(150, tax_id="77")) == Reads(
        counterparty=ACME, organization=True, taxes=("77",))
    assert not reads(plain, "create_invoice", lines(150, tax_id="77"))


def test_an_agent_whose_amount_rules_meet_a_tax_id_needs_to_read_taxes():
    plain = '    tools: ["invoices:*"]\n'
    ruled = plain + "    rules:\n      - approve: amount > 5000\n        tools: [create_invoice]\n"
    elsewhere = plain + "    rules:\n      - approve: amount > 5000\n        tools: [email_invoice]\n"
    assert "ZohoBooks.settings.READ" in agent(ruled).scopes
    assert "ZohoBooks.settings.READ" not in agent(plain).scopes
    assert "ZohoBooks.settings.READ" not in agent(elsewhere).scopes


def test_credit_applied_and_refunds_count_what_they_move():
    """Applying a credit note, a vendor credit or an overpayment moves its amount_applied onto the documents;
    a refund moves its amount out of an account: a rule on `amount` sees each."""
    catalog = load_catalog()

    def applied(tool: str, arguments: dict[str, Any]) -> float | None:
        request = build_request(catalog[tool], arguments, [ORG])
        return facts_of(catalog[tool], request, TODAY, GBP).amount

    assert applied("apply_credits_to_invoice", {
        "invoice_id": "9", "apply_creditnotes": [],
        "invoice_payments": [{"payment_id": "5", "amount_applied": 120.5},
                             {"payment_id": "6", "amount_applied": 79.5}]}) == 200.0
    assert applied("apply_credit_note_to_invoice", {
        "creditnote_id": "4", "invoice_id": "9", "amount_applied": 41.82}) == 41.82
    assert applied("apply_credits_to_a_bill", {
        "vendor_credit_id": "4", "bills": [{"bill_id": "8", "amount_applied": 300}]}) == 300.0
    assert applied("create_customer_payment_refund", {
        "customer_payment_id": "5", "amount": 600, "date": "2026-11-25", "from_account_id": "3"}) == 600.0
    assert applied("apply_credits_to_invoice", {"invoice_id": "9", "apply_creditnotes": [],
                                                "invoice_payments": []}) == 0.0


def test_a_write_off_is_the_balance_read_and_unknown_unread():
    catalog = load_catalog()
    spec = catalog["write_off_invoice"]
    request = build_request(spec, {"invoice_id": "9"}, [ORG])
    assert reads_for(spec, request, amount=True, question=False).document == "9"
    assert reads_for(spec, request, amount=False, question=False).document is None
    owed = Document("invoice", "9", "INV-9", "Acme", Decimal("150"), "GBP", 2, balance=Decimal("90"))
    assert facts_of(spec, request, TODAY, Found(document=owed)).amount == 90.0
    unread = facts_of(spec, request, TODAY, Found(document=Document("invoice", "9", unread="timed out")))
    assert unread.amount is None and "timed out" in (unread.amount_unknown or "")
    assert facts_of(spec, request, TODAY).amount is None
