"""zbmcp as an OAuth resource server: which bearer tokens open /mcp and /sse, and the challenges that tell a
client how to get a better one.

    no token, or a refused one   401  WWW-Authenticate: Bearer resource_metadata="…", scope="books:read"
                                      (+ error="invalid_token" when a token was presented: audited with why,
                                      within a budget of records per address and minute: audit/budget.py)
    a tools/call the token's     403  WWW-Authenticate: Bearer error="insufficient_scope", scope="…", …
    scopes do not cover                (the client asks the person again, then retries)

A token opens the server only if it was issued for this server (RFC 8707 audience, checked by the SDK's bearer
backend), has not expired or been revoked, and its person may still act as its agent. Agents' API keys keep
working side by side: a key is tried first, and stands for everything its agent may do.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier
from starlette.types import ASGIApp, Receive, Scope, Send

from zbmcp.oauth_server.asgi import buffer_body
from zbmcp.audit.oauth import AuthAudit, collecting_notes
from zbmcp.oauth_server.people import People
from zbmcp.oauth_server.scopes import DEFAULT, READ, SUPPORTED, allows, challenge_for, effective
from zbmcp.oauth_server.tokens import TokenService
from zbmcp.core.policy import AgentPolicy

class _Refusal(NamedTuple):
    why: str
    person: str | None = None
    agent: str | None = None
    client: str | None = None


# Why the token of the request being handled was refused, and whose it was, for the 401's audit record.
_refusal: contextvars.ContextVar[_Refusal | None] = contextvars.ContextVar("zbmcp_bearer_refusal",
                                                                           default=None)


class BearerVerifier:
    """API keys first, then zbmcp's own OAuth access tokens."""

    def __init__(self, keys: TokenVerifier, tokens: TokenService, people: People, resource: str) -> None:
        self._keys = keys
        self._tokens = tokens
        self._people = people
        self._resource = resource

    async def verify_token(self, token: str) -> AccessToken | None:
        _refusal.set(None)
        key = await self._keys.verify_token(token)
        if key is not None:  # an agent's API key: issued by this server for this server, every scope
            return key.model_copy(update={"resource": self._resource, "scopes": [*key.scopes, *SUPPORTED]})
        with collecting_notes() as notes:
            access = await self._tokens.load_access(token)
        if access is None:
            _refusal.set(_Refusal(notes[0] if notes else "unknown token", notes.person, notes.agent,
                                  notes.client))
            return None
        whose = access.person, access.agent, access.client_id
        if access.resource != self._resource:
            _refusal.set(_Refusal(f"token issued for {access.resource}, not this server", *whose))
            return None
        if not await self._people.may_act_as(access.subject or "", access.person, access.agent):
            _refusal.set(_Refusal(f"{access.person} may no longer act as agent {access.agent}", *whose))
            return None
        # client_id is the agent: what every other part of zbmcp calls the caller.
        # The person is in the claims.
        return AccessToken(token="", client_id=access.agent, scopes=access.scopes,
                           expires_at=access.expires_at, resource=access.resource, subject=access.subject,
                           claims={"person": access.person, "oauth_client": access.client_id})


class ResourceGuard:
    """In front of /mcp, /sse and /messages/: the 401 and 403 challenges, and the
    scope check on tool calls."""

    def __init__(self, app: ASGIApp, *, resource_metadata_url: str, specs_by_agent: Mapping[str, AgentPolicy],
                 audit: AuthAudit, max_body: int,
                 record_refusal: Callable[[Scope], bool] = lambda scope: True) -> None:
        """record_refusal: whether a refused token's record fits the budget (else it is only counted)."""
        self._app = app
        self._record_refusal = record_refusal
        self._metadata = resource_metadata_url
        self._policies = specs_by_agent
        self._audit = audit
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if not isinstance(user, AuthenticatedUser):
            presented = any(key.lower() == b"authorization" for key, _ in scope.get("headers", []))
            if presented:
                refusal = _refusal.get() or _Refusal("unknown or malformed token")
                if self._record_refusal(scope):
                    self._audit.record("bearer", "denied", refusal.why, client=refusal.client,
                                       person=refusal.person, agent=refusal.agent, error="invalid_token")
                await self._challenge(send, 401, list(DEFAULT), error="invalid_token",
                                      description="The access token is not valid here: sign in again.")
            else:
                await self._challenge(send, 401, list(DEFAULT))
            return
        token = user.access_token
        if READ not in effective(token.scopes):
            await self._challenge(send, 403, list(DEFAULT), error="insufficient_scope",
                                  description="This token does not allow reading Zoho Books.")
            return
        person = (token.claims or {}).get("person")
        if scope["method"] != "POST" or person is None:  # API keys: whatever the agent may do
            await self._app(scope, receive, send)
            return
        body, replay, complete = await buffer_body(receive, self._max_body)
        policy = self._policies.get(token.client_id)
        if complete and policy is not None:
            for name in _tool_calls(body):
                spec = policy.visible.get(name)
                if spec is not None and not allows(token.scopes, spec):
                    needed = challenge_for(spec)
                    self._audit.record("scope", "denied", f"{name} needs {' '.join(needed)}; the token has "
                                       f"{' '.join(token.scopes) or 'none'}",
                                       client=str((token.claims or {}).get(
                                           "oauth_client")), person=str(person), agent=token.client_id,
                                       error="insufficient_scope")
                    await self._challenge(send, 403, needed, error="insufficient_scope",
                                          description=f"Calling {name} needs {' '.join(needed)}.")
                    return
        await self._app(scope, replay, send)

    async def _challenge(self, send: Send, status: int, scopes: list[str], *, error: str | None = None,
                         description: str | None = None) -> None:
        parts = []
        if error:
            parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{description}"')
        parts += [f'scope="{" ".join(scopes)}"', f'resource_metadata="{self._metadata}"']
        body = json.dumps({"error": error or "invalid_token",
                           "error_description": description or "Sign in to use this server."}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", ("Bearer " + ", ".join(parts)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _tool_calls(body: bytes) -> list[str]:
    """The tool names a JSON-RPC message (or batch) calls; anything unreadable is left to the server."""
    try:
        message: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    names = []
    for item in message if isinstance(message, list) else [message]:
        if isinstance(item, dict) and item.get("method") == "tools/call":
            params = item.get("params")
            if isinstance(params, dict) and isinstance(params.get("name"), str):
                names.append(params["name"])
    return names
