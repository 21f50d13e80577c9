"""One tool call in progress: what the agent is answered and what its audit record says, from the record
written ahead to the one that completes it."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from mcp import types

from zbmcp.audit.log import (
    AuditRecord,
    Phase,
    intent_sentence,
    new_call_id,
    now_iso,
    recorded_names,
    recorded_values,
    sentence,
    shorten,
)
from zbmcp.audit.log import Decision as Outcome
from zbmcp.calls.outcomes import error_result
from zbmcp.calls.runtime import Runtime
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.policy import AgentPolicy, Decision
from zbmcp.core.requests import ZohoRequest
from zbmcp.core.shaping import View, shape
from zbmcp.core.wording import did, tried
from zbmcp.errors import AuditUnavailable, OutcomeUnknown, ZbmcpError
from zbmcp.zoho.client import Delivery

log = logging.getLogger(__name__)

GIVE_BACK_SECONDS = 5.0  # bound on giving an unused approval back (the shared state may be slow or gone)


class ToolCall:
    """One tool call in progress: knows enough to answer the agent and to keep its audit record.

    The record is written ahead (write_ahead) before a request is sent, and completed by exactly one finish_*
    with the same call id. Once the request may have gone out (`sent`), nothing may hide Zoho's answer from
    the agent, not even an audit log that fails: that would invite a second, duplicate write.
    """

    def __init__(self, runtime: Runtime, policy: AgentPolicy | None, name: str, arguments: Mapping[str, Any],
                 started: float, person: tuple[str, str] | None = None, asked_by: str | None = None,
                 via: str | None = None) -> None:
        self.runtime = runtime
        self.via = via  # the meta tool the agent reached the tool through (call_tool), for the record
        self.person = person
        # who asked, for an approval: the signed-in person, else the agent (and its key, over HTTP)
        self.asked_by = asked_by or (person[1] if person else None)
        self.read_for: str | None = None  # zbmcp's own read for another call (zbmcp.calls.lookups): its id
        # the customer this call holds, whom it emails (zbmcp.calls.contact_guard): its lock's name and lease
        self.holding: tuple[str, contextlib.AsyncExitStack[bool | None]] | None = None
        self.policy = policy
        self.name = name
        self.arguments = arguments
        self.started = started
        self.call_id = new_call_id()
        self.spec: ToolSpec | None = runtime.specs.get(name)
        self.request: ZohoRequest | None = None
        self.approved_by: str | None = None  # the operator's decision that let this call through
        self.decision: Decision | None = None
        self.delivery = Delivery()
        self.wrote_ahead = False
        # The approval this call took, and how to give it back unused; what was said when it was given back.
        self.give_back: Callable[[], Awaitable[str | None]] | None = None
        self.approval_kept: str | None = None

    @property
    def sent(self) -> bool:
        """Whether the request may have reached Zoho (see Delivery: only a proven "no" counts as no)."""
        return self.delivery.may_have_left

    @property
    def may_have_changed_zoho(self) -> bool:
        return self.sent and self.spec is not None and not self.spec.read_only

    def write_ahead(self) -> None:
        """Record the call and what will be sent; raises AuditUnavailable if it cannot be recorded."""
        assert self.spec is not None
        agent = self.policy.agent if self.policy else "(unknown)"
        intent = intent_sentence(agent, tried(self.spec), self._organization(), self._region())
        problem = self._audit("allowed", self.allowed_by, None, None, "", phase="intent", text=intent)
        if problem is not None:
            raise problem
        self.wrote_ahead = True

    @property
    def allowed_by(self) -> str:
        """The rule that let the call through, for the audit record."""
        if self.decision is None:
            return "allowed"
        if self.decision.outcome == "approve" and self.approved_by:  # the operator first: who let it through
            return f"{self.approved_by}; asked by {self.decision.rule}"
        if self.decision.outcome == "approve":
            return f"{self.decision.rule} (approved by a person)"
        return self.decision.rule

    async def keep_approval(self) -> None:
        """Give the approval this call took back if the request provably never left: retrying the same call
        then does not ask again. Anything that may have reached Zoho spends it (a second send could double a
        write)."""
        give_back, self.give_back = self.give_back, None
        if give_back is None or self.sent:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(GIVE_BACK_SECONDS):  # a cancelled call too
            try:
                self.approval_kept = await give_back()
            except Exception as exc:  # noqa: BLE001 - the state failed: the approval stays spent, the safe
                # side, and the call's own failure is still what the agent hears
                log.warning("could not keep the approval of an unsent call for a retry (%s)",
                            type(exc).__name__)

    def finish_ok(self, payload: dict[str, Any], status: int, view: View,
                  currency: str | None = None) -> types.CallToolResult:
        assert self.spec is not None
        self._audit("allowed", self.allowed_by, status, payload.get("code"),
                    did(self.spec, self.arguments, payload))
        shaped = shape(self.spec, self.arguments, payload, view, currency)
        return types.CallToolResult(content=[types.TextContent(text=shaped.text)],
                                    structured_content=shaped.structured)

    def finish_replay(self, original: str, decision: Outcome, rule: str,
                      result: types.CallToolResult) -> types.CallToolResult:
        """A repeat of call `original`, answered without sending anything (zbmcp.calls.exactly_once)."""
        self._audit(decision, rule, None, None, self._tried(), replay_of=original,
                    also=f"; {rule}" if decision == "allowed" else "")  # the others' sentences say the rule
        return result  # nothing was sent, so an audit log that fails changes nothing the agent must know

    def record_resolution(self, original: str, resolved: str, evidence: str) -> None:
        """What became of call `original`, whose outcome was unknown: an outcome of that call's own record,
        found out by this one (zbmcp.calls.resolve)."""
        decision: Outcome = "allowed" if resolved in ("written", "one_record") \
            else "failed" if resolved == "not_written" else "unknown"
        words = {"written": "written", "not_written": "not written", "one_record": "one record"}.get(
            resolved, "still unknown")
        self._audit(decision, f"resolved: {words} ({evidence}); looked up by call {self.call_id}", None, None,
                    self._tried(), record_of=original, resolved=resolved,
                    also=f"; resolved: {words} ({evidence})" if decision == "allowed" else "")

    def finish_dry_run(self, url: str) -> types.CallToolResult:
        assert self.spec is not None and self.request is not None
        planned = {
            "method": self.request.method,
            "url": url,
            "query": self.request.query(),
            "body": self.request.body,
        }
        problem = self._audit("dry_run", f"dry_run: true; {self.allowed_by}", None, None,
                              tried(self.spec).replace("tried to ", "would "))
        if problem is not None:
            return self._error_result(problem, "audit log unavailable")
        text = (f"Dry run: nothing was sent to Zoho. zbmcp would send {planned['method']} {url} "
                f"with query {json.dumps(planned['query'])}"
                + (f" and body {json.dumps(planned['body'], ensure_ascii=False)}"
                   if planned["body"] is not None else "")
                + ".")
        return types.CallToolResult(
            content=[types.TextContent(text=text)],
            structured_content={"dry_run": True, "request": planned},
        )

    def finish_pending(self, answer: types.CallToolResult | types.InputRequiredResult,
                       rule: str) -> types.CallToolResult | types.InputRequiredResult:
        """Held for an operator: the inbox recorded the request once;
        each call waiting on it is recorded too."""
        approval = (answer.request_state or "").removeprefix("zbmcp-approval:") \
            if isinstance(answer, types.InputRequiredResult) \
            else (answer.structured_content or {}).get("error", {}).get("approval_id", "")
        self._audit("pending", f"{rule}; waiting for approval {approval}", None, None, self._tried())
        return answer  # nothing was sent, so an audit log that fails changes nothing the agent must know

    def finish_error(self, error: ZbmcpError, decision: Outcome, rule: str) -> types.CallToolResult:
        status = getattr(error, "status", None)
        code = getattr(error, "code", None)
        if decision == "unknown":
            error = OutcomeUnknown(f"{error} {self.check_hint()} (zbmcp call {self.call_id})", status=status,
                                   code=code, zoho_message=getattr(error, "zoho_message", None))
        note = ""
        if self.wrote_ahead and not self.sent:  # the intent record says "is sending": say plainly it did not
            rule += "; nothing sent"
        if self.approval_kept:
            rule += f"; {self.approval_kept}"
            kept = self.approval_kept
            note = f" {kept[0].upper()}{kept[1:]}: call again with exactly the same arguments."
        problem = self._audit(decision, rule, status, code, self._tried())
        if problem is not None and not self.sent:
            error, rule = problem, "audit log unavailable"  # refused anyway; now the record is missing too
        return self._error_result(error, rule, note)

    def finish_cancelled(self) -> None:
        """The call was cancelled (the client cancelled or disconnected, or the server is stopping)."""
        if self.may_have_changed_zoho:
            self._audit("unknown", "cancelled after the request was sent", None, None, self._tried())
        elif self.sent:
            self._audit("failed", "cancelled after the request was sent", None, None, self._tried())
        else:
            kept = f"; {self.approval_kept}" if self.approval_kept else ""
            self._audit("failed", f"cancelled before anything was sent{kept}", None, None, self._tried())

    def check_hint(self) -> str:
        """How a person or agent finds out whether a write whose answer was lost took effect."""
        spec = self.spec
        if spec is None:
            return "Check in Zoho Books before trying again."
        module = [s for s in self.runtime.specs.values() if s.module == spec.module]
        getter = next((s for s in module if s.name.startswith("get_") and s.path_params == spec.path_params),
                      None)
        lister = next((s.name for s in module if s.is_list), None)
        if spec.path_params and getter is not None:
            ids = " and ".join(spec.path_params)
            return (f"Before trying again, check with {getter.name} (same {ids}) whether the change took "
                    "effect.")
        if lister:
            return (f"Before trying again, check whether it exists with {lister} (filter by customer_id or "
                    "vendor_id, date, or reference_number).")
        return "Check in Zoho Books before trying again."

    def _tried(self) -> str:
        if self.spec is None:
            return f"tried to call unknown tool {shorten(self.name, 64)!r}"
        return tried(self.spec)

    def _error_result(self, error: ZbmcpError, rule: str, note: str = "") -> types.CallToolResult:
        return error_result(error, rule, note, call_id=self.call_id, check=self.check_hint)

    def _audit(self, decision: Outcome, rule: str, status: int | None, code: Any, phrase: str, *,
               phase: Phase = "outcome", text: str | None = None, replay_of: str | None = None,
               record_of: str | None = None, resolved: str | None = None,
               also: str = "") -> AuditUnavailable | None:
        """Write one record of this call; on failure, log it to stderr and return the failure."""
        duration = int((time.perf_counter() - self.started) * 1000)
        agent = self.policy.agent if self.policy else "(unknown)"
        organization, region = self._organization(), self._region()
        writes = self.spec is not None and not self.spec.read_only
        record = AuditRecord(
            time=now_iso(),
            agent=agent,
            tool=shorten(self.name, 100),
            scope=self.spec.scope if self.spec else None,
            access=self.spec.access if self.spec else None,
            organization=organization,
            region=region,
            decision=decision,
            rule=rule,
            http_status=status,
            zoho_code=code if isinstance(code, int) else None,
            duration_ms=duration,
            arguments=recorded_names(self.arguments),
            argument_values=recorded_values(self.arguments, self.runtime.config.config.audit.argument_values),
            config_revision=self.runtime.config.revision,
            effects=self.decision.facts.effect_names if self.decision and self.decision.facts else [],
            call_id=record_of or self.call_id,
            phase=phase,
            check=self.check_hint() if decision == "unknown" or (phase == "intent" and writes) else None,
            person=self.person[1] if self.person else None,
            via=self.via,
            replay_of=replay_of,
            resolved=resolved,
        )
        record.sentence = (text or sentence(agent, phrase, organization, region, decision, rule, status,
                                            duration, person=record.person)) + also
        if self.read_for is not None:
            record.sentence = f"zbmcp's own read for call {self.read_for}: {record.sentence}"
        if self.via is not None:
            record.sentence += f" (through {self.via})"
        try:
            self.runtime.audit.write(record)
        except AuditUnavailable as problem:
            log.error("could not write this audit record, so it is here instead: %s", record.to_json())
            return problem
        return None

    def _organization(self) -> str | None:
        return self.request.organization_id if self.request else _given_organization(self.arguments)

    def _region(self) -> str | None:
        return self.runtime.connection_of(self.policy.agent).region if self.policy is not None else None


_ORGANIZATION_ID = re.compile(r"[0-9]{1,19}")


def _given_organization(arguments: Mapping[str, Any]) -> str | None:
    value = arguments.get("organization_id")
    return value if isinstance(value, str) and _ORGANIZATION_ID.fullmatch(value) else None

