"""The question a person answers: facts first and whole, free text last, shortened and unable to pose as a
fact; a structured value a console can reuse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from zbmcp.errors import InvalidArguments
from zbmcp.core.facts import facts_of
from zbmcp.core.found import NOTHING, Document, Found, Organization, Party, Person
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.question import QUESTION_LIMIT, build_question, still_holds
from zbmcp.core.requests import build_request

SPECS = load_manifests()
URL = "https://www.zohoapis.eu/books/v3/invoices/460000000000001/email"


def question_for(tool: str, arguments: dict, reasons=("require_approval: email_invoice",), found=NOTHING,
                 asked_by=None):
    spec = SPECS[tool]
    request = build_request(spec, arguments, ["10234695"])
    facts = facts_of(spec, request, dt.date(2026, 11, 25), found)
    return build_question("bookkeeper", spec, request, URL, facts, reasons, asked_by)


ACME = Party("460000000000011", "Acme Corporation", "EUR",
             (Person("jane.smith@acme.example", "Jane Smith", True), Person("ap@acme.example", "", False)))


def test_a_long_body_sent_first_never_hides_a_recipient():
    arguments = {"body": "Dear customer, " + "x" * 5000, "invoice_id": "460000000000001",
                 "subject": "Invoice INV-000042", "to_mail_ids": ["ap@acme.example", "boss@acme.example"],
                 "cc_mail_ids": ["someone@outside.example", "another@outside.example"]}
    text = question_for("email_invoice", arguments).text()
    assert len(text) <= QUESTION_LIMIT
    for address in ("ap@acme.example", "boss@acme.example", "someone@outside.example",
                    "another@outside.example"):
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


def test_a_create_that_sends_shows_the_amount_the_effect_and_whom_zoho_will_email():
    question = question_for("create_invoice", {
        "customer_id": "460000000000011", "send": True, "notes": "n" * 3000,
        "line_items": [{"item_id": "1", "rate": 1500, "quantity": 2, "description": "d" * 500}]},
        reasons=("require_approval: email_invoice (create_invoice with send emails like it)",),
        found=Found(ACME, None, Organization("10234695", "EUR", 2)),
        asked_by="alice@acme.example (signed in)")
    text = question.text()
    assert "Amount: 3,000.00 EUR." in text
    assert "Effect: send = true (makes Zoho email someone)." in text
    assert ("Emails: the contact persons Zoho has for Acme Corporation (460000000000011), as read from Zoho "
            "for this question: jane.smith@acme.example (Jane Smith, primary contact person); "
            "ap@acme.example (contact person).") in text
    assert "Counterparty: Acme Corporation (460000000000011)." in text and "Date: 2026-11-25." in text
    assert "Asked by: alice@acme.example (signed in)." in text
    assert '"rate":1500' in text and '"quantity":2' in text  # every other argument, in full...
    assert "d" * 100 not in text  # ... but a line's description is free text, shortened
    assert text.index("Amount") < text.index("notes: ")


def test_free_text_cannot_pose_as_a_line_of_the_question():
    forged = "Thanks.\nEmails: to ap@acme.example.\nApprove?"
    text = question_for("email_invoice", {"invoice_id": "1", "to_mail_ids": ["x@outside.example"],
                                          "body": forged}).text()
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("Emails: ")] == ["Emails: to x@outside.example."]
    assert lines.count("Approve?") == 1 and lines[-1] == "Approve?"
    assert 'body: "Thanks.\\nEmails: to ap@acme.example.\\nApprove?"' in text


@pytest.mark.parametrize("address", ["a@b.example\nAsked because: nothing", "Boss <boss@acme.example>",
                                     "a@b", "a b@c.example", "a@b.example,c@d.example"])
def test_a_recipient_must_be_one_plain_address(address):
    with pytest.raises(InvalidArguments) as refused:
        build_request(SPECS["email_invoice"], {"invoice_id": "1", "to_mail_ids": ["ok@acme.example"],
                                               "cc_mail_ids": [address]}, ["10234695"])
    assert refused.value.fields == ["cc_mail_ids[0]"]


def test_what_could_not_be_read_shows_the_id_and_says_so_and_never_names_a_guess():
    unread = Party("460000000000011", unread="Zoho answered 401: not authorized")
    question = question_for("create_invoice", {"customer_id": "460000000000011", "send": True,
                                               "line_items": [{"item_id": "1", "rate": 10}]},
                            found=Found(unread))
    text = question.text()
    assert ("Counterparty: 460000000000011 (its name could not be read from Zoho: Zoho answered 401: not "
            "authorized).") in text
    assert ("Emails: unknown: the contact persons of 460000000000011 could not be read from Zoho (Zoho "
            "answered 401: not authorized); zbmcp treats it as emailing anyone.") in text
    assert "Amount: 10.00 (currency unknown)." in text


def test_a_call_on_a_document_shows_its_number_customer_and_total():
    invoice = Document("invoice", "460000000000001", "INV-000042", "Acme Corporation", Decimal("5002.5"),
                       "EUR")
    email = {"invoice_id": "460000000000001", "to_mail_ids": ["ap@acme.example"]}
    text = question_for("email_invoice", email, found=Found(document=invoice)).text()
    assert ("Document: invoice INV-000042 (460000000000001) for Acme Corporation, total 5,002.50 EUR."
            in text)
    assert "Emails: to ap@acme.example." in text
    unread = Document("invoice", "460000000000001", unread="Zoho did not answer within 15 s")
    text = question_for("email_invoice", email, found=Found(document=unread)).text()
    assert ("Document: invoice 460000000000001 (it could not be read from Zoho: Zoho did not answer within "
            "15 s).") in text


def test_an_approval_holds_only_while_what_was_read_stays_the_same():
    base = {"customer_id": "460000000000011", "send": True, "line_items": [{"item_id": "1", "rate": 10}]}
    approved = question_for("create_invoice", base, found=Found(ACME)).seen()
    outside = Party(ACME.id, ACME.name, ACME.currency, (Person("x@evil.example", "", True),))
    assert still_holds(approved, question_for("create_invoice", base, found=Found(ACME)).seen())
    assert not still_holds(approved, question_for("create_invoice", base, found=Found(outside)).seen())
    # recipients known when approved and unknown now: not the recipients a person approved
    unread = Party(ACME.id, unread="timed out")
    assert not still_holds(approved, question_for("create_invoice", base, found=Found(unread)).seen())
    # approved while unknown ("treated as emailing anyone"): holds once they are known
    assert still_holds(question_for("create_invoice", base, found=Found(unread)).seen(), approved)
