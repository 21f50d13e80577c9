"""A console approval names and binds the person who asked (#21.8): two people signed in as one agent make the
identical call; the operator approves Alice's, and Sam's identical call does not take it."""

from __future__ import annotations

import html

import httpx2

from tests.console.conftest import OLIVIA, sign_in
from tests.oauth_server.conftest import ALICE, SAM, connector, person, signed_in
from tests.test_approval_inbox import pending
from tests.conftest import ORG


async def test_one_persons_approval_is_not_taken_by_another_persons_identical_call(make_config, sandbox):
    agents = {"bookkeeper": person(["invoices:*"], [ALICE, SAM], require_approval=["email_invoice"])}
    async with connector(make_config, sandbox, agents, operators={"olivia": OLIVIA},
                         console={"hold_seconds": 0}) as zb:
        invoice_id = sandbox.store(ORG).invoice_id("INV-000001")
        arguments = {"organization_id": ORG, "invoice_id": invoice_id, "to_mail_ids": ["ap@acme.example"]}
        async with signed_in(zb, ALICE, mode="legacy") as alice, signed_in(zb, SAM, mode="legacy") as sam:
            await alice.call_tool("email_invoice", arguments)
            [held] = await pending(zb.runtime.inbox)
            async with httpx2.AsyncClient(timeout=10) as console:
                await sign_in(console, zb.url)
                card = html.unescape((await console.get(f"{zb.url}/console/approvals/{held.id}")).text)
            await zb.runtime.inbox.decide(held.id, held.binding, "olivia", approve=True)
            sams = await sam.call_tool("email_invoice", arguments)
            [sam_held] = await pending(zb.runtime.inbox)
            alices = await alice.call_tool("email_invoice", arguments)
    assert held.asked_by == f"{ALICE} (signed in)" and f'class="asked-by">{ALICE} (signed in)<' in card
    assert sams.is_error and sams.structured_content["error"]["type"] == "ApprovalPending"
    assert sam_held.id != held.id and sam_held.asked_by == f"{SAM} (signed in)"
    assert not alices.is_error, alices.content[0].text
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]
    sent = [c for c in zb.calls() if c.get("tool") == "email_invoice" and c["decision"] == "allowed"]
    assert [c["person"] for c in sent] == [ALICE]
