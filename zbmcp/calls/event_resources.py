"""Webhook events as MCP resources: `zbmcp://events/<organization>/<module>`, the newest events of one
organization's module, for an agent whose grant lets it read them (zbmcp.calls.events.readable_hooks). A
client may subscribe to one (zbmcp.calls.event_watch) and reads it again when told it changed; the tool
`list_webhook_events` gives the same events after a cursor."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp import types
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from zbmcp.calls.event_watch import EventWatch, parse_uri, resource_uri, watching
from zbmcp.calls.events import SHOWN, TOOL_NAME, readable_hooks
from zbmcp.calls.runtime import Runtime
from zbmcp.core.policy import AgentPolicy
from zbmcp.state.hook_events import events_after

NEWEST = 20  # events a read gives, each with its payload


def list_resources(runtime: Runtime, policy: AgentPolicy | None) -> types.ListResourcesResult:
    if policy is None:
        return types.ListResourcesResult(resources=[])
    pairs = sorted({(hook.organization, hook.module) for hook in readable_hooks(runtime, policy).values()})
    return types.ListResourcesResult(resources=[
        types.Resource(uri=resource_uri(organization, module), name=f"{module}-events-{organization}",
                       title=f"Webhook events: {module} in organization {organization}",
                       description=f"The newest {NEWEST} events Zoho's webhooks reported; subscribe "
                                   "to hear of new ones", mime_type="application/json")
        for organization, module in pairs])


def hooks_of(runtime: Runtime, policy: AgentPolicy | None, uri: str) -> list[str]:
    """The hooks behind a resource this agent may read; an MCP error naming the URI otherwise (the same for
    a resource that does not exist and one it may not read: which organizations have hooks is not its to
    know)."""
    where = parse_uri(uri)
    hooks = readable_hooks(runtime, policy) if policy is not None else {}
    names = [name for name, hook in hooks.items() if where == (hook.organization, hook.module)]
    if not names:
        raise MCPError(INVALID_PARAMS, f"uri: {uri!r} is not an events resource this agent may read; "
                                       "resources/list names those it may")
    return names


async def read_resource(runtime: Runtime, policy: AgentPolicy | None, uri: str) -> types.ReadResourceResult:
    found, cursor = await events_after(runtime.state, hooks_of(runtime, policy, uri), None, NEWEST)
    events = [{"id": number, **{k: event.get(k) for k in SHOWN}, "payload": event.get("payload")}
              for number, event in found]
    text = json.dumps({"events": events, "next_cursor": str(cursor)}, ensure_ascii=False)
    return types.ReadResourceResult(contents=[
        types.TextResourceContents(uri=uri, mime_type="application/json", text=text)])


def resource_handlers(runtime: Runtime, policy_of: Callable[[], AgentPolicy | None]) -> dict[str, Any]:
    """The MCP Server's resource handlers and lifespan (its watch), for a config with hooks; none without."""
    hooks = runtime.config.config.hooks
    if not hooks:
        return {}

    def watch_of(ctx: ServerRequestContext[Any]) -> EventWatch:
        watch = ctx.lifespan_context
        if not isinstance(watch, EventWatch):  # a transport that ran no lifespan: nothing would be told
            raise MCPError(INVALID_PARAMS, "subscriptions are not available on this connection; use the "
                                           f"{TOOL_NAME} tool")
        return watch

    async def on_list(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                      ) -> types.ListResourcesResult:
        return list_resources(runtime, policy_of())

    async def on_read(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
                      ) -> types.ReadResourceResult:
        return await read_resource(runtime, policy_of(), str(params.uri))

    async def on_subscribe(ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
                           ) -> types.EmptyResult:
        hooks_of(runtime, policy_of(), str(params.uri))
        await watch_of(ctx).subscribe(ctx.session, str(params.uri))
        return types.EmptyResult()

    async def on_unsubscribe(ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
                             ) -> types.EmptyResult:
        watch_of(ctx).unsubscribe(ctx.session, str(params.uri))
        return types.EmptyResult()

    async def on_listen(ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams
                        ) -> types.SubscriptionsListenResult:
        for uri in params.notifications.resource_subscriptions or []:
            hooks_of(runtime, policy_of(), uri)
        return await watch_of(ctx).listen(ctx, params)

    return {"lifespan": lambda server: watching(runtime.state, hooks), "on_list_resources": on_list,
            "on_read_resource": on_read, "on_subscribe_resource": on_subscribe,
            "on_unsubscribe_resource": on_unsubscribe, "on_subscriptions_listen": on_listen}
