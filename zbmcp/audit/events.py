"""The kinds of record in the audit log, for filtering it: tool calls, and the events written beside them
(zbmcp.audit.log.AuditEvent), named <family>.<step>. A filter names a kind: "call", a family ("oauth") or one
step ("oauth.token"); a family matches each of its steps.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from zbmcp.audit import repairs
from zbmcp.audit.oauth import Event as OAuthStep

CALLS = "call"  # tool calls carry no "event" field
MCP_REFUSED = "mcp.refused"  # a request to /mcp refused for its key (zbmcp/transports/refused_keys.py)
_STEP = re.compile(r"[a-z][a-z_-]{0,39}")

# family: (its group in a form, the choice of the whole family)
FAMILIES: dict[str, tuple[str, str]] = {
    "oauth": ("OAuth sign-in", "every OAuth sign-in step"),
    "console": ("Console", "every console sign-in, sign-out and refusal"),
    "approval": ("Approvals", "every approval requested, decided, or changed before its call took it"),
    "mcp": ("Agents' endpoints", "every request refused at /mcp or /sse for its key"),
    "audit": ("The audit log", "every note about the log itself"),
    "hook": ("Webhooks", "every webhook delivery taken, repeated or refused"),
}

# Every step zbmcp writes, by family (the OAuth steps come from the type its writer is checked against).
STEPS: dict[str, list[str]] = {
    "oauth": [f"oauth.{step}" for step in get_args(OAuthStep)],
    "console": ["console.sign_in", "console.sign_out", "console.refused"],
    "approval": ["approval.requested", "approval.decided", "approval.changed"],
    "mcp": [MCP_REFUSED],
    "audit": [repairs.TORN, repairs.CHAIN_FILE],  # what happened to the log file itself
    "hook": ["hook.received", "hook.repeated", "hook.refused"],
}


def choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """(group label, [(value, label)]) for a form: tool calls, then each family followed by its steps."""
    groups = [("Tool calls", [(CALLS, "every call")])]  # no "tool": a select is named by its options too
    for family, (group, whole) in FAMILIES.items():
        steps = [(step, step.partition(".")[2].replace("_", " ").replace("-", " ")) for step in STEPS[family]]
        groups.append((group, [(family, whole), *steps]))
    return groups


def problem(kind: str) -> str | None:
    """Why `kind` names no kind of record, with the fix; None when it does."""
    family, dot, step = kind.partition(".")
    if kind == CALLS or family in FAMILIES and (not dot or _STEP.fullmatch(step)):
        return None
    return (f"event: {kind!r} is not a kind of audit record; choose {CALLS} (tool calls), "
            f"{', '.join(FAMILIES)} (a family of events) or one step such as oauth.token")


def is_kind(record: dict[str, Any], kind: str) -> bool:
    event = record.get("event")
    if kind == CALLS:
        return not event
    return isinstance(event, str) and (event == kind or event.startswith(kind + "."))


def needle(kind: str) -> bytes | None:
    """Bytes every line of that kind contains: the JSON string of the event name, without its closing quote
    (a family's steps go on after it). None for tool calls, which are known by what they lack."""
    return None if kind == CALLS else json.dumps(kind, ensure_ascii=False)[:-1].encode()
