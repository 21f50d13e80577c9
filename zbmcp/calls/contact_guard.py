"""Whom `send=true` emails stays whom the decision, and the person, saw until Zoho has the call.

The customer's contact persons are read before an emailing call is decided (calls/lookups.py). From that read
until Zoho has answered, the call holds the customer (a lock in the State, so every process and replica
honours it), and a change made through zbmcp to that customer (update_contact, delete_contact) waits for it:
an agent cannot move the address between the read and the send. While a person is asked, which may take
minutes, nothing is held; once they approve, the call holds the customer again and reads again what the
question showed, and goes on only if it still holds (zbmcp.core.question.still_holds). A change made in Zoho
itself, outside zbmcp, cannot be held off: the re-read narrows it to the moment between the read and the send.
"""

from __future__ import annotations

import contextlib

from zbmcp.calls.runtime import Runtime
from zbmcp.calls.tool_call import ToolCall
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.requests import ZohoRequest
from zbmcp.state import LockTimeout

HOLD_SECONDS = 30.0  # the lock's lease, renewed while held: a holder that dies frees it within this
WAIT_SECONDS = 20.0  # how long a call waits for another call on the same customer before giving up


def contact_written(spec: ToolSpec, request: ZohoRequest) -> str | None:
    """The contact a write changes (update_contact, delete_contact), as a lock name; None for other calls."""
    if spec.read_only or spec.module != "contacts" or "contact_id" not in spec.path_params:
        return None
    parts = dict(zip(spec.path.split("/"), request.path.split("/"), strict=False))
    return lock_name(request.organization_id, parts["{contact_id}"])


def lock_name(organization: str | None, contact_id: str) -> str:
    return f"contact:{organization or '-'}:{contact_id}"


async def hold(runtime: Runtime, call: ToolCall, name: str) -> None:
    """Hold the customer `name` for this call, until let_go (LockTimeout when another call keeps it)."""
    if call.holding is not None:
        return
    held = contextlib.AsyncExitStack()
    try:
        await held.enter_async_context(runtime.state.lock(name, ttl=HOLD_SECONDS, wait=WAIT_SECONDS))
    except LockTimeout:
        raise LockTimeout(f"Another call that emails this customer's contact persons, or changes them, is "
                          f"under way ({name}); nothing was sent to Zoho. Call again in a moment.") from None
    call.holding = (name, held)


async def let_go(call: ToolCall) -> str | None:
    """Free what the call holds; the name it held, to hold again after a person's answer."""
    if call.holding is None:
        return None
    name, held = call.holding
    call.holding = None
    # Not in a scope of its own: the lease's task group must close in the scope it was opened in. (Its
    # record is deleted shielded from cancellation, and would expire within HOLD_SECONDS anyway.)
    await held.aclose()
    return name
