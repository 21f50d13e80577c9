"""The audit log: every tool call on the record, allowed, denied, failed, dry run or of unknown outcome,
in JSON lines with a plain-English sentence. Never a token, secret or API key; argument values only for the
names the config lists, cut short.

One call, one `call_id`. A call that sends nothing (a denial, a dry run, bad arguments) has one record.
A call that sends a request to Zoho is written ahead: an "intent" record before anything is sent, then
an "outcome" record once the answer is known. If the outcome never comes (the server was killed, the
disk failed), the intent record stays as evidence that the request may have reached Zoho, and says how to
check. `read_calls` folds the records back into one row per call with its final state; `zbmcp audit` and
`zbmcp audit verify` read through here.

A record that cannot be written stops the call before anything is sent (AuditUnavailable). Records of write
tools are flushed to disk (fsync) before the request goes out, by default (`audit.sync`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from zbmcp.audit import chain as audit_chain
from zbmcp.errors import AuditUnavailable

log = logging.getLogger(__name__)

Decision = Literal["allowed", "denied", "failed", "unknown", "dry_run", "pending"]
Phase = Literal["intent", "outcome"]
Sync = Literal["writes", "all", "none"]

# a recorded argument value, a tool name: enough to recognise, too little to flood the log
MAX_VALUE_CHARS = 200
MAX_NAMES = 64  # argument names recorded per call


@dataclass
class AuditRecord:
    time: str
    agent: str
    tool: str
    scope: str | None
    access: str | None
    organization: str | None
    region: str | None
    decision: Decision
    rule: str
    http_status: int | None
    zoho_code: int | None
    duration_ms: int
    arguments: list[str]
    argument_values: dict[str, Any] = field(default_factory=dict)
    sentence: str = ""
    # the config file's revision (zbmcp.core.config_parse.revision_of): which policy decided
    config_revision: str = ""
    effects: list[str] = field(default_factory=list)  # what the call does beyond its record, e.g. ["emails"]
    call_id: str = ""
    phase: Phase = "outcome"
    check: str | None = None  # how to find out what happened, when that is not known
    person: str | None = None  # who signed in (a remote connector's OAuth token): their Zoho email
    via: str | None = None  # the meta tool the agent called the tool through (call_tool)
    replay_of: str | None = None  # a repeat answered from an earlier call (exactly-once): that call's id
    # what became of a call whose outcome was unknown, once zbmcp looked (written, not_written, unknown)
    resolved: str | None = None

    def fields(self) -> dict[str, Any]:
        """Time, call id and phase first, then the rest in the order declared. Read straight off the
        attributes: a generic conversion (dataclasses.asdict deep-copies) cost half of a record's write."""
        data = {"time": self.time, "call_id": self.call_id, "phase": self.phase}
        for name in _RECORD_FIELDS:
            value = getattr(self, name)
            if value is not None or name not in _RARE:  # so that other records stay as they were
                data[name] = value
        return data

    def to_json(self) -> str:
        return json.dumps(self.fields(), ensure_ascii=False)


_FIRST = ("time", "call_id", "phase")
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(AuditRecord) if f.name not in _FIRST)
_RARE = frozenset({"via", "replay_of", "resolved"})  # left out when None (a new optional field: add it)


def new_call_id() -> str:
    return uuid.uuid4().hex


@dataclass
class AuditEvent:
    """What is not a tool call but belongs in the audit: an operator's sign-in, a call held for approval, a
    decision, a refused console request. Same file, same plain-English sentence first."""

    time: str
    event: str  # approval.requested | approval.decided | console.sign_in | console.refused | ...
    decision: str  # allowed | denied | pending | approved
    sentence: str
    operator: str | None = None
    agent: str | None = None
    tool: str | None = None
    organization: str | None = None
    approval: str | None = None
    rule: str = ""
    person: str | None = None  # the signed-in person (a remote connector's sign-in: zbmcp.audit.oauth)
    client: str | None = None  # the OAuth client that acted
    error: str | None = None  # the OAuth error it was given (invalid_grant, invalid_target, ...)
    hook: str | None = None  # the webhook a delivery came to (zbmcp.hooks)
    address: str | None = None  # who sent it

    def fields(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.fields(), ensure_ascii=False)

    @property
    def access(self) -> str | None:
        """Kept as durably as a write's record: an operator's decision lets a write through."""
        return "write" if self.event == "approval.decided" else None


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sentence(agent: str, phrase: str, organization: str | None, region: str | None, decision: Decision,
             rule: str, http_status: int | None, duration_ms: int, *, person: str | None = None) -> str:
    """agent "bookkeeper" created invoice INV-000042 for organization 10234695 (eu): allowed, 201 in 212 ms
    (with a signed-in person: agent "bookkeeper" (alice@example.com) created ...)"""
    where = f" for organization {organization}" + (f" ({region})" if region else "") if organization else ""
    outcome = {"allowed": "allowed", "denied": "denied", "failed": "failed", "unknown": "outcome unknown",
               "dry_run": "dry run, nothing sent", "pending": "waiting for approval, nothing sent"}[decision]
    if decision == "allowed":
        detail = f", {http_status} in {duration_ms} ms" if http_status else f" in {duration_ms} ms"
    elif decision in ("failed", "unknown"):
        detail = f" ({rule})" + (f", {http_status} in {duration_ms} ms" if http_status
                                 else f" after {duration_ms} ms")
    else:
        detail = f" ({rule})" if rule else ""
    who = f'agent "{agent}"' + (f" ({person})" if person else "")
    return f"{who} {phrase}{where}: {outcome}{detail}"


def intent_sentence(agent: str, phrase: str, organization: str | None, region: str | None) -> str:
    """agent "bookkeeper" is sending: create an invoice for organization 10234695 (eu)"""
    where = f" for organization {organization}" + (f" ({region})" if region else "") if organization else ""
    return f'agent "{agent}" is sending: {phrase.removeprefix("tried to ")}{where}'


def recorded_values(arguments: Mapping[str, Any], wanted: Iterable[str]) -> dict[str, Any]:
    return {name: _bounded(arguments[name]) for name in wanted if name in arguments}


def recorded_names(arguments: Mapping[str, Any]) -> list[str]:
    names = sorted(shorten(str(name), 64) for name in arguments)
    return names[:MAX_NAMES] + ([f"... {len(names) - MAX_NAMES} more"] if len(names) > MAX_NAMES else [])


def shorten(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return shorten(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= MAX_VALUE_CHARS else shorten(text)


class AuditLog:
    """Appends records to a hash-chained JSON-lines file, or to stderr (unchained) when no path is configured.

    sync: "writes" (default) flushes the records of write tools to disk before going on, "all" every record,
    "none" leaves it to the operating system (a power cut may lose the last seconds of records).
    """

    def __init__(self, path: Path | None = None, stream: TextIO | None = None, *,
                 sync: Sync = "writes") -> None:
        self.path = path
        self.sync = sync
        self._stream = stream
        self._lock = threading.Lock()
        self._last_problem: str | None = None
        self._chain: audit_chain.ChainWriter | None = None

    def write(self, record: AuditRecord | AuditEvent) -> None:
        """Put the record on file, or raise AuditUnavailable: the caller must then send nothing."""
        durable = self.sync == "all" or (self.sync == "writes" and record.access == "write")
        with self._lock:
            try:
                if self.path is not None:
                    self._writer(self.path).append(record.fields(), durable=durable)
                else:
                    stream = self._stream or sys.stderr
                    stream.write(record.to_json() + "\n")
                    stream.flush()
            except (OSError, ValueError) as exc:
                raise AuditUnavailable(
                    f"zbmcp could not write the audit record ({_reason(exc)}), so the call was refused and "
                    "nothing was sent to Zoho. The operator must fix the audit log (audit.path: a writable "
                    "file on a disk with room); try again once it is fixed."
                ) from None

    def open(self) -> str | None:
        """At start-up: why records cannot be written, or None once the log is ready. A torn line that a full
        disk left at its end is sealed now, with a record that says so."""
        problem = self.problem()
        if problem is not None or self.path is None:
            return problem
        with self._lock:
            try:
                seq = self._writer(self.path).seal_torn()
            except (OSError, ValueError) as exc:
                return f"a torn line at its end could not be sealed ({_reason(exc)})"
        if seq is not None:
            log.warning("the audit log ended with a line cut off midway (a full disk?); sealed by record %d",
                        seq)
        return None

    def _writer(self, path: Path) -> audit_chain.ChainWriter:
        if self._chain is None or self._chain.log != path:
            self._chain = audit_chain.ChainWriter(path)
        return self._chain

    def problem(self) -> str | None:
        """Why records cannot be written right now (for /healthz and start-up), or None."""
        problem = audit_chain.probe(self.path) if self.path is not None else None
        if problem != self._last_problem:  # said once per change, not at every health probe
            if problem is not None:
                log.error("the audit log cannot be written: %s; every call is refused until it can", problem)
            else:
                log.info("the audit log can be written again")
            self._last_problem = problem
        return problem


def _reason(exc: OSError | ValueError) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


# -- reading -----------------------------------------------------------------------------------------------


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record in the file, as written: one per line, intent and outcome records alike."""
    records = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if line:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash must not hide the rest
                if isinstance(record, dict):
                    records.append(record)
    return records


def read_calls(path: Path) -> list[dict[str, Any]]:
    """One record per call, in the order the calls arrived, holding its final state.

    A call whose outcome was never recorded keeps its intent record, turned into decision "unknown": the
    request may have reached Zoho.
    """
    return fold_calls(read_records(path))


def fold_calls(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    calls: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(records):
        key = str(record.get("call_id") or f"#{index}")  # records from before call ids: one call each
        if key not in calls or record.get("phase") != "intent":
            calls[key] = record
    return [_unfinished(record) if record.get("phase") == "intent" else record for record in calls.values()]


def _unfinished(intent: dict[str, Any]) -> dict[str, Any]:
    check = intent.get("check") or "Check in Zoho Books before trying again."
    return {
        **intent,
        "decision": "unknown",
        "rule": "no outcome recorded",
        "sentence": f"{intent.get('sentence', '')}; no outcome was recorded (the server stopped, or "
                    f"the call is still running). {check}",
    }
