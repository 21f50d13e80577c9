"""The audit log: one JSON line per tool call, allowed, denied, failed or dry-run, each with a plain-English
sentence. Never a token, secret or API key; argument values only for the names the config lists."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

Decision = Literal["allowed", "denied", "failed", "dry_run"]


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

    def to_json(self) -> str:
        return json.dumps(vars(self), ensure_ascii=False)


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

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in vars(self).items() if v is not None}, ensure_ascii=False)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sentence(agent: str, phrase: str, organization: str | None, region: str | None, decision: Decision,
             rule: str, http_status: int | None, duration_ms: int) -> str:
    """agent "bookkeeper" created invoice INV-000042 for organization 10234695 (eu): allowed, 201 in 212 ms"""
    where = f" for organization {organization}" + (f" ({region})" if region else "") if organization else ""
    outcome = {"allowed": "allowed", "denied": "denied", "failed": "failed", "dry_run": "dry run, nothing sent"}[decision]
    if decision == "allowed":
        detail = f", {http_status} in {duration_ms} ms" if http_status else f" in {duration_ms} ms"
    elif decision == "failed":
        detail = f" ({rule})" + (f", {http_status} in {duration_ms} ms" if http_status else f" after {duration_ms} ms")
    else:
        detail = f" ({rule})" if rule else ""
    return f'agent "{agent}" {phrase}{where}: {outcome}{detail}'


def recorded_values(arguments: Mapping[str, Any], wanted: Iterable[str]) -> dict[str, Any]:
    return {name: arguments[name] for name in wanted if name in arguments}


class AuditLog:
    """Appends records to a JSON-lines file, or to stderr when no path is configured."""

    def __init__(self, path: Path | None = None, stream: TextIO | None = None) -> None:
        self.path = path
        self._stream = stream
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: AuditRecord | AuditEvent) -> None:
        line = record.to_json() + "\n"
        with self._lock:
            if self.path is not None:
                # Opened for each record, so a rotated log is picked up at once; one O_APPEND write per line
                # keeps lines whole when several processes share the file.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode())
                finally:
                    os.close(fd)
            else:
                stream = self._stream or sys.stderr
                stream.write(line)
                stream.flush()


def read_records(path: Path) -> list[dict[str, Any]]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash must not hide the rest
    return records
