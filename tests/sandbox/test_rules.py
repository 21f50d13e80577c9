"""Business rules: the invoice state machine, emails to the outbox, payments and what they refuse, 1002s."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx2
import pytest

from tests.sandbox.conftest import ORG, error, ok
from zbmcp.sandbox import Sandbox


async def _invoice(books: httpx2.AsyncClient, sandbox: Sandbox, customer: str = "Acme Corporation",
                   total: float = 300.0, *, sent: bool = False, **params: str) -> dict[str, Any]:
    view = sandbox.store(ORG)
    body = ok(await books.post("invoices", params=params, json={
        "customer_id": view.contact_id(customer), "line_items": [_line(sandbox, total)]}), 201)
    invoice: dict[str, Any] = body["invoice"]
    if sent:
        ok(await books.post(f"invoices/{invoice['invoice_id']}/status/sent"))
    return invoice


def _line(sandbox: Sandbox, rate: float) -> dict[str, Any]:
    return {"item_id": sandbox.store(ORG).item_id("Consulting"), "name": "Work", "rate": rate}


async def _pay(books: httpx2.AsyncClient, sandbox: Sandbox, invoice: dict[str, Any], amount: float,
               applied: float | None = None, customer: str = "Acme Corporation") -> httpx2.Response:
    return await books.post("customerpayments", json={
        "customer_id": sandbox.store(ORG).contact_id(customer), "payment_mode": "banktransfer",
        "amount": amount, "date": invoice["date"], "invoices": [{"invoice_id": invoice["invoice_id"],
                                            "amount_applied": amount if applied is None else applied}]})


def _status(sandbox: Sandbox, invoice: dict[str, Any]) -> tuple[str, float]:
    stored = sandbox.store(ORG).invoices[invoice["invoice_id"]]
    return stored["status"], stored["balance"]


async def test_invoices_start_as_drafts_and_mark_sent_moves_them(books: httpx2.AsyncClient,
                                                                 sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox)
    assert _status(sandbox, invoice) == ("draft", 300.0)
    ok(await books.post(f"invoices/{invoice['invoice_id']}/status/sent"))
    assert _status(sandbox, invoice) == ("sent", 300.0)
    assert sandbox.outbox == []  # marking sent emails nobody


async def test_send_true_on_create_sends_it_with_an_outbox_entry(books: httpx2.AsyncClient,
                                                                  sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, send="true")
    assert invoice["status"] == "sent" and invoice["is_emailed"] is True
    [email] = sandbox.outbox
    assert (email.document_type, email.document_id, email.to) == ("invoice", invoice["invoice_id"],
                                                                  ["jane.smith@acme.example"])
    assert email.organization_id == ORG and invoice["invoice_number"] in email.subject


async def test_send_true_for_a_customer_without_email_creates_nothing(books: httpx2.AsyncClient,
                                                                       sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    before = view.invoices
    response = await books.post("invoices", params={"send": "true"}, json={
        "customer_id": view.contact_id("Initech"), "line_items": [_line(sandbox, 1)]})
    assert "to_mail_ids" in error(response, 400, 4)
    assert sandbox.store(ORG).invoices == before and sandbox.outbox == []


@pytest.mark.parametrize("send", [True, "true"])
async def test_send_in_the_body_emails_too(books: httpx2.AsyncClient, sandbox: Sandbox, send: object) -> None:
    """Zoho's invoices file documents send as a body field as well as a query parameter."""
    view = sandbox.store(ORG)
    invoice = ok(await books.post("invoices", json={
        "customer_id": view.contact_id("Acme Corporation"), "line_items": [_line(sandbox, 10)], "send": send,
        "custom_subject": "Our invoice", "custom_body": "Thanks!"}), 201)["invoice"]
    assert invoice["status"] == "sent" and invoice["is_emailed"] is True
    [email] = sandbox.outbox
    assert (email.document_id, email.to, email.subject, email.body) == (
        invoice["invoice_id"], ["jane.smith@acme.example"], "Our invoice", "Thanks!")


async def test_send_false_or_a_bad_send_emails_nobody(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    body = {"customer_id": view.contact_id("Acme Corporation"), "line_items": [_line(sandbox, 10)]}
    draft = ok(await books.post("invoices", json={**body, "send": False}), 201)["invoice"]
    assert draft["status"] == "draft"
    before = sandbox.store(ORG).invoices
    assert "send" in error(await books.post("invoices", json={**body, "send": "yes"}), 400, 2)
    assert sandbox.outbox == [] and sandbox.store(ORG).invoices == before


async def test_send_in_the_body_of_an_estimate_emails_it(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    estimate = ok(await books.post("estimates", json={
        "customer_id": view.contact_id("Globex Ltd"), "line_items": [{"name": "Plan", "rate": 500}],
        "send": True}), 201)["estimate"]
    assert estimate["status"] == "sent"
    [email] = sandbox.outbox
    assert (email.document_type, email.document_id, email.to) == (
        "estimate", estimate["estimate_id"], ["hank.scorpio@globex.example"])


async def test_a_payment_with_contact_persons_emails_them_a_thank_you(books: httpx2.AsyncClient,
                                                                      sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    acme = sandbox.store(ORG).contacts[sandbox.store(ORG).contact_id("Acme Corporation")]
    person = acme["contact_persons"][0]["contact_person_id"]
    payment = ok(await books.post("customerpayments", json={
        "customer_id": acme["contact_id"], "payment_mode": "cash", "amount": 300, "date": invoice["date"],
        "contact_persons": [person], "invoices": [{"invoice_id": invoice["invoice_id"],
                                                   "amount_applied": 300}]}),
        201)["payment"]
    [email] = sandbox.outbox
    assert (email.document_type, email.document_id, email.to) == (
        "payment", payment["payment_id"], ["jane.smith@acme.example"])
    assert "Thank you for your payment" in email.body


async def test_a_thank_you_to_someone_elses_contact_person_records_nothing(books: httpx2.AsyncClient,
                                                                          sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    view = sandbox.store(ORG)
    globex = view.contacts[view.contact_id("Globex Ltd")]
    response = await books.post("customerpayments", json={
        "customer_id": view.contact_id("Acme Corporation"), "payment_mode": "cash", "amount": 300,
        "date": invoice["date"], "contact_persons": [globex["contact_persons"][0]["contact_person_id"]],
        "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 300}]})
    assert "contact_persons" in error(response, 400, 2)
    assert sandbox.outbox == [] and sandbox.store(ORG).payments == view.payments
    assert _status(sandbox, invoice) == ("sent", 300.0)


async def test_email_sends_a_draft_and_records_the_email(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox)
    ok(await books.post(f"invoices/{invoice['invoice_id']}/email", json={
        "to_mail_ids": ["ap@acme.example"], "cc_mail_ids": ["boss@acme.example"], "subject": "Your invoice",
        "body": "Please pay."}))
    assert _status(sandbox, invoice) == ("sent", 300.0)
    assert sandbox.store(ORG).invoices[invoice["invoice_id"]]["is_emailed"] is True
    [email] = sandbox.outbox
    assert (email.to, email.cc, email.subject, email.body) == (["ap@acme.example"], ["boss@acme.example"],
                                                               "Your invoice", "Please pay.")


async def test_email_defaults_to_the_customers_address_and_needs_one(books: httpx2.AsyncClient,
                                                                     sandbox: Sandbox) -> None:
    acme = await _invoice(books, sandbox)
    ok(await books.post(f"invoices/{acme['invoice_id']}/email"))
    assert sandbox.outbox[-1].to == ["jane.smith@acme.example"]
    initech = await _invoice(books, sandbox, customer="Initech")
    assert error(await books.post(f"invoices/{initech['invoice_id']}/email", json={}), 400, 4) == (
        "to_mail_ids is required.")
    assert _status(sandbox, initech) == ("draft", 300.0) and len(sandbox.outbox) == 1
    error(await books.post(f"invoices/{initech['invoice_id']}/email", json={"to_mail_ids": ["not-an-email"]}),
          400, 2)
    ok(await books.post(f"invoices/{initech['invoice_id']}/email",
                        json={"to_mail_ids": ["bill@initech.example"]}))
    assert sandbox.outbox[-1].to == ["bill@initech.example"] and _status(sandbox, initech)[0] == "sent"


async def test_email_an_estimate(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    estimate = view.find("estimates", status="draft")
    assert estimate is not None and estimate["customer_name"] == "Globex Ltd"
    ok(await books.post(f"estimates/{estimate['estimate_id']}/email"))
    assert sandbox.store(ORG).estimates[estimate["estimate_id"]]["status"] == "sent"
    [email] = sandbox.outbox
    assert (email.document_type, email.document_number, email.to) == (
        "estimate", estimate["estimate_number"], ["hank.scorpio@globex.example"])


async def test_payments_move_an_invoice_to_partially_paid_then_paid(books: httpx2.AsyncClient,
                                                                   sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    first = ok(await _pay(books, sandbox, invoice, 100), 201)["payment"]
    assert _status(sandbox, invoice) == ("partially_paid", 200.0)
    assert first["invoices"][0]["balance_amount"] == 200.0
    ok(await _pay(books, sandbox, invoice, 200), 201)
    assert _status(sandbox, invoice) == ("paid", 0.0)
    stored = sandbox.store(ORG).invoices[invoice["invoice_id"]]
    assert stored["payment_made"] == 300.0 and len(stored["payments"]) == 2


async def test_over_applying_is_refused_and_changes_nothing(books: httpx2.AsyncClient,
                                                            sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    ok(await _pay(books, sandbox, invoice, 100), 201)
    payments_before = sandbox.store(ORG).payments
    message = error(await _pay(books, sandbox, invoice, 250), 400, 24016)
    assert message == "The amount entered is more than the balance due for this invoice."
    assert _status(sandbox, invoice) == ("partially_paid", 200.0)
    assert sandbox.store(ORG).payments == payments_before


async def test_applying_more_than_the_payment_is_refused(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    message = error(await _pay(books, sandbox, invoice, 50, applied=80), 400, 9999)
    assert "more than the amount of the payment" in message
    assert _status(sandbox, invoice) == ("sent", 300.0)


async def test_a_payment_leaves_its_unapplied_rest_as_credit(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    payment = ok(await _pay(books, sandbox, invoice, 500, applied=300), 201)["payment"]
    assert payment["unused_amount"] == 200.0 and _status(sandbox, invoice) == ("paid", 0.0)
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    assert sandbox.store(ORG).contacts[acme]["unused_credits_receivable_amount"] == 200.0


async def test_a_payment_must_be_for_the_invoices_customer(books: httpx2.AsyncClient,
                                                           sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, customer="Globex Ltd", sent=True)
    assert "does not belong" in error(await _pay(books, sandbox, invoice, 10), 400, 3004)
    assert _status(sandbox, invoice) == ("sent", 300.0)


async def test_a_draft_invoice_cannot_be_paid(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox)
    assert "Mark it as sent first" in error(await _pay(books, sandbox, invoice, 10), 400, 9999)
    assert _status(sandbox, invoice) == ("draft", 300.0)
    # not in books
    assert all(entry.source_id != invoice["invoice_id"] for entry in sandbox.store(ORG).journal())


async def test_deleting_a_payment_restores_balances_and_status(books: httpx2.AsyncClient,
                                                               sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0)
    ok(await books.post(f"invoices/{invoice['invoice_id']}/status/sent"))
    keep = ok(await _pay(books, sandbox, invoice, 100), 201)["payment"]
    drop = ok(await _pay(books, sandbox, invoice, 200), 201)["payment"]
    ok(await books.delete(f"customerpayments/{drop['payment_id']}"))
    assert _status(sandbox, invoice) == ("partially_paid", 200.0)
    ok(await books.delete(f"customerpayments/{keep['payment_id']}"))
    assert _status(sandbox, invoice) == ("sent", 300.0)
    stored = sandbox.store(ORG).invoices[invoice["invoice_id"]]
    assert stored["payment_made"] == 0.0 and stored["last_payment_date"] == "" and stored["payments"] == []


async def test_an_invoice_with_payments_cannot_be_deleted(books: httpx2.AsyncClient,
                                                          sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, sent=True)
    payment = ok(await _pay(books, sandbox, invoice, 10), 201)["payment"]
    assert "Payments have been recorded" in error(await books.delete(f"invoices/{invoice['invoice_id']}"),
                                                  400, 4001)
    assert invoice["invoice_id"] in sandbox.store(ORG).invoices
    ok(await books.delete(f"customerpayments/{payment['payment_id']}"))
    ok(await books.delete(f"invoices/{invoice['invoice_id']}"))


async def test_an_invoice_cannot_drop_below_what_was_paid(books: httpx2.AsyncClient,
                                                          sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    ok(await _pay(books, sandbox, invoice, 200), 201)
    response = await books.put(f"invoices/{invoice['invoice_id']}",
                               json={"line_items": [_line(sandbox, 150)]})
    assert "cannot be less than the payments" in error(response, 400, 9999)  # Zoho documents no code
    assert _status(sandbox, invoice) == ("partially_paid", 100.0)
    ok(await books.put(f"invoices/{invoice['invoice_id']}", json={"line_items": [_line(sandbox, 250)]}))
    assert _status(sandbox, invoice) == ("partially_paid", 50.0)


async def test_a_paid_invoice_keeps_its_customer(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    ok(await _pay(books, sandbox, invoice, 100), 201)
    moved = await books.put(f"invoices/{invoice['invoice_id']}", json={
        "customer_id": sandbox.store(ORG).contact_id("Globex Ltd"), "line_items": [_line(sandbox, 300)]})
    assert error(moved, 400, 3010) == ("The customer for this invoice cannot be changed because payments "
                                       "have been recorded for this invoice")


async def test_a_payment_cannot_be_dated_before_its_invoice(books: httpx2.AsyncClient,
                                                            sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    day_before = (date.fromisoformat(invoice["date"]) - timedelta(days=1)).isoformat()
    refused = await books.post("customerpayments", json={
        "customer_id": invoice["customer_id"], "payment_mode": "cash", "amount": 100, "date": day_before,
        "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 100}]})
    assert f"is before the date of invoice {invoice['invoice_number']}" in error(refused, 400, 9999)
    assert _status(sandbox, invoice) == ("sent", 300.0)


async def test_void_and_back_to_draft(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    invoice = await _invoice(books, sandbox)
    path = f"invoices/{invoice['invoice_id']}"
    error(await books.post(f"{path}/status/draft"), 400, 9999)
    assert ok(await books.post(f"{path}/status/void"))["message"] \
        == "Invoice status has been changed to Void."
    assert _status(sandbox, invoice)[0] == "void"
    error(await books.post(f"{path}/status/sent"), 400, 9999)
    error(await _pay(books, sandbox, invoice, 10), 400, 9999)
    ok(await books.post(f"{path}/status/draft"))
    assert _status(sandbox, invoice)[0] == "draft"
    ok(await books.post(f"{path}/status/sent"))
    assert _status(sandbox, invoice) == ("sent", 300.0)
    ok(await books.post(f"{path}/status/void"))
    assert _status(sandbox, invoice) == ("void", 0.0)  # a void invoice owes nothing


async def test_voiding_an_invoice_turns_its_payments_into_customer_credit(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    """Zoho's file: "Upon voiding, the payments and credits associated with the invoices will be unassociated
    and will be under customer credits"."""
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    credit_before = ok(await books.get(f"contacts/{acme}"))["contact"]["unused_credits_receivable_amount"]
    invoice = await _invoice(books, sandbox, total=300.0, sent=True)
    other = await _invoice(books, sandbox, total=300.0, sent=True)
    payment = ok(await books.post("customerpayments", json={
        "customer_id": acme, "payment_mode": "cash", "amount": 250, "date": invoice["date"],
        "invoices": [{"invoice_id": invoice["invoice_id"], "amount_applied": 200},
                     {"invoice_id": other["invoice_id"], "amount_applied": 50}]}), 201)["payment"]
    ok(await books.post(f"invoices/{invoice['invoice_id']}/status/void"))
    voided = ok(await books.get(f"invoices/{invoice['invoice_id']}"))["invoice"]
    kept = ok(await books.get(f"customerpayments/{payment['payment_id']}"))["payment"]
    contact = ok(await books.get(f"contacts/{acme}"))["contact"]
    assert (voided["status"], voided["balance"], voided["payment_made"], voided["payments"]) == \
        ("void", 0.0, 0.0, [])
    assert kept["amount"] == 250.0 and kept["unused_amount"] == 200.0
    assert [entry["invoice_id"] for entry in kept["invoices"]] == [other["invoice_id"]]
    assert kept["invoice_number"] == other["invoice_number"]
    assert contact["unused_credits_receivable_amount"] == credit_before + 200.0
    assert _status(sandbox, other) == ("partially_paid", 250.0)  # the other invoice keeps its part


async def test_outstanding_amounts_follow_invoices(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    before = ok(await books.get(f"contacts/{acme}"))["contact"]["outstanding_receivable_amount"]
    assert before == 688.0  # INV-000003, 1188 less 500 paid
    invoice = await _invoice(books, sandbox, total=300.0)
    # draft
    assert ok(await books.get(f"contacts/{acme}"))["contact"]["outstanding_receivable_amount"] == 688.0
    ok(await books.post(f"invoices/{invoice['invoice_id']}/status/sent"))
    assert ok(await books.get(f"contacts/{acme}"))["contact"]["outstanding_receivable_amount"] == 988.0


async def test_a_contact_with_transactions_cannot_be_deleted(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    assert error(await books.delete(f"contacts/{acme}"), 400, 3000) == \
        "This contact cannot be deleted since you have recorded transactions for it"
    assert acme in sandbox.store(ORG).contacts
    error(await books.put(f"contacts/{acme}", json={"contact_type": "vendor"}), 400, 9999)
    assert sandbox.store(ORG).contacts[acme]["contact_type"] == "customer"


async def test_contact_persons_are_replaced_and_set_the_email(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    initech = sandbox.store(ORG).contact_id("Initech")
    body = ok(await books.put(f"contacts/{initech}", json={"contact_persons": [
        {"first_name": "Peter", "last_name": "Gibbons", "email": "peter@initech.example"}]}))["contact"]
    assert body["email"] == "peter@initech.example" and len(body["contact_persons"]) == 1
    assert body["contact_persons"][0]["is_primary_contact"] is True
    invoice = await _invoice(books, sandbox, customer="Initech")
    ok(await books.post(f"invoices/{invoice['invoice_id']}/email"))
    assert sandbox.outbox[-1].to == ["peter@initech.example"]


@pytest.mark.parametrize("method, path, thing", [
    ("GET", "invoices/1", "Invoice"), ("PUT", "invoices/1", "Invoice"), ("DELETE", "invoices/1", "Invoice"),
    ("POST", "invoices/1/status/sent", "Invoice"), ("POST", "invoices/1/email", "Invoice"),
    ("GET", "contacts/1", "Contact"), ("PUT", "contacts/1", "Contact"), ("DELETE", "contacts/1", "Contact"),
    ("GET", "estimates/1", "Estimate"), ("POST", "estimates/1/email", "Estimate"),
    ("GET", "salesorders/1", "Sales Order"), ("GET", "purchaseorders/1", "Purchase Order"),
    ("GET", "bills/1", "Bill"), ("GET", "expenses/1", "Expense"), ("GET", "items/1", "Item"),
    ("GET", "customerpayments/1", "Customer payment"), ("DELETE", "customerpayments/1", "Customer payment"),
    ("GET", "bankaccounts/1", "Account"), ("GET", "chartofaccounts/1", "Account"),
])
async def test_unknown_ids_are_404_code_1002(books: httpx2.AsyncClient, method: str, path: str,
                                             thing: str) -> None:
    body = {"reference_number": "x"} if method == "PUT" else None
    response = await books.request(method, path, json=body)
    assert error(response, 404, 1002) == f"{thing} does not exist."


async def test_a_chart_account_that_is_not_a_bank_account_is_not_one(books: httpx2.AsyncClient,
                                                                     sandbox: Sandbox) -> None:
    rent = sandbox.store(ORG).account_id("Rent Expense")
    error(await books.get(f"bankaccounts/{rent}"), 404, 1002)
    ok(await books.get(f"chartofaccounts/{rent}"))


async def test_portal_access_emails_an_invitation_once(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    created = ok(await books.post("contacts", json={
        "contact_name": "Portal Ltd", "contact_persons": [
            {"first_name": "Pat", "email": "pat@portal.example", "enable_portal": True},
            {"first_name": "Quinn", "email": "quinn@portal.example"}]}), 201)["contact"]
    [invitation] = sandbox.outbox
    assert (invitation.document_type, invitation.document_id, invitation.to) == (
        "portal_invitation", created["contact_id"], ["pat@portal.example"])
    persons = created["contact_persons"]
    ok(await books.put(f"contacts/{created['contact_id']}", json={"contact_persons": [
        {**persons[0]}, {**persons[1], "enable_portal": True}]}))
    assert [email.to for email in sandbox.outbox] == [["pat@portal.example"], ["quinn@portal.example"]]


async def test_portal_access_for_a_person_without_an_email_stores_nothing(books: httpx2.AsyncClient,
                                                                          sandbox: Sandbox) -> None:
    before = sandbox.store(ORG).contacts
    response = await books.post("contacts", json={"contact_name": "Nomail Ltd", "is_portal_enabled": True,
                                                  "contact_persons": [{"first_name": "Nora"}]})
    assert "contact_persons[0].enable_portal" in error(response, 400, 2)
    assert sandbox.store(ORG).contacts == before and sandbox.outbox == []


async def test_a_contact_type_zoho_does_not_have_is_refused_not_answered_empty(
        books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    """Zoho's file allows customer and vendor; "supplier" answered with an empty list would read as "no
    suppliers"."""
    assert error(await books.get("contacts", params={"contact_type": "supplier"}), 400, 2) == \
        "Invalid value passed for contact_type"
    vendors = ok(await books.get("contacts", params={"contact_type": "vendor"}))["contacts"]
    assert {row["contact_type"] for row in vendors} == {"vendor"} and vendors
