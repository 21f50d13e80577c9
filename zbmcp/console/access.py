"""The access pages: what each agent may do under the running config, and what a pasted config would
change."""

from __future__ import annotations

import functools

import anyio
from starlette.requests import Request
from starlette.responses import Response

from zbmcp.calls.runtime import Runtime
from zbmcp.console.pages import Pages
from zbmcp.console.sessions import Session
from zbmcp.core.access import access_matrix, compare, matrix_of
from zbmcp.errors import ConfigError


class AccessPages:
    def __init__(self, runtime: Runtime, pages: Pages) -> None:
        self.runtime = runtime
        self._pages = pages
        self._matrix = access_matrix(runtime.config, runtime.specs, runtime.policies)

    async def matrix(self, request: Request, session: Session) -> Response:
        return self._pages.page(request, "access.html", session, matrix=self._matrix,
                                revision=self.runtime.config.revision)

    async def compare_page(self, request: Request, session: Session) -> Response:
        return self._pages.page(request, "compare.html", session, candidate="", changes=None, error=None)

    async def compare(self, request: Request, session: Session) -> Response:
        candidate = request.state.form.get("candidate", "")
        try:
            # Off the event loop: the server keeps answering while a large paste is read (bounded anyway).
            other = await anyio.to_thread.run_sync(functools.partial(
                matrix_of, candidate, "the pasted config", self.runtime.specs, aliases=False))
        except ConfigError as exc:
            return self._pages.page(request, "compare.html", session, 422, candidate=candidate, changes=None,
                                    error=str(exc))
        return self._pages.page(request, "compare.html", session, candidate=candidate,
                                changes=compare(self._matrix, other), error=None)
