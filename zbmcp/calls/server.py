"""The MCP server: tools/list and tools/call handlers wiring policy, validation, approval, Zoho and audit.

One call, in order: who is calling -> may it use this tool and organization -> are the arguments well-formed
-> does a person need to approve -> dry run, or write the audit record ahead and send -> answer -> the audit
record completed with the outcome, whatever happened (a cancelled call too).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

import anyio
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token

from zbmcp import __version__
from zbmcp.calls.approvals import binding, request_approval
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
from zbmcp.errors import (
    ApprovalRefused,
    AuditUnavailable,
    InvalidArguments,
    OutcomeUnknown,
    PolicyDenied,
    RateLimited,
    ZbmcpError,
    ZohoApiError,
    ZohoUnreachable,
)
from zbmcp.calls.inbox import OperatorDecision, ask_operator
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.numeric_ids import ids_as_strings
from zbmcp.core.policy import AgentPolicy, Decision
from zbmcp.core.question import build_question
from zbmcp.core.requests import ZohoRequest, build_request
from zbmcp.calls.runtime import Runtime
from zbmcp.core.shaping import View, shape, split_view
from zbmcp.core.tools import to_mcp_tool
from zbmcp.core.wording import did, tried
from zbmcp.zoho.client import Delivery

log = logging.getLogger(__name__)

GIVE_BACK_SECONDS = 5.0  # bound on giving an unused approval back (the shared state may be slow or gone)

INSTRUCTIONS = (
    "Zoho Books for one or more organizations. Ids are digit strings: find them with the list_* tools. "
    "Lists return 50 rows a page (per_page up to 200) with their main fields and the page's sums; fields=[...] "
    "adds fields, [\"*\"] gives all. Call again with page+1 while page_context.has_more_page is true. "
    "Beyond their schema, lists take Zoho's documented filters, e.g. date_start, date_end, sort_column, "
    "invoice_number_startswith, total_greater_than (where Zoho has it); an unknown one is refused with the "
    "names accepted. "
    "Writes change real books; tools marked destructive delete records or email customers."
)


class ZbmcpServer:
    """The low-level MCP Server for one Runtime. Over stdio the agent is fixed; over HTTP it comes from the key."""

    def __init__(self, runtime: Runtime, *, agent: str | None = None) -> None:
        self.runtime = runtime
        self.fixed_agent = agent
        self._listings: dict[str, types.ListToolsResult] = {}
        self.server: Server[Any] = Server(
            "zbmcp",
            version=__version__,
            title="Zoho Books (zbmcp)",
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    # -- who is calling ------------------------------------------------------------------------------

    def caller(self) -> str | None:
        if self.fixed_agent is not None:
            return self.fixed_agent
        token = get_access_token()  # set by the HTTP transport from the agent's API key
        return token.client_id if token is not None else None

    def person(self) -> tuple[str, str] | None:
        """The signed-in person behind an OAuth token (Zoho user id, email); None for stdio and API keys."""
        token = get_access_token()
        claims = (token.claims or {}) if token is not None else {}
        person = claims.get("person")
        if token is None or not isinstance(person, str) or not token.subject:
            return None
        return token.subject, person

    def _policy(self) -> AgentPolicy | None:
        agent = self.caller()
        return self.runtime.policies.get(agent) if agent else None

    # -- tools/list ----------------------------------------------------------------------------------

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        policy = self._policy()
        if policy is None:
            return types.ListToolsResult(tools=[])
        listing = self._listings.get(policy.agent)
        if listing is None:
            tools = [to_mcp_tool(spec, policy.organizations) for spec in policy.visible.values()]
            listing = self._listings[policy.agent] = types.ListToolsResult(tools=tools, cache_scope="private")
        return listing

    # -- tools/call ----------------------------------------------------------------------------------

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        started = time.perf_counter()
        arguments: Mapping[str, Any] = params.arguments or {}
        policy = self._policy()
        call = _Call(self.runtime, policy, params.name, arguments, started, self.person())
        try:
            if policy is None:
                raise PolicyDenied("This caller is not a configured agent; nothing is allowed.", rule="unknown agent")
            spec = call.spec = policy.tool_for_call(params.name)
            arguments = call.arguments = ids_as_strings(arguments)
            asked = arguments.get("organization_id")
            if isinstance(asked, str) and asked.isdigit():
                policy.check_organization(asked)  # the agent's own boundary first, so the refusal names the rule
            to_send, view = split_view(spec, arguments)  # `fields` shapes the answer; Zoho never sees it
            request = call.request = build_request(spec, to_send, policy.organizations)
            # The local date dates an undated create (the organization's time zone is not known yet).
            decision = call.decision = policy.decide(spec, request, dt.date.today())
            if decision.outcome == "deny":
                raise PolicyDenied(decision.message, rule=decision.rule)
            if decision.outcome == "approve":
                assert decision.facts is not None
                question = build_question(policy.agent, spec, request, self._url(policy, request), decision.facts,
                                          decision.reasons)
                if self._approval_channel(policy) == "console":
                    answer = await ask_operator(self.runtime.inbox, ctx, spec, request, arguments, question,
                                                decision.rule)
                    if not isinstance(answer, OperatorDecision):
                        return call.finish_pending(answer, decision.rule)  # held; the agent calls again
                    call.approved_by = answer.rule
                    call.give_back = partial(self.runtime.inbox.give_back, answer)
                    pending = None
                else:
                    key = binding(policy.agent, spec.name, request.organization_id, arguments)
                    pending = await request_approval(ctx, params, spec, question, decision.rule,
                                                     self.runtime.approvals, key)
                    if pending is None:
                        call.give_back = partial(self.runtime.approvals.keep, key)
                if pending is not None:
                    return pending  # the client asks the person and calls again; that call gets the audit record
            if policy.dry_run and not spec.read_only:
                return call.finish_dry_run(self._url(policy, request))
            agent = self.runtime.agent(policy.agent)
            gate = None
            if agent.quota is not None:
                gate = self.runtime.pacer.agent_gate(
                    policy.agent, per_minute=agent.quota.per_minute, per_day=agent.quota.per_day,
                    max_wait=self.runtime.connection_of(policy.agent).settings.limits.max_wait_seconds,
                )
            # The record is written ahead once the request's turn comes; if it cannot be, nothing is sent.
            try:
                connection = self.runtime.calling_connection(policy.agent, call.person)
                response = await self.runtime.client.send(connection, request, agent_gate=gate,
                                                          before_send=call.write_ahead, delivery=call.delivery)
            except BaseException:
                await call.keep_approval()
                raise
            payload = response.payload
            if spec.name == "list_organizations":
                payload = _only_organizations(payload, policy.organizations)
            return call.finish_ok(payload, response.status, view)
        except (PolicyDenied, ApprovalRefused) as exc:
            return call.finish_error(exc, "denied", exc.rule)
        except InvalidArguments as exc:
            return call.finish_error(exc, "denied", "invalid arguments: " + ", ".join(exc.fields))
        except RateLimited as exc:
            return call.finish_error(exc, "failed", "rate limit")
        except OutcomeUnknown as exc:
            return call.finish_error(exc, "unknown", "outcome unknown")
        except AuditUnavailable as exc:
            return call.finish_error(exc, "failed", "audit log unavailable")
        except ZohoUnreachable as exc:
            return call.finish_error(exc, "failed", "could not connect to Zoho")
        except ZohoApiError as exc:
            return call.finish_error(exc, "failed", f"Zoho error {exc.code}" if exc.code else "Zoho error")
        except ZbmcpError as exc:
            return call.finish_error(exc, "failed", type(exc).__name__)
        except anyio.get_cancelled_exc_class():
            call.finish_cancelled()  # nobody will read an answer, but the record must say what may have happened
            raise
        except Exception as exc:  # a bug must still answer the agent and leave an audit record
            log.exception("tool %s failed unexpectedly", params.name)
            if call.may_have_changed_zoho:
                unknown = OutcomeUnknown(f"zbmcp hit an internal error ({type(exc).__name__}) after the request was "
                                         "sent.", status=None, code=None, zoho_message=None)
                return call.finish_error(unknown, "unknown", "internal error")
            failure = ZbmcpError(f"zbmcp hit an internal error ({type(exc).__name__}); the call may not have run.")
            return call.finish_error(failure, "failed", "internal error")

    def _approval_channel(self, policy: AgentPolicy) -> str:
        """Who approves: over HTTP the agent's code is its own MCP client, so by default an operator does."""
        chosen = self.runtime.agent(policy.agent).approval
        return chosen or ("client" if self.fixed_agent is not None else "console")

    def _url(self, policy: AgentPolicy, request: ZohoRequest) -> str:
        return self.runtime.connection_of(policy.agent).url(request)


class _Call:
    """One tool call in progress: knows enough to answer the agent and to keep its audit record.

    The record is written ahead (write_ahead) before a request is sent, and completed by exactly one finish_*
    with the same call id. Once the request may have gone out (`sent`), nothing may hide Zoho's answer from the
    agent, not even an audit log that fails: that would invite a second, duplicate write.
    """

    def __init__(self, runtime: Runtime, policy: AgentPolicy | None, name: str, arguments: Mapping[str, Any],
                 started: float, person: tuple[str, str] | None = None) -> None:
        self.runtime = runtime
        self.person = person
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
        problem = self._audit("allowed", self.allowed_by, None, None, "", phase="intent",
                              text=intent_sentence(agent, tried(self.spec), self._organization(), self._region()))
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
        """Give the approval this call took back if the request provably never left: retrying the same call then
        does not ask again. Anything that may have reached Zoho spends it (a second send could double a write)."""
        give_back, self.give_back = self.give_back, None
        if give_back is None or self.sent:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(GIVE_BACK_SECONDS):  # a cancelled call too
            try:
                self.approval_kept = await give_back()
            except Exception as exc:  # noqa: BLE001 - the state failed: the approval stays spent, the safe side,
                # and the call's own failure is still what the agent hears
                log.warning("could not keep the approval of an unsent call for a retry (%s)", type(exc).__name__)

    def finish_ok(self, payload: dict[str, Any], status: int, view: View) -> types.CallToolResult:
        assert self.spec is not None
        self._audit("allowed", self.allowed_by, status, payload.get("code"), did(self.spec, self.arguments, payload))
        shaped = shape(self.spec, self.arguments, payload, view)
        return types.CallToolResult(content=[types.TextContent(text=shaped.text)],
                                    structured_content=shaped.structured)

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
                + (f" and body {json.dumps(planned['body'], ensure_ascii=False)}" if planned["body"] is not None else "")
                + ".")
        return types.CallToolResult(
            content=[types.TextContent(text=text)],
            structured_content={"dry_run": True, "request": planned},
        )

    def finish_pending(self, answer: types.CallToolResult | types.InputRequiredResult,
                       rule: str) -> types.CallToolResult | types.InputRequiredResult:
        """Held for an operator: the inbox recorded the request once; each call waiting on it is recorded too."""
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
        getter = next((s for s in module if s.name.startswith("get_") and s.path_params == spec.path_params), None)
        lister = next((s.name for s in module if s.is_list), None)
        if spec.path_params and getter is not None:
            ids = " and ".join(spec.path_params)
            return f"Before trying again, check with {getter.name} (same {ids}) whether the change took effect."
        if lister:
            return (f"Before trying again, check whether it exists with {lister} (filter by customer_id or "
                    "vendor_id, date, or reference_number).")
        return "Check in Zoho Books before trying again."

    def _tried(self) -> str:
        return tried(self.spec) if self.spec is not None else f"tried to call unknown tool {shorten(self.name, 64)!r}"

    def _error_result(self, error: ZbmcpError, rule: str, note: str = "") -> types.CallToolResult:
        status = getattr(error, "status", None)
        code = getattr(error, "code", None)
        detail: dict[str, Any] = {"type": type(error).__name__, "message": str(error) + note, "rule": rule}
        if status is not None:
            detail["http_status"] = status
        if code is not None:
            detail["zoho_code"] = code
        retry_after = getattr(error, "retry_after", None)  # RateLimited, StateUnavailable: worth a retry later
        if retry_after is not None:
            detail["retry_after_seconds"] = retry_after
        if isinstance(error, InvalidArguments):
            detail["fields"] = error.fields
        if isinstance(error, OutcomeUnknown):
            detail["call_id"] = self.call_id
            detail["check"] = self.check_hint()
        return types.CallToolResult(
            content=[types.TextContent(text=str(error) + note)],
            structured_content={"error": detail},
            is_error=True,
        )

    def _audit(self, decision: Outcome, rule: str, status: int | None, code: Any, phrase: str, *,
               phase: Phase = "outcome", text: str | None = None) -> AuditUnavailable | None:
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
            call_id=self.call_id,
            phase=phase,
            check=self.check_hint() if decision == "unknown" or (phase == "intent" and writes) else None,
            person=self.person[1] if self.person else None,
        )
        record.sentence = text or sentence(agent, phrase, organization, region, decision, rule, status, duration,
                                           person=record.person)
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


def _only_organizations(payload: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    organizations = payload.get("organizations")
    if not isinstance(organizations, list):
        return payload
    kept = [o for o in organizations if isinstance(o, dict) and str(o.get("organization_id")) in allowed]
    return {**payload, "organizations": kept}
