"""Approval tickets (2026-07-28 era): bound to one call, single use, expiring, shareable between replicas."""

from __future__ import annotations

from zbmcp.calls.approvals import ApprovalTickets
from zbmcp.calls.catalog import load_manifests
from zbmcp.state import State

EMAIL = load_manifests()["email_invoice"]
CALL = {"invoice_id": "460000000000001", "to_mail_ids": ["ap@acme.example"]}
KEY = b"k" * 32


async def test_a_ticket_approves_exactly_its_call_once(state: State):
    tickets = ApprovalTickets(KEY, state)
    ticket = await tickets.issue("bookkeeper", EMAIL, CALL)
    assert not await tickets.redeem(ticket, "bookkeeper", EMAIL, {**CALL, "to_mail_ids": ["x@evil.example"]})
    assert not await tickets.redeem(ticket, "other-agent", EMAIL, CALL)
    assert await tickets.redeem(ticket, "bookkeeper", EMAIL, CALL)
    assert not await tickets.redeem(ticket, "bookkeeper", EMAIL, CALL)  # a replay asks the person again


async def test_a_ticket_expires_and_a_forged_one_is_refused(state: State):
    now = [1_000_000.0]
    tickets = ApprovalTickets(KEY, state, clock=lambda: now[0], ttl=600)
    ticket = await tickets.issue("bookkeeper", EMAIL, CALL)
    now[0] += 601
    assert not await tickets.redeem(ticket, "bookkeeper", EMAIL, CALL)
    nonce, expires, epoch, _ = (await tickets.issue("bookkeeper", EMAIL, CALL)).split(".")
    assert not await tickets.redeem(f"{nonce}.{expires}.{epoch}.forged", "bookkeeper", EMAIL, CALL)
    assert not await tickets.redeem("garbage", "bookkeeper", EMAIL, CALL)
    # no int() blow-up
    assert not await tickets.redeem(f"{nonce}.{'9' * 5000}.{epoch}.x", "bookkeeper", EMAIL, CALL)
    assert await state.items("approval-tickets-used") == {}  # nothing forged was written


async def test_replicas_sharing_a_key_accept_each_others_tickets_once(state: State):
    asking, answering, again = (ApprovalTickets(KEY, state), ApprovalTickets(KEY, state),
                                ApprovalTickets(KEY, state))
    stranger = ApprovalTickets(b"s" * 32, state)
    ticket = await asking.issue("bookkeeper", EMAIL, CALL)
    assert not await stranger.redeem(ticket, "bookkeeper", EMAIL, CALL)
    assert await answering.redeem(ticket, "bookkeeper", EMAIL, CALL)
    assert not await again.redeem(ticket, "bookkeeper", EMAIL, CALL)


async def test_an_approval_kept_for_a_call_is_taken_once_by_any_replica(state: State):
    """Kept after its call sent nothing: of racing identical calls on any replica, exactly one takes it."""
    import anyio

    from zbmcp.calls.approvals import binding

    replicas = [ApprovalTickets(KEY, state) for _ in range(3)]
    call = binding("bookkeeper", EMAIL.name, "10234695", CALL)
    assert await replicas[0].keep(call)
    assert await replicas[0].keep(call) is None  # one at a time: a second give-back adds nothing
    assert not await replicas[0].take_kept(binding("bookkeeper", EMAIL.name, "10234696", CALL))  # another org
    taken: list[bool] = []

    async def take(replica: ApprovalTickets) -> None:
        taken.append(await replica.take_kept(call))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for replica in replicas * 3:
                tg.start_soon(take, replica)
    assert sorted(taken) == [False] * 8 + [True]
