"""The MCP server: tools/list and tools/call handlers wiring policy, validation, approval, Zoho and audit.

One call, in order: who is calling -> may it use this tool and organization -> are the arguments well-formed
-> does a person need to approve -> dry run, or write the audit record ahead and send -> answer -> the audit
record completed with the outcome, whatever happened (a cancelled call too). Deciding and approving are in
decide.py, sending in send.py, which error becomes which outcome in outcomes.py, the record in tool_call.py.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import anyio
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token

from zbmcp import __version__
from zbmcp.calls.contact_guard import let_go
from zbmcp.calls.decide import Decided, approve, decide
from zbmcp.calls.event_resources import resource_handlers
from zbmcp.calls.events import TOOL_NAME as EVENTS_TOOL
from zbmcp.calls.events import events_tool, list_events, readable_hooks
from zbmcp.calls.exactly_once import exactly_once
from zbmcp.calls.outcomes import outcome_of
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.send import send
from zbmcp.calls.tool_call import ToolCall
from zbmcp.calls.tool_list import to_mcp_tool
from zbmcp.core.idempotency import INSTRUCTIONS_TEXT as KEY_INSTRUCTIONS
from zbmcp.core.policy import AgentPolicy
from zbmcp.errors import ZbmcpError

log = logging.getLogger(__name__)

# Which API key a call came with (set by zbmcp.transports.api_keys): the start of its hash, never the key.
KEY_CLAIM = "zbmcp/key"

INSTRUCTIONS = (
    "Zoho Books for one or more organizations. Ids are digit strings: find them with the list_* tools. "
    "Lists return 50 rows a page (per_page up to 200) with their main fields and the page's sums; "
    "every list takes fields=\"a,b\" for more of each row's fields, \"*\" for all. "
    "Call again with page+1 while page_context.has_more_page is true. "
    "Beyond their schema, lists take Zoho's documented filters, e.g. date_start, date_end, sort_column, "
    "invoice_number_startswith, total_greater_than (where Zoho has it); an unknown one is refused with the "
    "names accepted. "
    "Writes change real books; tools marked destructive delete records or email customers. "
    + KEY_INSTRUCTIONS
)


class ZbmcpServer:
    """The low-level MCP Server for one Runtime. Over stdio the agent is fixed; over HTTP the key names it."""

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
            **resource_handlers(runtime, self._policy),  # webhook events, when the config has hooks
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

    def asked_by(self, agent: str | None) -> str | None:
        """Whose call an approval is for: the signed-in person, else the agent and the key it presented."""
        person = self.person()
        if person is not None:
            return f"{person[1]} (signed in)"
        if agent is None:
            return None
        token = get_access_token()
        key = (token.claims or {}).get(KEY_CLAIM) if token is not None else None
        return f"agent {agent} (API key {key})" if isinstance(key, str) else None  # the agent alone

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
            hooks = readable_hooks(self.runtime, policy)
            if hooks:
                tools.append(events_tool(hooks))
            listing = self._listings[policy.agent] = types.ListToolsResult(tools=tools, cache_scope="private")
        return listing

    # -- tools/call ----------------------------------------------------------------------------------

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        started = time.perf_counter()
        policy = self._policy()
        if params.name == EVENTS_TOOL and policy is not None and readable_hooks(self.runtime, policy):
            return await list_events(self.runtime, policy, params.arguments or {})
        call = ToolCall(self.runtime, policy, params.name, params.arguments or {}, started,
                        self.person(), self.asked_by(self.caller()))
        async with exactly_once(self.runtime, call) as once:
            try:
                decided = await decide(self.runtime, call)
                repeat = await once.begin(decided)
                if repeat is not None:
                    return repeat
                if decided.decision.outcome == "approve":
                    held = await approve(self.runtime, call, decided, ctx, params, url=self._url(decided),
                                         channel=self._approval_channel(decided.policy))
                    if held is not None:
                        return held
                if decided.policy.dry_run and not decided.spec.read_only:
                    return call.finish_dry_run(self._url(decided))
                return once.settle(await send(self.runtime, call, decided), "allowed")
            except anyio.get_cancelled_exc_class():
                # nobody will read an answer, but the record must say what may have happened
                call.finish_cancelled()
                raise
            except Exception as exc:
                if not isinstance(exc, ZbmcpError):
                    log.exception("tool %s failed unexpectedly", params.name)
                error, outcome, rule = outcome_of(exc, may_have_changed_zoho=call.may_have_changed_zoho)
                return once.settle(call.finish_error(error, outcome, rule), outcome)
            finally:
                await let_go(call)

    def _approval_channel(self, policy: AgentPolicy) -> Literal["console", "client"]:
        """Who approves: over HTTP the agent's code is its own MCP client, so by default an operator does."""
        chosen = self.runtime.agent(policy.agent).approval
        return chosen or ("client" if self.fixed_agent is not None else "console")

    def _url(self, decided: Decided) -> str:
        return self.runtime.connection_of(decided.policy.agent).url(decided.request)
