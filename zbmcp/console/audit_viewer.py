"""The audit viewer: the newest records a page at a time, filtered, with new ones appended live, and the state
of the log's hash chain (chain.py)."""

from __future__ import annotations

import datetime as dt
import urllib.parse

from starlette.requests import Request
from starlette.responses import Response

from zbmcp.audit import events as audit_events
from zbmcp.audit.query import AuditFilter, Page, ZoneIndex, appended, newest, parse_since
from zbmcp.calls.runtime import Runtime
from zbmcp.console.chain import ChainStatus, ChainWatch
from zbmcp.console.pages import Pages
from zbmcp.console.sessions import Session
from zbmcp.errors import ConfigError

AUDIT_PAGE = 50
DECISIONS = ["allowed", "denied", "failed", "unknown", "dry_run", "pending", "approved"]


class AuditViewer:
    def __init__(self, runtime: Runtime, pages: Pages) -> None:
        self.runtime = runtime
        self._pages = pages
        self.chain = ChainWatch(runtime.config.audit_path)
        self.zones = ZoneIndex()

    def chain_status(self) -> ChainStatus:
        """What the audit page says of the hash chain (starting a check when the log has grown)."""
        return self.chain.status()

    async def page(self, request: Request, session: Session) -> Response:
        filters, chosen, error = _filters(request)
        path = self.runtime.config.audit_path
        before = request.query_params.get("before", "")
        page = Page([], None, 0)
        if path is not None:
            page = newest(path, filters, limit=AUDIT_PAGE, before=int(before) if before.isdigit() else None,
                          index=self.zones)
        agents = self.runtime.config.config.agents
        return self._pages.page(
            request, "audit.html", session, page=page, chosen=chosen, error=error, audit_file=path,
            agents=sorted(agents), tools=sorted(self.runtime.specs),
            organizations=sorted({o for a in agents.values() for o in a.organizations}), decisions=DECISIONS,
            events=audit_events.choices(),
            query=urllib.parse.urlencode({k: v for k, v in chosen.items() if v}), live=not before,
            chain=self.chain_status(),
        )

    async def live(self, request: Request, session: Session) -> Response:
        filters, _chosen, _error = _filters(request)
        path = self.runtime.config.audit_path
        after = request.query_params.get("after", "")
        if path is None or not after.isdigit():
            return Response(status_code=204)
        page = appended(path, filters, after=int(after))
        response = self._pages.page(request, "audit_rows.html", session, records=page.records)
        response.headers["X-Audit-Cursor"] = str(page.end)
        return response


def _filters(request: Request) -> tuple[AuditFilter, dict[str, str], str | None]:
    """The filter a page's query asks for, the values to show back in the form, and what was not
    understood."""
    query = request.query_params
    chosen = {name: query.get(name, "").strip()[:100] for name in
              ("agent", "tool", "organization", "decision", "event", "since", "until")}
    error = audit_events.problem(chosen["event"]) if chosen["event"] else None
    event = chosen["event"] if chosen["event"] and error is None else None
    times: dict[str, dt.datetime | None] = {"since": None, "until": None}
    for name in ("since", "until"):
        if chosen[name]:
            try:
                times[name] = parse_since(chosen[name])
            except ConfigError:
                error = (f"{name}: {chosen[name]!r} is not a time; write 30m, 2h, 7d, 2026-11-25 or "
                         "2026-11-25T10:00")
    filters = AuditFilter(agent=chosen["agent"] or None, tool=chosen["tool"] or None,
                          organization=chosen["organization"] or None, decision=chosen["decision"] or None,
                          event=event, since=times["since"], until=times["until"])
    return filters, chosen, error
