"""Each agent's share of the hosted server, so that no agent can starve the others:

    http.max_streams_per_agent   GET /mcp event streams one agent holds open at once (default 10)
    http.max_calls_per_agent     requests to /mcp (calls) of one agent in progress at once (default 50)
    http.max_connections         requests in progress on the replica, everyone's together (default 1000);
                                 /healthz has HEALTH_ROOM more, so a full replica still says it is alive

Past its share an agent gets 429 naming the setting, and every other agent carries on: a 503 would tell a load
balancer to take the replica out for everyone. The config refuses shares that let one agent take more than
half of max_connections (zbmcp.core.config_hosting). A person signed in through OAuth has a share of their
own: many people may act as one agent.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Literal

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from zbmcp.core.config_hosting import Http

log = logging.getLogger(__name__)

HEALTH_ROOM = 16  # connections beyond max_connections that only /healthz may use

Kind = Literal["stream", "call"]
_SETTING: dict[Kind, str] = {"stream": "max_streams_per_agent", "call": "max_calls_per_agent"}
_WHAT: dict[Kind, str] = {"stream": "event streams open", "call": "calls in progress"}


class Shares:
    """What each caller holds now. One per HTTP app (a replica's own connections: nothing to share)."""

    def __init__(self, http: Http) -> None:
        self._caps: dict[Kind, int] = {"stream": http.max_streams_per_agent, "call": http.max_calls_per_agent}
        self._held: Counter[tuple[Kind, str]] = Counter()

    @contextlib.contextmanager
    def hold(self, kind: Kind, scope: Scope) -> Iterator[Response | None]:
        """Yields None while the caller's share has room (and holds one until the block ends), or the 429 to
        answer with."""
        caller, shown = _caller(scope)
        key = (kind, caller)
        cap = self._caps[kind]
        if self._held[key] >= cap:
            log.warning("%s was refused a request with 429: it already has %d %s (http.%s)", shown, cap,
                        _WHAT[kind], _SETTING[kind])
            yield _refusal(kind, shown, cap)
            return
        self._held[key] += 1
        try:
            yield None
        finally:
            self._held[key] -= 1
            if not self._held[key]:
                del self._held[key]


def _caller(scope: Scope) -> tuple[str, str]:
    """(the share's key, how it is named): the agent, or the person signed in as it."""
    user = scope.get("user")
    if not isinstance(user, AuthenticatedUser):
        return "", "an unknown caller"
    agent = user.access_token.client_id
    person = (user.access_token.claims or {}).get("person")
    if person:
        return f"{agent}\n{person}", f"{person} (agent {agent!r})"
    return agent, f"Agent {agent!r}"


def _refusal(kind: Kind, shown: str, cap: int) -> Response:
    advice = ("Close one (an MCP client needs at most one)" if kind == "stream"
              else "Wait for one to finish")
    message = (f"{shown} already has {cap} {_WHAT[kind]} on this server (http.{_SETTING[kind]}). "
               f"{advice}, then try again.")
    return JSONResponse({"error": "too_many_requests", "error_description": message}, status_code=429,
                        headers={"Retry-After": "5"})
