"""Sign-in and token events in the audit log, next to the tool calls: who tried what, and what was decided.
They are the log's generic events (zbmcp.audit.log.AuditEvent), named oauth.<step>:

    {"time": ..., "event": "oauth.token", "decision": "denied", "sentence": "...", "error": "invalid_grant",
     "rule": "authorization code used a second time: the tokens it gave were revoked", "client": "...",
     "person": "...", "agent": "..."}

Never a token, code, secret or cookie: records name the client, the person and the agent, and the reason.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Literal

from zbmcp.audit.log import AuditEvent, AuditLog, now_iso, shorten
from zbmcp.errors import AuditUnavailable

log = logging.getLogger(__name__)

MAX_RULE_CHARS = 600  # a reason quotes what the client sent (a resource, a client_id): never all 64 KB of it

Event = Literal["authorize", "sign-in", "consent", "token", "refresh", "revoke", "register", "client",
                "bearer", "enroll", "scope"]


class AuthAudit:
    def __init__(self, log_: AuditLog) -> None:
        self._log = log_

    def record(self, event: Event, decision: Literal["allowed", "denied"], rule: str, *,
               client: str | None = None, person: str | None = None, agent: str | None = None,
               error: str | None = None) -> None:
        rule = shorten(rule, MAX_RULE_CHARS)
        client, person, error = (shorten(value) if value else None for value in (client, person, error))
        who = person or "someone"
        via = f" with client {client}" if client else ""
        as_agent = f" as agent \"{agent}\"" if agent else ""
        outcome = rule if decision == "allowed" else f"denied ({error + ': ' if error else ''}{rule})"
        entry = AuditEvent(time=now_iso(), event=f"oauth.{event}", decision=decision,
                           sentence=f"{who}: {event}{as_agent}{via}: {outcome}", agent=agent, rule=rule,
                           person=person, client=client, error=error)
        try:
            self._log.write(entry)
        except AuditUnavailable:
            # A sign-in step is not a call to Zoho: it goes on, and the record is kept on stderr instead.
            log.error("could not write this audit record, so it is here instead: %s", entry.to_json())


class Notes(list[str]):
    """What deeper code found out about the request being handled: the reasons (a refused client document, an
    expired code), and whose code or token it presented, when that is known."""

    def __init__(self) -> None:
        super().__init__()
        self.person: str | None = None
        self.agent: str | None = None
        self.client: str | None = None


# For the one audit record the endpoint writes about the request. Set per request, so notes
# from any depth land in it.
_notes: contextvars.ContextVar[Notes | None] = contextvars.ContextVar("zbmcp_oauth_notes", default=None)


def note(text: str | None = None, *, person: str | None = None, agent: str | None = None,
         client: str | None = None) -> None:
    """A reason for the record (text), and/or whose code or token was presented (person, agent, client)."""
    notes = _notes.get()
    if notes is None:
        return
    if text:
        notes.append(text)
    notes.person = person or notes.person
    notes.agent = agent or notes.agent
    notes.client = client or notes.client


@contextlib.contextmanager
def collecting_notes() -> Iterator[Notes]:
    notes = Notes()
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)
