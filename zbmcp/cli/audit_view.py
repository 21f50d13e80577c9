"""`zbmcp audit`: the audit log as a readable table (one row per call, with its final state), filtered by
agent, kind of record (zbmcp.audit.events) and time; `zbmcp audit verify`: whether the log's hash chain is
intact."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from zbmcp.audit import chain as audit_chain
from zbmcp.audit import events as audit_events
from zbmcp.audit import verify as audit_verify
from zbmcp.audit.log import read_calls
from zbmcp.audit.query import parse_since
from zbmcp.core.config import LoadedConfig
from zbmcp.errors import ConfigError

def select_records(records: list[dict[str, Any]], agent: str | None, since: dt.datetime | None,
                   event: str | None = None) -> list[dict[str, Any]]:
    chosen = []
    for record in records:
        if agent and record.get("agent") != agent:
            continue
        if event and not audit_events.is_kind(record, event):
            continue
        if since is not None:
            try:
                at = dt.datetime.fromisoformat(str(record.get("time", "")).replace("Z", "+00:00"))
            except ValueError:
                continue
            if at < since:
                continue
        chosen.append(record)
    return chosen


def show_audit(loaded: LoadedConfig, *, agent: str | None, since: str | None, as_json: bool,
               event: str | None = None, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up now: whoever redirected stdout since import gets the table
    wrong_kind = audit_events.problem(event) if event else None
    if wrong_kind:
        raise ConfigError("--" + wrong_kind)
    path = loaded.audit_path
    if path is None:
        raise ConfigError("the audit log goes to stderr (no audit.path in the config), so there is no file "
                          "to show; set audit.path to keep one")
    if not path.exists():
        out.write(f"No audit records yet ({path} does not exist).\n")
        return
    records = select_records(read_calls(path), agent, parse_since(since) if since else None, event)
    if as_json:
        for record in records:
            out.write(json.dumps(record) + "\n")  # ASCII only: escapes whatever the record holds
        return
    out.write(format_table(records))


def format_table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "No matching audit records.\n"
    columns = [("time", 19), ("call", 8), ("agent", 14), ("tool", 24), ("organization", 12), ("decision", 8),
               ("status", 6), ("ms", 6)]
    header = "  ".join(f"{name:<{width}}" for name, width in columns) + "  what happened"
    rows = [header, "-" * len(header)]
    for r in records:
        values = {
            "time": str(r.get("time", ""))[:19].replace("T", " "),
            "call": str(r.get("call_id") or "")[:8],
            "agent": r.get("agent", ""),
            "tool": r.get("tool") or r.get("event", ""),
            "organization": r.get("organization") or "",
            "decision": r.get("decision", ""),
            "status": r.get("http_status") or "",
            "ms": r.get("duration_ms", ""),
        }
        cells = "  ".join(f"{printable(str(values[name]))[:width]:<{width}}" for name, width in columns)
        rows.append(f"{cells}  {printable(str(r.get('sentence', '')))}")
    return "\n".join(rows) + "\n"


def printable(text: str) -> str:
    """Control characters (escape sequences that rewrite the terminal, bidi overrides) shown as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def verify_audit(loaded: LoadedConfig | None, files: list[str], *, anchor: str | None,
                 out: TextIO = sys.stdout) -> bool:
    """`zbmcp audit verify`: True when nothing was found broken (with an anchor: nothing missing either).
    Prints what was checked, what it proves and what it cannot, and the head to anchor."""
    anchored = _anchor(anchor) if anchor else None
    log = loaded.audit_path if loaded is not None else None
    if files:
        paths = sorted(_given(files), key=audit_verify.first_seq)
        beside = audit_chain.head_path(paths[-1])  # the chain file, when the newest file given is a live log
        head = beside if beside.exists() else None
    elif log is None:
        raise ConfigError("no audit.path in the config (the records go to stderr, unchained): nothing to "
                          "verify")
    else:
        paths, head = audit_verify.log_files(log), audit_chain.head_path(log)
    result = audit_verify.verify(paths, head=head, anchor=anchored)
    _report(result, paths, log, anchored, out)
    return result.intact


def _given(files: list[str]) -> list[Path]:
    paths = [Path(f).expanduser() for f in files]
    for path in paths:
        if not path.exists():
            raise ConfigError(f"no such file: {path}; name audit files that exist, or leave out FILE to "
                              "check the configured log")
        if not path.is_file():
            raise ConfigError(f"{path} is not a file: name the audit log and its rotated files")
        try:
            path.open("rb").close()
        except OSError as exc:
            raise ConfigError(f"{path} cannot be read ({exc.strerror}): run as a user who may read "
                              "it") from None
    return paths


def _report(result: audit_verify.Verification, paths: list[Path], log: Path | None,
            anchored: tuple[int, str] | None, out: TextIO) -> None:
    if paths:
        out.write(f"Checked {', '.join(str(p) for p in paths)}: {result.records} chained records")
        out.write(f" ({result.first_seq} to {result.last_seq}).\n" if result.records else ".\n")
    else:
        out.write(f"No audit file: {log} does not exist, nor does a rotated copy of it.\n")
    for note in result.notes:
        out.write(f"Note: {printable(note)}\n")
    if result.problem is not None:
        out.write(f"BROKEN: {printable(result.problem)}.\n")
    gone = "MISSING" if result.anchored else "Not proven"
    for item in result.missing:
        out.write(f"{gone}: {printable(item)}.\n")
    for item in result.unproven:
        out.write(f"Not proven: {printable(item)}.\n")
    if result.last_seq is None and result.proven:
        out.write("No audit records yet.\n")
    if not result.intact or result.last_seq is None:
        return
    head_line = f"Head: {result.last_seq}:{result.last_hash}"
    if result.proven:
        out.write(f"Intact. {head_line}\n")
    else:
        out.write(f"Unbroken from record {result.first_seq} to {result.last_seq}, but not proven complete "
                  f"(above). {head_line}\n")
    if anchored is not None:
        out.write(f"The anchored record {anchored[0]} is in place: records 1 to {anchored[0]} are the ones "
                  "it was taken from.\n")
    out.write("Keep the head somewhere else (another machine, a ticket): `zbmcp audit verify --anchor "
              "SEQ:HASH` later proves the log was neither cut short nor rewritten up to it.\n")


def _anchor(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ConfigError(f"--anchor {text!r}: use SEQ:HASH as printed by `zbmcp audit verify`")
    return int(seq), digest
