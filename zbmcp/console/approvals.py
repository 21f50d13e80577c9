"""The approval inbox: calls held for a person's decision, refreshed live, and the decision itself (taken by
the inbox, which checks that the operator saw what they decide on)."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from zbmcp.calls.inbox import DecisionRefused, HeldCall
from zbmcp.calls.runtime import Runtime
from zbmcp.console.pages import PREFIX, Pages, Refused
from zbmcp.console.sessions import Session
from zbmcp.errors import AuditUnavailable


class ApprovalPages:
    def __init__(self, runtime: Runtime, pages: Pages, clock: Callable[[], float]) -> None:
        self.runtime = runtime
        self._pages = pages
        self._audit = pages.audit
        self._clock = clock

    async def _inbox(self) -> tuple[list[HeldCall], list[HeldCall]]:
        held = await self.runtime.inbox.all()
        now = self._clock()
        waiting = [h for h in held if h.status == "pending" and h.expires_at > now]
        decided = [h for h in held if h.status != "pending"]
        return waiting, decided

    async def inbox(self, request: Request, session: Session) -> Response:
        waiting, decided = await self._inbox()
        return self._pages.page(request, "approvals.html", session, waiting=waiting, decided=decided,
                                version=_version(waiting, decided), done=request.query_params.get("done"))

    async def inbox_live(self, request: Request, session: Session) -> Response:
        waiting, decided = await self._inbox()
        version = _version(waiting, decided)
        if request.query_params.get("version") == version:
            return Response(status_code=204)
        return self._pages.page(request, "approval_list.html", session, waiting=waiting, decided=decided,
                                version=version)

    async def approval(self, request: Request, session: Session) -> Response:
        held = await self.runtime.inbox.get(request.path_params["approval_id"][:32])
        if held is None:
            raise Refused(404, "No such approval", "This approval has expired or never existed. If the agent "
                          "still needs it, it will ask again and the request will appear in the inbox.")
        return self._pages.page(request, "approval.html", session, held=held, now=self._clock())

    async def decide(self, request: Request, session: Session) -> Response:
        form = request.state.form
        approval_id = request.path_params["approval_id"][:32]
        action = form.get("decision")
        if action not in ("approve", "deny"):
            raise Refused(400, "No decision", "Choose Approve or Deny.")
        try:
            await self.runtime.inbox.decide(approval_id, form.get("binding", ""), session.operator,
                                            approve=action == "approve")
        except DecisionRefused as exc:
            self._audit("console.refused", "denied", f'operator "{session.operator}"\'s decision on '
                        f"approval {approval_id} was refused: {exc}", operator=session.operator)
            raise Refused(409, "The decision was not taken", str(exc)) from None
        except AuditUnavailable as exc:
            raise Refused(503, "The decision was not taken", str(exc)) from None
        verb = "approved" if action == "approve" else "denied"
        return RedirectResponse(f"{PREFIX}/approvals?done={verb}:{urllib.parse.quote(approval_id)}", 303)


def _version(waiting: list[HeldCall], decided: list[HeldCall]) -> str:
    """Changes whenever the inbox does, so a live refresh with nothing new is a bodiless 204."""
    state = [(h.id, h.status) for h in waiting + decided]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]
