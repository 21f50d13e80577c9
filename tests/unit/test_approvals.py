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

