"""`zbmcp audit`: the audit log as a readable table, filtered by agent and time."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from typing import Any, TextIO

from zbmcp.audit import read_records
from zbmcp.config import LoadedConfig
from zbmcp.errors import ConfigError

_RELATIVE = re.compile(r"^(\d+)([mhd])$")


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """'2h', '30m', '7d', or an ISO date/time (UTC unless it says otherwise)."""
    now = now or dt.datetime.now(dt.UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - dt.timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {text!r}: use 30m, 2h, 7d or a date like 2026-11-25 or 2026-11-25T10:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def select_records(records: list[dict[str, Any]], agent: str | None, since: dt.datetime | None) -> list[dict[str, Any]]:
    chosen = []
    for record in records:
        if agent and record.get("agent") != agent:
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
               out: TextIO = sys.stdout) -> None:
    path = loaded.audit_path
    if path is None:
        raise ConfigError("the audit log goes to stderr (no audit.path in the config), so there is no file to show; "
                          "set audit.path to keep one")
    if not path.exists():
        out.write(f"No audit records yet ({path} does not exist).\n")
        return
    records = select_records(read_records(path), agent, parse_since(since) if since else None)
    if as_json:
        for record in records:
            out.write(json.dumps(record) + "\n")
        return
    out.write(format_table(records))


def format_table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "No matching audit records.\n"
    columns = [("time", 19), ("agent", 14), ("tool", 24), ("organization", 12), ("decision", 8), ("status", 6),
               ("ms", 6)]
    header = "  ".join(f"{name:<{width}}" for name, width in columns) + "  what happened"
    rows = [header, "-" * len(header)]
    for r in records:
        values = {
            "time": str(r.get("time", ""))[:19].replace("T", " "),
            "agent": r.get("agent", ""),
            "tool": r.get("tool", ""),
            "organization": r.get("organization") or "",
            "decision": r.get("decision", ""),
            "status": r.get("http_status") or "",
            "ms": r.get("duration_ms", ""),
        }
        cells = "  ".join(f"{str(values[name])[:width]:<{width}}" for name, width in columns)
        rows.append(f"{cells}  {r.get('sentence', '')}")
    return "\n".join(rows) + "\n"
