"""The console's ASGI app: the routes, each to the part that serves it, behind the checks in checks.py.

The console holds no rules of its own: it shows and acts through the policy, the inbox and the audit log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from zbmcp.calls.runtime import Runtime
from zbmcp.console.access import AccessPages
from zbmcp.console.approvals import ApprovalPages
from zbmcp.console.audit_viewer import AuditViewer
from zbmcp.console.chain import ChainStatus
from zbmcp.console.checks import RequestChecks
from zbmcp.console.events import EventPages
from zbmcp.console.pages import PREFIX, Pages, Refused, with_security_headers
from zbmcp.proxies import TrustedProxies
from zbmcp.console.sessions import Sessions, SignInGuard
from zbmcp.console.sign_in import SignIn

class ConsoleApp:
    """The operator's console for one Runtime, served under /console (mounted by the HTTP app, or alone by
    `zbmcp console`)."""

    def __init__(self, runtime: Runtime, *, refresh_seconds: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        config = runtime.config.config
        self.runtime = runtime
        self.sessions = Sessions(runtime.state, config.console.session_minutes * 60.0, clock)
        self.guard = SignInGuard(runtime.state, clock)
        proxies = TrustedProxies(config.console.trusted_proxies)
        self._pages = Pages(runtime, proxies, refresh_seconds)
        agent_keys = {h: name for name, agent in config.agents.items() for h in agent.api_keys}
        hosts = list(config.http.allowed_hosts) + (config.oauth.public_hosts if config.oauth else [])
        self._checks = RequestChecks(self._pages, self.sessions, hosts, agent_keys)
        self._audit = AuditViewer(runtime, self._pages)
        sign_in = SignIn(runtime, self._pages, self._checks, proxies, self.sessions, self.guard, agent_keys)
        approvals = ApprovalPages(runtime, self._pages, clock)
        access = AccessPages(runtime, self._pages)
        events = EventPages(runtime, self._pages)
        signed_in = self._checks.signed_in
        self._app = Starlette(routes=[
            Route("/", _home, methods=["GET"]),
            Route("/sign-in", sign_in.page, methods=["GET"]),
            Route("/sign-in", sign_in.sign_in, methods=["POST"]),
            Route("/sign-out", signed_in(sign_in.sign_out), methods=["POST"]),
            Route("/approvals", signed_in(approvals.inbox), methods=["GET"]),
            Route("/approvals/live", signed_in(approvals.inbox_live), methods=["GET"]),
            Route("/approvals/{approval_id}", signed_in(approvals.approval), methods=["GET"]),
            Route("/approvals/{approval_id}", signed_in(approvals.decide), methods=["POST"]),
            Route("/access", signed_in(access.matrix), methods=["GET"]),
            Route("/access/compare", signed_in(access.compare_page), methods=["GET"]),
            Route("/access/compare", signed_in(access.compare), methods=["POST"]),
            Route("/audit", signed_in(self._audit.page), methods=["GET"]),
            Route("/audit/live", signed_in(self._audit.live), methods=["GET"]),
            Route("/events", signed_in(events.page), methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        ])

    def chain_status(self) -> ChainStatus:
        """What the audit page says of the hash chain (starting a check when the log has grown)."""
        return self._audit.chain_status()

    def background_busy(self) -> bool:
        """The chain check or the audit index is being built (a benchmark waits for them)."""
        return self._audit.chain.busy or self._audit.zones.building

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request whose path starts with /console."""
        if scope["type"] != "http":
            return
        send = with_security_headers(send)
        request = Request(scope, receive)
        try:
            self._checks.check_host(request)
            await self._checks.check_no_agent_key(request)
        except Refused as refused:
            await self._pages.refusal(request, refused)(scope, receive, send)
            return
        await self._app({**scope, "root_path": scope.get("root_path", "") + PREFIX}, receive, send)


async def _home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/approvals", 303)
