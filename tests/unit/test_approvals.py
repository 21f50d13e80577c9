"""Approval tickets (2026-07-28 era): bound to one call, single use, expiring, shareable between replicas."""

from __future__ import annotations

from zbmcp.approvals import ApprovalTickets
from zbmcp.manifest import load_manifests

EMAIL = load_manifests()["email_invoice"]
CALL = {"invoice_id": "460000000000001", "to_mail_ids": ["ap@acme.example"]}


def test_a_ticket_approves_exactly_its_call_once():
    tickets = ApprovalTickets()
    ticket = tickets.issue("bookkeeper", EMAIL, CALL)
    assert not tickets.redeem(ticket, "bookkeeper", EMAIL, {**CALL, "to_mail_ids": ["x@evil.example"]})
    assert not tickets.redeem(ticket, "other-agent", EMAIL, CALL)
    assert tickets.redeem(ticket, "bookkeeper", EMAIL, CALL)
    assert not tickets.redeem(ticket, "bookkeeper", EMAIL, CALL)  # a replay asks the person again


def test_a_ticket_expires_and_a_forged_one_is_refused():
    now = [1_000_000.0]
    tickets = ApprovalTickets(clock=lambda: now[0], ttl=600)
    ticket = tickets.issue("bookkeeper", EMAIL, CALL)
    now[0] += 601
    assert not tickets.redeem(ticket, "bookkeeper", EMAIL, CALL)
    nonce, expires, _ = tickets.issue("bookkeeper", EMAIL, CALL).split(".")
    assert not tickets.redeem(f"{nonce}.{expires}.forged", "bookkeeper", EMAIL, CALL)
    assert not tickets.redeem("garbage", "bookkeeper", EMAIL, CALL)


def test_replicas_sharing_a_secret_accept_each_others_tickets():
    asking, answering, stranger = ApprovalTickets(b"k" * 32), ApprovalTickets(b"k" * 32), ApprovalTickets()
    ticket = asking.issue("bookkeeper", EMAIL, CALL)
    assert not stranger.redeem(ticket, "bookkeeper", EMAIL, CALL)
    assert answering.redeem(ticket, "bookkeeper", EMAIL, CALL)


# --- the question a person reads ------------------------------------------------------------------------------

import datetime as dt  # noqa: E402

from zbmcp.approvals import QUESTION_LIMIT, build_question  # noqa: E402
from zbmcp.facts import facts_of  # noqa: E402
from zbmcp.requests import build_request  # noqa: E402

SPECS = load_manifests()
URL = "https://www.zohoapis.eu/books/v3/invoices/460000000000001/email"


def question_for(tool: str, arguments: dict, reasons=("require_approval: email_invoice",)):
    spec = SPECS[tool]
    request = build_request(spec, arguments, ["10234695"])
    return build_question("bookkeeper", spec, request, URL, facts_of(spec, request, dt.date(2026, 11, 25)), reasons)


def test_a_long_body_sent_first_never_hides_a_recipient():
    arguments = {"body": "Dear customer, " + "x" * 5000, "invoice_id": "460000000000001",
                 "subject": "Invoice INV-000042", "to_mail_ids": ["ap@acme.example", "boss@acme.example"],
                 "cc_mail_ids": ["someone@outside.example", "another@outside.example"]}
    text = question_for("email_invoice", arguments).text()
    assert len(text) <= QUESTION_LIMIT
    for address in ("ap@acme.example", "boss@acme.example", "someone@outside.example", "another@outside.example"):
        assert address in text
    assert text.index("someone@outside.example") < text.index("Dear customer")  # facts first, free text last
    assert "Invoice INV-000042" in text and "more characters)" in text
    assert "organization 10234695" in text and "email_invoice" in text and "460000000000001" in text


def test_the_question_is_structured_for_a_console_and_keeps_the_full_text():
    question = question_for("email_invoice", {"invoice_id": "1", "to_mail_ids": ["a@acme.example"],
                                              "body": "y" * 5000})
    assert question.recipients.to == ("a@acme.example",) and question.emails
    assert dict(question.free_text)["body"] == "y" * 5000  # only text() shortens
    assert question.organization == "10234695" and question.tool == "email_invoice"


def test_a_create_that_sends_shows_the_amount_the_effect_and_who_chooses_the_recipients():
    question = question_for("create_invoice", {
        "customer_id": "460000000000011", "send": True, "notes": "n" * 3000,
        "line_items": [{"item_id": "1", "rate": 1500, "quantity": 2, "description": "d" * 500}]},
        reasons=("require_approval: email_invoice (create_invoice with send emails like it)",))
    text = question.text()
    assert "Amount: 3,000.00." in text
    assert "Effect: send = true (makes Zoho email someone)." in text
    assert "the addresses Zoho has for the customer" in text
    assert "Counterparty: 460000000000011." in text and "Date: 2026-11-25." in text
    assert '"rate":1500' in text and '"quantity":2' in text  # every other argument, in full...
    assert "d" * 100 not in text  # ... but a line's description is free text, shortened
    assert text.index("Amount") < text.index("notes: ")
