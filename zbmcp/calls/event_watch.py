"""Telling subscribed MCP clients that a hook's events changed: `notifications/resources/updated` for the
resource `zbmcp://events/<organization>/<module>`.

Two ways a client subscribes, by protocol era: `resources/subscribe` (up to 2025-11-25: the notification goes
on the client's session) and `subscriptions/listen` (2026-07-28: on the stream the request opened, through the
SDK's ListenHandler). Either way, one watch per server lifespan (each stdio or SSE connection; each HTTP
session manager) reads the State for new events while anything is subscribed, every POLL_SECONDS: the event
may have come in at any replica, and the State is what replicas share.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp import types
from mcp.server import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated

from zbmcp.core.config_hooks import Hook
from zbmcp.state import State, StateUnavailable
from zbmcp.state.hook_events import events_log

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
EPOCH_CHECK_SECONDS = 5.0
SCHEME = "zbmcp://events/"
MAX_STREAMS = 256  # listen streams per watch


def resource_uri(organization: str, module: str) -> str:
    return f"{SCHEME}{organization}/{module}"


def parse_uri(uri: str) -> tuple[str, str] | None:
    """(organization, module) of an events resource; None for anything else."""
    if not uri.startswith(SCHEME):
        return None
    organization, slash, module = uri.removeprefix(SCHEME).partition("/")
    return (organization, module) if slash and organization.isdigit() and module.isalpha() else None


class EventWatch:
    def __init__(self, state: State, hooks: Mapping[str, Hook], tasks: TaskGroup, *,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self._state = state
        self._uri_of = {name: resource_uri(hook.organization, hook.module) for name, hook in hooks.items()}
        self._tasks = tasks
        self._poll_seconds = poll_seconds
        self.bus = InMemorySubscriptionBus()
        self._listen = ListenHandler(self.bus, max_subscriptions=MAX_STREAMS)
        self._sessions: dict[ServerSession, set[str]] = {}
        self._streams: Counter[str] = Counter()  # uri -> listen streams watching it
        self._heads: dict[str, int] = {}  # hook -> the newest event number announced
        self._polling = False

    # -- subscribing ---------------------------------------------------------------------------------

    async def subscribe(self, session: ServerSession, uri: str) -> None:
        await self._from_now([uri])
        self._sessions.setdefault(session, set()).add(uri)
        self._start()

    def unsubscribe(self, session: ServerSession, uri: str) -> None:
        uris = self._sessions.get(session)
        if uris is not None:
            uris.discard(uri)
            if not uris:
                del self._sessions[session]

    async def listen(self, ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams
                     ) -> types.SubscriptionsListenResult:
        uris = list(params.notifications.resource_subscriptions or [])
        await self._from_now(uris)
        self._streams.update(uris)
        self._start()
        try:
            return await self._listen(ctx, params)
        finally:
            self._streams.subtract(uris)
            self._streams += Counter()  # drops what reached zero

    def _watched(self) -> set[str]:
        return {uri for uris in self._sessions.values() for uri in uris} | set(self._streams)

    async def _from_now(self, uris: Iterable[str]) -> None:
        """What came before a subscription is read, not announced: note each hook's newest event now."""
        for hook, uri in self._uri_of.items():
            if uri in uris and hook not in self._heads:
                newest = await self._state.read_log(events_log(hook), limit=1, newest=True)
                self._heads[hook] = newest[-1][0] if newest else 0

    # -- watching ------------------------------------------------------------------------------------

    def _start(self) -> None:
        if not self._polling:
            self._polling = True
            self._tasks.start_soon(self._poll)

    async def _poll(self) -> None:
        try:
            epoch, checked = "", -EPOCH_CHECK_SECONDS
            while watched := self._watched():
                try:
                    if anyio.current_time() - checked >= EPOCH_CHECK_SECONDS:
                        now_epoch, checked = await self._state.epoch(), anyio.current_time()
                        if epoch and now_epoch != epoch:  # numbers started again: everything is new
                            self._heads = dict.fromkeys(self._heads, 0)
                        epoch = now_epoch
                    changed = await self._changes(watched)
                except StateUnavailable as exc:
                    log.warning("webhook events: %s", exc)
                    changed = set()
                for uri in changed:
                    await self._tell(uri)
                await anyio.sleep(self._poll_seconds)
        finally:
            self._polling = False

    async def _changes(self, watched: set[str]) -> set[str]:
        changed: set[str] = set()
        for hook, uri in self._uri_of.items():
            if uri not in watched:
                self._heads.pop(hook, None)
                continue
            new = await self._state.read_log(events_log(hook), after=self._heads.get(hook, 0), limit=1000)
            if new:
                self._heads[hook] = new[-1][0]
                changed.add(uri)
        return changed

    async def _tell(self, uri: str) -> None:
        await self.bus.publish(ResourceUpdated(uri=uri))
        for session, uris in list(self._sessions.items()):
            if uri not in uris:
                continue
            try:
                await session.send_resource_updated(uri)
            except Exception as exc:  # the session ended: it hears nothing more
                log.debug("webhook events: a subscribed session is gone (%s)", type(exc).__name__)
                self._sessions.pop(session, None)


@contextlib.asynccontextmanager
async def watching(state: State, hooks: Mapping[str, Hook], **options: Any) -> AsyncIterator[EventWatch]:
    """A watch for as long as the block lasts (a server's lifespan)."""
    async with anyio.create_task_group() as tasks:
        watch = EventWatch(state, hooks, tasks, **options)
        try:
            yield watch
        finally:
            tasks.cancel_scope.cancel()


Lifespan = Callable[[Any], contextlib.AbstractAsyncContextManager[EventWatch | None]]
