"""Exactly-once writes: a write repeated with its idempotency key is answered, not sent again.

A decided write with a key claims it in the State (zbmcp.state.idempotency) before a person is asked or
anything is sent; its answer is kept under the key once known. A repeat with the same key and the same
request gets that answer replayed (or waits while the first runs); with another request, a refusal. What
provably wrote nothing (a refusal, nothing sent, a call held for approval) frees the key for the next call.
Every repeat is a call of its own in the audit log, whose record names the call it repeats (`replay_of`).

    async with exactly_once(runtime, call) as once:
        decided = await decide(runtime, call)
        replay = await once.begin(decided)      # the answer to a repeat, or None: go ahead
        ...
        return once.settle(result, "allowed")   # what the key keeps (on leaving the block)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from mcp import types

from zbmcp.audit.log import Decision as Outcome
from zbmcp.calls.decide import Decided
from zbmcp.calls.resolve import resolvable, resolve
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.tool_call import ToolCall
from zbmcp.core.idempotency import (
    KEY,
    REPEAT_WINDOW_SECONDS,
    fingerprint,
    scoped,
    upsert_request,
    upsert_scope,
)
from zbmcp.core.policy import scope_granted
from zbmcp.core.shaping import shape
from zbmcp.errors import InvalidArguments
from zbmcp.state import StateUnavailable
from zbmcp.state.idempotency import (
    KEEP_SECONDS,
    Claim,
    Entry,
    add_alias,
    claim_key,
    complete,
    end_alias,
    hand_on,
    release,
    renew,
    take_over,
)

log = logging.getLogger(__name__)

WAIT_SECONDS = 60.0  # a repeat waits this long for the first call's answer before saying it still runs
REPEATS = "same-arguments:"  # the State's keys for writes by their arguments
SETTLE_SECONDS = 10.0  # bound on recording the answer under the key (the State may be slow or gone)


class Once:
    """One call's part in exactly-once: its claim on a key, if it made one, and what it will keep there."""

    def __init__(self, runtime: Runtime, call: ToolCall) -> None:
        self.runtime = runtime
        self.call = call
        self.claim: Claim | None = None
        self.result: types.CallToolResult | None = None
        self.outcome: Outcome | None = None
        self.claimed = anyio.Event()
        self.keep = KEEP_SECONDS  # how long the key keeps the answer
        self.alias: str | None = None  # where the call's arguments lead to its key (add_alias)
        self.upserting_for: str | None = None  # a repeat sent again as Zoho's upsert: the first call's id

    async def begin(self, decided: Decided) -> types.CallToolResult | None:
        """Claim the call's key (or, without one, its arguments for a while); None when the call goes ahead,
        else the answer to a repeat."""
        if decided.spec.read_only or decided.policy.dry_run:
            return None
        call, state = self.call, self.runtime.state
        person = call.person[0] if call.person else None
        sent = fingerprint(decided.spec, decided.request)
        by_arguments = scoped(decided.policy.agent, person, REPEATS + sent)
        if decided.key is None:
            self.keep = REPEAT_WINDOW_SECONDS
            claim = await claim_key(state, by_arguments, sent, call.call_id, wait=WAIT_SECONDS)
        else:
            key = scoped(decided.policy.agent, person, decided.key)
            claim = await claim_key(state, key, sent, call.call_id, wait=WAIT_SECONDS)
            if claim.kind == "first" and await add_alias(state, by_arguments, claim):
                self.alias = by_arguments  # a repeat that forgot the key is the same call too
        first = claim.entry
        if claim.kind == "first":
            self.claim = claim
            self.claimed.set()
            return None
        if claim.kind == "conflict":
            raise InvalidArguments([(KEY, f"was given to call {first.call_id} ({_when(first)}) with other "
                                          "arguments; a key names one write. Use a new key for a different "
                                          "write, or repeat that call's arguments exactly for its answer")])
        if claim.kind in ("unknown", "abandoned") and resolvable(decided.spec):
            return await self._resolve(decided, claim, by_key=decided.key is not None)
        return _repeat_answer(call, claim, by_key=decided.key is not None)

    async def _resolve(self, decided: Decided, claim: Claim, *, by_key: bool) -> types.CallToolResult | None:
        """A repeat of a call whose outcome is unknown: look in Zoho for what it made. Written: its record is
        the answer. Not written: this call makes it (None: go ahead). Still unknown: say so, and why."""
        call, state, first = self.call, self.runtime.state, claim.entry
        taken = await take_over(state, claim)
        if taken is None:  # another repeat is finding out: wait for what it finds
            again = await claim_key(state, claim.key, first.fingerprint, call.call_id, wait=WAIT_SECONDS)
            if again.kind != "first":
                return _repeat_answer(call, again, by_key=by_key)
            self.claim = again  # released meanwhile: this call goes ahead
            self.claimed.set()
            return None
        self.claim = taken
        self.claimed.set()
        if self._unique_field(decided) is not None:
            self.upserting_for = first.call_id  # sent again as the upsert by the first call's id: one record
            return None
        found = await resolve(self.runtime, call, decided.spec, decided.request, sent_at=first.at,
                              first_call=first.call_id)
        call.record_resolution(first.call_id, found.resolved, found.evidence)
        if found.resolved == "not_written":
            self.claim = await hand_on(state, taken, call.call_id)
            return None
        self.claim = None
        if found.resolved == "written" and found.record is not None:
            spec = decided.spec
            shaped = shape(spec, call.arguments, {spec.result_key or "": found.record, "code": 0},
                           decided.view)
            result = types.CallToolResult(content=[types.TextContent(text=shaped.text)],
                                          structured_content=shaped.structured)
            answer = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            await complete(state, taken, status="done", answer=answer, outcome="allowed", keep=self.keep)
            note = (f"Resolved: the answer to call {first.call_id} was lost, but it did write this: "
                    f"{found.evidence}. This is that record; nothing was sent to Zoho again.")
            replayed = {"call_id": first.call_id, "at": _when(first), "resolved": "written"}
            return call.finish_replay(first.call_id, "allowed", f"resolved call {first.call_id}: written; "
                                      "nothing sent", _with_note(result, note, replayed))
        await complete(state, taken, status="unknown", answer=None, outcome="unknown", keep=self.keep)
        text = (f"Call {first.call_id} may have reached Zoho, and zbmcp could not tell whether it wrote: "
                f"{found.evidence}. Nothing was sent again. {call.check_hint()}")
        return call.finish_replay(first.call_id, "unknown", f"repeat of call {first.call_id}, still unknown; "
                                  "nothing sent", _error(text, {"call_id": first.call_id, "kind": "unknown",
                                                                "evidence": found.evidence}))

    def sending(self, decided: Decided) -> Decided:
        """What goes to Zoho: a create in a module whose unique custom field the connection names goes as
        Zoho's upsert by the first call's id, so that no repeat can make a second record."""
        field = self._unique_field(decided)
        if field is None or self.claim is None:
            return decided
        request = upsert_request(decided.spec, decided.request, field, f"zbmcp-{self.claim.entry.call_id}")
        return decided if request is None else dataclasses.replace(decided, request=request)

    def _unique_field(self, decided: Decided) -> str | None:
        connection = self.runtime.connection_of(decided.policy.agent)
        field = connection.settings.unique_fields.get(decided.spec.module)
        granted = connection.tokens.granted_scopes
        if field is None or upsert_request(decided.spec, decided.request, field, "") is None or (
                granted is not None and not scope_granted(upsert_scope(decided.spec),
                                                          {scope.lower() for scope in granted})):
            return None  # without the module's UPDATE scope: a plain create, looked up if unclear
        return field

    def settle(self, result: types.CallToolResult, outcome: Outcome) -> types.CallToolResult:
        """The call's final answer and audit outcome, kept under its key when the call leaves."""
        self.result, self.outcome = result, outcome
        return result

    async def renew(self) -> None:
        """Keep the claim's lease alive while the call runs (started before the claim, idle until then)."""
        await self.claimed.wait()
        assert self.claim is not None
        await renew(self.runtime.state, self.claim.entry.owner)

    async def end(self) -> None:
        """Keep the answer under the key, or free the key when provably nothing was written."""
        claim, self.claim = self.claim, None
        if claim is None:
            return
        state, call = self.runtime.state, self.call
        try:
            with anyio.fail_after(SETTLE_SECONDS):
                if self.outcome == "allowed" and self.result is not None and call.sent:
                    answer = self.result.model_dump(mode="json", by_alias=True, exclude_none=True)
                    await complete(state, claim, status="done", answer=answer, outcome="allowed",
                                   keep=self.keep)
                elif self.outcome == "unknown" or (self.outcome is None and call.sent):  # cancelled once sent
                    await complete(state, claim, status="unknown", answer=None, outcome="unknown",
                                   keep=self.keep)
                else:  # refused, failed before or at Zoho with nothing recorded, held, dry run
                    await release(state, claim)
                    if self.alias is not None:
                        await end_alias(state, self.alias, claim, keep=None)
                    return
                if self.alias is not None:
                    await end_alias(state, self.alias, claim, keep=REPEAT_WINDOW_SECONDS)
                if self.upserting_for is not None and self.outcome == "allowed":
                    call.record_resolution(self.upserting_for, "one_record", "sent again by the first "
                                           "call's unique value as Zoho's upsert, which updates the record "
                                           "the first send made, if it made one, instead of making a second")
        except (StateUnavailable, TimeoutError) as exc:
            # The claim stays "running" until its lease runs out; then a repeat hears that
            # the outcome is unknown, never a second send.
            log.warning("call %s: could not record its outcome under its idempotency key (%s)", call.call_id,
                        type(exc).__name__)


@contextlib.asynccontextmanager
async def exactly_once(runtime: Runtime, call: ToolCall) -> AsyncIterator[Once]:
    """The call's Once, its lease renewed while the block runs; on leaving, the key keeps the answer."""
    once = Once(runtime, call)
    try:
        # The task group encloses the whole call, so that what the call opens and closes inside (a customer
        # held, say) nests within it.
        async with anyio.create_task_group() as keeper:
            keeper.start_soon(once.renew)
            try:
                yield once
            finally:
                keeper.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await once.end()


def _repeat_answer(call: ToolCall, claim: Claim, *, by_key: bool) -> types.CallToolResult:
    """What a repeat of an earlier call is answered, and its audit record."""
    first = claim.entry
    same = f"with this {KEY}" if by_key else "with the same arguments"
    if claim.kind == "done":
        note = (f"Replayed: call {first.call_id} {same} already did this ({_when(first)}); this is its "
                "answer, and nothing was sent to Zoho again."
                + ("" if by_key else f" To make a second, identical record on purpose, call again with an "
                   f"{KEY} of its own."))
        if first.answer is not None:
            result = types.CallToolResult.model_validate(first.answer)
        else:
            result = types.CallToolResult(content=[types.TextContent(
                text="Its answer was too large to keep; read the record with the get_ or list_ tool.")])
        result = _with_note(result, note, {"call_id": first.call_id, "at": _when(first)})
        how = "same key" if by_key else "same arguments"
        return call.finish_replay(first.call_id, "allowed", f"replayed call {first.call_id} ({how}); nothing "
                                  "sent", result)
    if claim.kind == "running":
        text = (f"Call {first.call_id} {same} is still running (since {_when(first)}). Nothing was sent by "
                "this call; call again in a moment to get its answer.")
        return call.finish_replay(first.call_id, "failed", f"repeat of call {first.call_id}, still running; "
                                  "nothing sent", _error(text, {"call_id": first.call_id, "kind": "running"}))
    why = ("stopped before its outcome was recorded (its server stopped)" if claim.kind == "abandoned"
           else "had an unknown outcome")
    text = (f"Call {first.call_id} {same} {why}, so it may have reached Zoho. Nothing was sent again. "
            f"{call.check_hint()}")
    return call.finish_replay(first.call_id, "unknown", f"repeat of call {first.call_id}, outcome unknown; "
                              "nothing sent", _error(text, {"call_id": first.call_id, "kind": "unknown",
                                                            "check": call.check_hint()}))


def _with_note(result: types.CallToolResult, note: str, replayed: dict[str, Any]) -> types.CallToolResult:
    content: list[Any] = [types.TextContent(text=note), *result.content]
    structured = {**(result.structured_content or {}), "replayed": replayed}
    return result.model_copy(update={"content": content, "structured_content": structured})


def _error(text: str, detail: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)],
                                structured_content={"error": {"type": "Repeat", "message": text,
                                                              "repeat_of": detail}},
                                is_error=True)


def _when(entry: Entry) -> str:
    return dt.datetime.fromtimestamp(entry.at, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

