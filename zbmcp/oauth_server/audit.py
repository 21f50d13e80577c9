"""Sign-in and token events in the audit log, next to the tool calls: who tried what, and what was decided.

    {"time": ..., "kind": "oauth", "event": "token", "decision": "denied", "error": "invalid_grant",
     "rule": "authorization code already used: its tokens were revoked", "client": "...", "person": "...",
     "agent": "...", "sentence": "..."}

Never a token, code, secret or cookie: records name the client, the person and the agent, and the reason.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from zbmcp.audit import AuditLog, now_iso
from zbmcp.errors import AuditUnavailable

log = logging.getLogger(__name__)

Event = Literal["authorize", "sign-in", "consent", "token", "refresh", "revoke", "register", "client", "bearer",
                "enroll", "scope"]


@dataclass
class AuthEvent:
    event: Event
    decision: Literal["allowed", "denied"]
    rule: str
    client: str | None = None
    person: str | None = None
    agent: str | None = None
    error: str | None = None  # the OAuth error the client was given (invalid_grant, invalid_target, ...)
    time: str = field(default_factory=now_iso)
    kind: str = "oauth"
    sentence: str = ""

    @property
    def access(self) -> str | None:
        return None  # not a write to anyone's books: flushed to disk only when audit.sync is "all"

    def fields(self) -> dict[str, Any]:
        data = asdict(self)
        return {"time": data.pop("time"), "kind": data.pop("kind"), **data}

    def to_json(self) -> str:
        return json.dumps(self.fields(), ensure_ascii=False)


class AuthAudit:
    def __init__(self, log_: AuditLog) -> None:
        self._log = log_

    def record(self, event: Event, decision: Literal["allowed", "denied"], rule: str, *, client: str | None = None,
               person: str | None = None, agent: str | None = None, error: str | None = None) -> None:
        entry = AuthEvent(event, decision, rule, client=client, person=person, agent=agent, error=error)
        who = person or "someone"
        via = f" with client {client}" if client else ""
        as_agent = f" as agent \"{agent}\"" if agent else ""
        outcome = "allowed" if decision == "allowed" else f"denied ({error + ': ' if error else ''}{rule})"
        entry.sentence = f"{who}: {event}{as_agent}{via}: {outcome if decision == 'denied' else rule}"
        try:
            self._log.write(entry)
        except AuditUnavailable:
            # A sign-in step is not a call to Zoho: it goes on, and the record is kept on stderr instead.
            log.error("could not write this audit record, so it is here instead: %s", entry.to_json())


# What deeper code found out about the request being handled (a refused client document, say), for the one audit
# record the endpoint writes about it. A list set per request, so appends from any depth land in it.
_notes: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("zbmcp_oauth_notes", default=None)


def note(text: str) -> None:
    notes = _notes.get()
    if notes is not None:
        notes.append(text)


@contextlib.contextmanager
def collecting_notes() -> Iterator[list[str]]:
    notes: list[str] = []
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)
