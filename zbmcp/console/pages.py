"""What every console page shares: the HTML templates, refusal pages, cookies, security headers, and the audit
record of what operators do and of what the console refuses."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Send

from zbmcp.audit.log import AuditEvent, now_iso
from zbmcp.calls.runtime import Runtime
from zbmcp.proxies import TrustedProxies
from zbmcp.console.sessions import Session
from zbmcp.errors import AuditUnavailable
from zbmcp.state import StateUnavailable

log = logging.getLogger(__name__)

PREFIX = "/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send `Origin: null` on our forms
    "Cache-Control": "no-store",
}


class Refused(Exception):
    """A request the console will not serve: shown as a page that says what happened and what to do."""

    def __init__(self, status: int, title: str, message: str) -> None:
        self.status = status
        self.title = title
        self.message = message
        super().__init__(message)


def unavailable(exc: StateUnavailable) -> Refused:
    return Refused(503, "zbmcp's shared state is unavailable", f"{exc} Nothing was done; try again shortly.")


class Pages:
    def __init__(self, runtime: Runtime, proxies: TrustedProxies, refresh_seconds: float) -> None:
        self.runtime = runtime
        self.refresh_ms = int(refresh_seconds * 1000)
        self._proxies = proxies
        self._templates = Environment(loader=PackageLoader("zbmcp.console", "templates"),
                                      autoescape=select_autoescape(default=True), enable_async=False)
        self._templates.filters["when"] = _when
        self._templates.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)

    def page(self, request: Request, template: str, session: Session | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        html = self._templates.get_template(template).render(
            prefix=PREFIX, session=session, refresh_ms=self.refresh_ms, path=request.url.path, **context)
        return HTMLResponse(html, status_code=status)

    def refusal(self, request: Request, refused: Refused, session: Session | None = None) -> Response:
        return self.page(request, "message.html", session, refused.status, title=refused.title,
                         message=refused.message)

    def set_cookie(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict",
                            secure=self._proxies.scheme(request) == "https")

    def audit(self, event: str, decision: str, sentence: str, *, operator: str | None = None,
              agent: str | None = None, strict: bool = False) -> None:
        """strict: what the record vouches for (a sign-in) must not happen unrecorded."""
        try:
            self.runtime.audit.write(AuditEvent(time=now_iso(), event=event, decision=decision,
                                                sentence=sentence, operator=operator, agent=agent))
        except AuditUnavailable as exc:
            if strict:
                raise Refused(503, "The audit log cannot be written", str(exc)) from None
            log.error("could not write the audit record of a refused console request: %s", exc)


def with_security_headers(send: Send) -> Send:
    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            for name, value in SECURITY_HEADERS.items():
                if name.lower().encode() not in present:
                    headers.append((name.lower().encode(), value.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending  # type: ignore[return-value]


def _when(timestamp: float | str | None) -> str:
    if timestamp is None or timestamp == "":
        return ""
    if isinstance(timestamp, str):
        return timestamp[:19].replace("T", " ")
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
