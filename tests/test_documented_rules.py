"""Every example rule in docs/policy.md and the README does what its comment says (#21.1): each is taken from
the document as written, given to its agent alone, and run on the sandbox against the attack its comment
names, and against the call it must let by. A rule added to the documents without an attack here fails.

The documents' customer ids (460000000000011 and ...12) stand for the sandbox's Acme Corporation and Globex.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client, types

from tests.conftest import ORG, agent, mcp_client, running
from tests.test_recipients import OUTSIDE, move_acme_email

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ("docs/policy.md", "README.md")
ACCEPT = types.ElicitResult(action="accept", content={"approve": True})
DECLINE = types.ElicitResult(action="decline")


@dataclass
class Documented:
    document: str
    agent_name: str
    agent: dict[str, Any]  # as written, with only this rule
    rule: dict[str, Any]
    comment: str  # every comment on the rule's lines

    @property
    def name(self) -> str:
        return str(self.rule.get("name", "(unnamed)"))


def documented_rules() -> list[Documented]:
    found = []
    for document in DOCUMENTS:
        text = (REPO / document).read_text(encoding="utf-8")
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
            if "rules:" not in block:
                continue
            comments = _comments_by_rule(block)
            for agent_name, settings in yaml.safe_load(block)["agents"].items():
                for rule in settings.get("rules", []):
                    expression = next(rule[kind] for kind in ("deny", "approve", "allow") if kind in rule)
                    found.append(Documented(document, agent_name, {**settings, "rules": [rule]}, rule,
                                            comments[expression]))
    return found


def _comments_by_rule(block: str) -> dict[str, str]:
    """The rule's expression -> the comments on its lines (a rule starts at `- deny|approve|allow:`)."""
    comments: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        code, _, comment = line.partition("#")
        start = re.match(r"\s*- (?:deny|approve|allow): (.*?)\s*$", code)
        if start:
            current = start.group(1)
            comments[current] = ""
        if current is not None and comment.strip():
            comments[current] = (comments[current] + " " + comment.strip()).strip()
    return {yaml.safe_load(f"x: {expression}")["x"]: text for expression, text in comments.items()}


@dataclass
class Desk:
    """The documented agent, through the SDK's client; `crm` keeps the contacts (the attack's first half)."""

    client: Client
    crm: Client
    sandbox: Any
    asked: list[str] = field(default_factory=list)
    answer: types.ElicitResult = field(default_factory=lambda: DECLINE)

    async def outcome(self, tool: str, arguments: dict[str, Any]) -> str:
        """allowed, asked (a person was asked) or denied (refused before anyone was asked)."""
        before = len(self.asked)
        result = await self.client.call_tool(tool, arguments)
        if len(self.asked) > before:
            return "asked"
        if result.is_error and result.structured_content["error"]["type"] == "PolicyDenied":
            return "denied"
        assert not result.is_error, result.content[0].text
        return "allowed"

    def ids(self) -> dict[str, str]:
        store = self.sandbox.store(ORG)
        return {"acme": store.contact_id("Acme Corporation"), "globex": store.contact_id("Globex Ltd"),
                "initech": store.contact_id("Initech"), "vendor": store.contact_id("Office Supplies Co"),
                "item": store.item_id("Consulting"), "supplies": store.account_id("Office Supplies"),
                "bank": store.account_id("Business Checking"), "invoice": store.invoice_id("INV-000001")}

    def invoice(self, customer: str = "acme", **extra: Any) -> dict[str, Any]:
        ids = self.ids()
        return {"customer_id": ids[customer], "line_items": [{"item_id": ids["item"], "rate": 150}], **extra}

    def bill(self, number: str, rates: list[float], **extra: Any) -> dict[str, Any]:
        ids = self.ids()
        return {"vendor_id": ids["vendor"], "bill_number": number,
                "line_items": [{"account_id": ids["supplies"], "rate": rate} for rate in rates], **extra}


Scenario = Callable[[Desk, Documented], Awaitable[list[tuple[str, str, str]]]]


async def big_amounts(desk: Desk, rule: Documented) -> list[tuple[str, str, str]]:
    ids, tools = desk.ids(), rule.rule["tools"]
    checks = [
        # 5,000.00 added up; 5,000.01 once Zoho rounds each line
        ("a bill whose lines round to 5,000.01", "asked",
         await desk.outcome("create_bill", desk.bill("B-1", [4999.99, 0.005, 0.005]))),
        ("a bill of 4,000", "allowed", await desk.outcome("create_bill", desk.bill("B-2", [4000]))),
    ]
    if "create_customer_payment" in tools:
        checks.append(("a customer payment of 5,000.01", "asked", await desk.outcome(
            "create_customer_payment",
            {"customer_id": ids["acme"], "payment_mode": "cash", "amount": 5000.01, "date": "2026-03-01",
             "invoices": [{"invoice_id": ids["invoice"], "amount_applied": 5000.01}]})))
    if "create_vendor_payment" in tools:
        checks.append(("a vendor payment of 5,000.01", "asked", await desk.outcome(
            "create_vendor_payment", {"vendor_id": ids["vendor"], "amount": 5000.01,
                                      "paid_through_account_id": ids["bank"]})))
    return checks


async def closed_period(desk: Desk, rule: Documented) -> list[tuple[str, str, str]]:
    ids = desk.ids()
    return [
        ("a bill dated 2025-12-31", "denied",
         await desk.outcome("create_bill", desk.bill("B-3", [10], date="2025-12-31"))),
        ("an invoice dated 2025-12-31", "denied",
         await desk.outcome("create_invoice", desk.invoice(date="2025-12-31"))),
        ("an invoice redated to 2025-12-31", "denied", await desk.outcome(
            "update_invoice", {"invoice_id": ids["invoice"], **desk.invoice(date="2025-12-31")})),
        ("a payment dated 2025-12-31", "denied", await desk.outcome(
            "create_customer_payment",
            {"customer_id": ids["acme"], "payment_mode": "cash", "amount": 1, "date": "2025-12-31",
             "invoices": [{"invoice_id": ids["invoice"], "amount_applied": 1}]})),
        ("a bill dated 2026-01-02", "allowed",
         await desk.outcome("create_bill", desk.bill("B-4", [10], date="2026-01-02"))),
    ]


async def known_customers(desk: Desk, rule: Documented) -> list[tuple[str, str, str]]:
    ids = desk.ids()
    return [
        ("an invoice for another customer", "denied", await desk.outcome("create_invoice",
                                                                           desk.invoice("initech"))),
        ("an invoice moved to another customer", "denied", await desk.outcome(
            "update_invoice", {"invoice_id": ids["invoice"], **desk.invoice("initech")})),
        ("an invoice for the customer", "allowed", await desk.outcome("create_invoice", desk.invoice())),
    ]


async def acme_addresses_only(desk: Desk, rule: Documented) -> list[tuple[str, str, str]]:
    ids = desk.ids()
    email = {"invoice_id": ids["invoice"], "to_mail_ids": ["ap@acme.example"]}
    desk.answer = ACCEPT
    checks = [
        ("an email cc'd outside", "denied",
         await desk.outcome("email_invoice", {**email, "cc_mail_ids": ["cfo@outside.example"]})),
        ("an email to acme", "allowed" if "require_approval" not in rule.agent else "asked",
         await desk.outcome("email_invoice", email)),
    ]
    await move_acme_email(desk.crm, desk.sandbox)
    checks.append(("send=true once Acme's email is moved outside", "denied",
                   await desk.outcome("create_invoice", desk.invoice(send=True))))
    assert all(OUTSIDE not in mail.to for mail in desk.sandbox.outbox)
    return checks


async def line_discounts(desk: Desk, rule: Documented) -> list[tuple[str, str, str]]:
    ids = desk.ids()
    discounted = {"customer_id": ids["acme"], "line_items": [
        {"item_id": ids["item"], "rate": 150}, {"item_id": ids["item"], "rate": 900, "discount": "10%"}]}
    return [("an invoice with a line discount", "asked", await desk.outcome("create_invoice", discounted)),
            ("an invoice without one", "allowed", await desk.outcome("create_invoice", desk.invoice()))]


async def one_recipient(desk: Desk, rule: Documented) -> list[tuple[str, str, str]]:
    ids = desk.ids()
    email = {"invoice_id": ids["invoice"], "to_mail_ids": ["ap@acme.example"]}
    checks = [("an email to two addresses", "asked", await desk.outcome(
        "email_invoice", {**email, "cc_mail_ids": ["boss@acme.example"]})),
        ("an email to one", "allowed", await desk.outcome("email_invoice", email))]
    moved = await desk.crm.call_tool("update_contact", {
        "contact_id": ids["acme"], "contact_name": "Acme Corporation",
        "contact_persons": [{"email": "ap@acme.example"}, {"email": "boss@acme.example"}]})
    assert not moved.is_error
    checks.append(("send=true to a customer with two contact persons", "asked",
                   await desk.outcome("create_invoice", desk.invoice(send=True))))
    return checks


SCENARIOS: dict[str, tuple[str, Scenario]] = {
    # rule name: (the comment it carries in the documents, the attack it names)
    "big-amounts": ("a bill or payment over 5,000 needs approval", big_amounts),
    "closed-period": ("dated before the open period", closed_period),
    "known-customers": ("invoices only for", known_customers),
    "acme-addresses-only": ("applies to create_invoice with send=true too", acme_addresses_only),
    "line-discounts": ("any line discount", line_discounts),
    "one-recipient": ("an email to more than one address", one_recipient),
}
DOCUMENTED = documented_rules()


def test_every_documented_rule_has_its_attack_here():
    assert {rule.name for rule in DOCUMENTED} == set(SCENARIOS)
    for rule in DOCUMENTED:
        assert SCENARIOS[rule.name][0] in rule.comment, (rule.document, rule.name, rule.comment)


@pytest.mark.parametrize("rule", DOCUMENTED, ids=[f"{r.document}:{r.name}" for r in DOCUMENTED])
async def test_a_documented_rule_does_what_its_comment_says(make_config, sandbox, rule):
    ids = {"460000000000011": sandbox.store(ORG).contact_id("Acme Corporation"),
           "460000000000012": sandbox.store(ORG).contact_id("Globex Ltd")}
    documented = yaml.safe_load(re.sub(r"4600000000000(11|12)", lambda m: ids[m.group(0)],
                                       yaml.safe_dump(rule.agent)))
    loaded = make_config({rule.agent_name: documented, "crm": agent(["contacts:*"])})
    desk: Desk

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        desk.asked.append(params.message)
        return desk.answer

    async with running(loaded, sandbox) as runtime, \
            mcp_client(runtime, rule.agent_name, elicitation_callback=person) as client, \
            mcp_client(runtime, "crm") as crm:
        desk = Desk(client, crm, sandbox)
        checks = await SCENARIOS[rule.name][1](desk, rule)
    wrong = [(what, expected, got) for what, expected, got in checks if expected != got]
    assert not wrong, f"{rule.document} {rule.name} ({rule.comment}): {wrong}"
