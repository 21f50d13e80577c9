"""The checks a console request passes before any page sees it.

In order: the Host is one we serve -> no Authorization header (agent keys never open the console) -> a live
session (except sign-in and static files) -> on a POST, the form's CSRF token matches the session's and the
Origin, if sent, is ours. A refusal says what happened and what to do, and is audited.
"""

from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from zbmcp.console.pages import PREFIX, Pages, Refused, unavailable
from zbmcp.console.sessions import SESSION_COOKIE, Session, Sessions
from zbmcp.core.credentials import key_hash
from zbmcp.proxies import name_allowed
from zbmcp.state import StateUnavailable

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
MAX_FORM_BYTES = 256 * 1024  # a pasted config for comparison is the largest form

Handler = Callable[[Request, Session], Awaitable[Response]]


class RequestChecks:
    def __init__(self, pages: Pages, sessions: Sessions, hosts: list[str],
                 agent_keys: Mapping[str, str]) -> None:
        """hosts: the Host patterns served besides loopback; agent_keys: each API key's hash -> its agent."""
        self._pages = pages
        self._audit = pages.audit
        self._sessions = sessions
        self._hosts = LOOPBACK_HOSTS + hosts
        self._agent_keys = agent_keys

    def check_host(self, request: Request) -> None:
        host = request.headers.get("host", "")
        if not name_allowed(host, self._hosts):
            raise Refused(421, "Unknown host", f"This console does not answer for host {host!r}. "
                          "List the host name under http.allowed_hosts in the config.")

    async def check_no_agent_key(self, request: Request) -> None:
        header = request.headers.get("authorization")
        if header is None:
            return
        token = header.removeprefix("Bearer ").strip()
        agent = self._agent_keys.get(key_hash(token)) if token else None
        who = f'agent "{agent}"\'s API key' if agent else "an Authorization header"
        self._audit("console.refused", "denied", f"the console refused a request to {request.url.path} "
                    f"carrying {who}: agent keys never open the console", agent=agent)
        raise Refused(403, "Agent keys do not open the console",
                      "The console is for people: sign in as an operator. Agent API keys only reach /mcp.")

    def signed_in(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint for a page only an operator may see: its handler gets the session, and a POST's form
        (checked) in request.state.form."""

        async def endpoint(request: Request) -> Response:
            session = None
            try:
                session = await self._sessions.find(request.cookies.get(SESSION_COOKIE))
                if session is None:
                    return self._not_signed_in(request)
                if request.method == "POST":
                    request.state.form = await self._form_of(request, session)
                return await handler(request, session)
            except Refused as refused:
                return self._pages.refusal(request, refused, session)
            except StateUnavailable as exc:
                return self._pages.refusal(request, unavailable(exc), session)

        return endpoint

    def _not_signed_in(self, request: Request) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{PREFIX}/sign-in?next={urllib.parse.quote(target)}", 303)
        self._audit("console.refused", "denied",
                    f"the console refused a form sent to {request.url.path} without a live session")
        raise Refused(401, "Your session has ended",
                      "You are not signed in, or your session expired. Sign in again; nothing was done.")

    async def _form_of(self, request: Request, session: Session) -> dict[str, str]:
        form = await self.form(request)
        self.check_origin(request)
        if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
            self._audit("console.refused", "denied",
                        f'the console refused a form sent to {request.url.path} in operator '
                        f'"{session.operator}"\'s session with a missing or wrong CSRF token',
                        operator=session.operator)
            raise Refused(403, "This form was not sent from the console",
                          "The form's security token is missing or stale (an old tab, or another "
                          "site posting here). Nothing was done; reload the page and try again.")
        return form

    def check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is None:  # browsers send it with every POST; other clients still need the CSRF token
            return
        if urllib.parse.urlsplit(origin).netloc != request.headers.get("host", ""):
            self._audit("console.refused", "denied",
                        f"the console refused a form sent to {request.url.path} from another site "
                        f"({origin[:100]})")
            raise Refused(403, "This form came from another site",
                          "The console only accepts forms from its own pages. Nothing was done.")

    async def form(self, request: Request) -> dict[str, str]:
        length = request.headers.get("content-length")
        too_large = Refused(413, "Too large",
                            f"A console form may carry at most {MAX_FORM_BYTES // 1024} KiB.")
        if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            raise too_large
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise too_large
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise Refused(415, "Not a console form", "Send the console's own forms.")
        parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}
