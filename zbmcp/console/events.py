"""The webhook events page: per hook, the recent events Zoho delivered and the deliveries refused (kept in
the State by the intake, zbmcp.hooks), for an operator to see that Zoho reaches zbmcp and nobody else does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from zbmcp.calls.runtime import Runtime
from zbmcp.console.pages import Pages
from zbmcp.console.sessions import Session
from zbmcp.state import StateUnavailable
from zbmcp.state.hook_events import events_log, recent, refusals_log

SHOWN = 25  # events and refusals per hook


class EventPages:
    def __init__(self, runtime: Runtime, pages: Pages) -> None:
        self.runtime = runtime
        self._pages = pages

    async def page(self, request: Request, session: Session) -> Response:
        hooks: list[dict[str, Any]] = []
        problem = None
        for name, hook in self.runtime.config.config.hooks.items():
            row: dict[str, Any] = {"name": name, "hook": hook, "events": [], "refusals": []}
            try:
                row["events"] = await recent(self.runtime.state, events_log(name), SHOWN)
                row["refusals"] = await recent(self.runtime.state, refusals_log(name), SHOWN)
            except StateUnavailable as exc:
                problem = str(exc)
            hooks.append(row)
        return self._pages.page(request, "events.html", session, hooks=hooks, problem=problem)
