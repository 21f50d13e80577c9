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
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions

from zbmcp import __version__
from zbmcp.calls import meta_tools
from zbmcp.calls.approvals import modern
from zbmcp.calls.contact_guard import let_go
from zbmcp.calls.decide import Decided, approve, decide
from zbmcp.calls.event_resources import resource_handlers
from zbmcp.calls.events import TOOL_NAME as EVENTS_TOOL
from zbmcp.calls.events import events_tool, list_events, readable_hooks
from zbmcp.calls.exactly_once import exactly_once
from zbmcp.calls.meta_tools import CALL, DESCRIBE, ENABLE, FIND, META, refusal
from zbmcp.calls.outcomes import outcome_of
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.send import send
from zbmcp.calls.tool_call import ToolCall
from zbmcp.calls.tool_list import Listing, plan, to_mcp_tool
from zbmcp.core.idempotency import INSTRUCTIONS_TEXT as KEY_INSTRUCTIONS
from zbmcp.core.policy import AgentPolicy
from zbmcp.errors import InvalidArguments, PolicyDenied, ZbmcpError

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
    "Reports take cash_based=true for the cash basis. "
    "Writes change real books; tools marked destructive delete records or email customers. "
    + KEY_INSTRUCTIONS
)


class _Server(Server[Any]):
    """Says, on every transport, that the tool list can change: enable_tools changes a session's."""

    def create_initialization_options(self, notification_options: NotificationOptions | None = None,
                                      *args: Any, **kwargs: Any) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True), *args, **kwargs)


class ZbmcpServer:
    """The low-level MCP Server for one Runtime. Over stdio the agent is fixed; over HTTP the key names it."""

    def __init__(self, runtime: Runtime, *, agent: str | None = None) -> None:
        self.runtime = runtime
        self.fixed_agent = agent
        self._listings: dict[str, Listing] = {}
        for policy in runtime.policies.values():
            if policy.pinned:  # a pinned list that cannot fit fails at start-up, not at the first tools/list
                self.listing(policy)
        self.server: Server[Any] = _Server(
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

    def listing(self, policy: AgentPolicy) -> Listing:
        """The agent's first tools/list (zbmcp/calls/tool_list.py), built once."""
        listing = self._listings.get(policy.agent)
        if listing is None:
            budget = self.runtime.agent(policy.agent).tool_list_bytes
            try:
                hooks = readable_hooks(self.runtime, policy)
                always = [events_tool(hooks)] if hooks else []
                listing = plan(policy, budget, meta_tools.meta_tools(policy), always)
            except ValueError as exc:
                config = self.runtime.config
                raise config.source.error(f"agents.{policy.agent}.pinned: {exc}",
                                          ("agents", policy.agent, "pinned")) from None
            self._listings[policy.agent] = listing
        return listing

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        policy = self._policy()
        if policy is None:
            return types.ListToolsResult(tools=[])
        listing = self.listing(policy)
        if listing.whole:
            return types.ListToolsResult(tools=list(listing.tools), cache_scope="private")
        session = _session(ctx)
        if session is None:  # no session to enable tools in: call_tool reaches them
            return types.ListToolsResult(tools=[t for t in listing.tools if t.name != ENABLE],
                                         cache_scope="private")
        enabled = [to_mcp_tool(policy.visible[name], policy.organizations)
                   for name in session.get(_ENABLED + policy.agent, ())]
        return types.ListToolsResult(tools=[*listing.tools, *enabled], cache_scope="private")

    # -- tools/call ----------------------------------------------------------------------------------

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        policy = self._policy()
        if policy is None or params.name not in META or self.listing(policy).whole \
                or (params.name == ENABLE and _session(ctx) is None):
            return await self._call(ctx, params)
        arguments = params.arguments or {}
        try:
            if params.name == FIND:
                return meta_tools.find_tools(policy, arguments)
            if params.name == DESCRIBE:
                return meta_tools.describe_tools(policy, arguments)
            if params.name == ENABLE:
                return await self._enable(ctx, policy, arguments)
            name, inner = meta_tools.call_target(policy, arguments)
        except (InvalidArguments, PolicyDenied) as exc:
            return refusal(exc, getattr(exc, "rule", "invalid arguments"))
        return await self._call(ctx, params.model_copy(update={"name": name, "arguments": inner}), via=CALL)

    async def _enable(self, ctx: ServerRequestContext[Any], policy: AgentPolicy,
                      arguments: dict[str, Any]) -> types.CallToolResult:
        session = _session(ctx)
        assert session is not None
        key = _ENABLED + policy.agent
        before = session.get(key, ())
        after, text = meta_tools.to_enable(policy, self.listing(policy), before, arguments)
        session[key] = after
        if after != before:
            await ctx.session.send_tool_list_changed()
        return types.CallToolResult(content=[types.TextContent(text=text)],
                                    structured_content={"enabled": list(after)})

    async def _call(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams,
                    via: str | None = None) -> types.CallToolResult | types.InputRequiredResult:
        started = time.perf_counter()
        policy = self._policy()
        if params.name == EVENTS_TOOL and policy is not None and readable_hooks(self.runtime, policy):
            return await list_events(self.runtime, policy, params.arguments or {})
        call = ToolCall(self.runtime, policy, params.name, params.arguments or {}, started,
                        self.person(), self.asked_by(self.caller()), via=via)
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
                return once.settle(await send(self.runtime, call, once.sending(decided)), "allowed")
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


_ENABLED = "zbmcp/enabled/"  # + agent: the tools enable_tools added to a session's list


def _session(ctx: ServerRequestContext[Any]) -> dict[str, Any] | None:
    """The state of the client's session, where one lasts beyond this request and can be told that the tool
    list changed (stdio, SSE, stateful HTTP before 2026-07-28); None otherwise (stateless HTTP, 2026-07-28).
    The SDK keeps it on the connection, which its request context does not name: mcp is pinned exactly."""
    connection = getattr(ctx.session, "_connection", None)
    if connection is None or modern(ctx) or not connection.has_standalone_channel:
        return None
    state: dict[str, Any] = connection.state
    return state
