"""Which error becomes which outcome: the audit record's decision and rule, and the tool error the agent
reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp import types

from zbmcp.audit.log import Decision as Outcome
from zbmcp.errors import (
    ApprovalRefused,
    AuditUnavailable,
    InvalidArguments,
    OutcomeUnknown,
    PolicyDenied,
    RateLimited,
    ZbmcpError,
    ZohoApiError,
    ZohoUnreachable,
)

# error -> (audit outcome, the rule the record and the agent read). The first match counts, so a subclass
# comes before its parent: RateLimited, OutcomeUnknown and ZohoUnreachable are ZohoApiErrors.
OUTCOMES: tuple[tuple[type[ZbmcpError], Outcome, Callable[[Any], str]], ...] = (
    (PolicyDenied, "denied", lambda error: error.rule),
    (ApprovalRefused, "denied", lambda error: error.rule),
    (InvalidArguments, "denied", lambda error: "invalid arguments: " + ", ".join(error.fields)),
    (RateLimited, "failed", lambda _: "rate limit"),
    (OutcomeUnknown, "unknown", lambda _: "outcome unknown"),
    (AuditUnavailable, "failed", lambda _: "audit log unavailable"),
    (ZohoUnreachable, "failed", lambda _: "could not connect to Zoho"),
    (ZohoApiError, "failed", lambda error: f"Zoho error {error.code}" if error.code else "Zoho error"),
    (ZbmcpError, "failed", lambda error: type(error).__name__),
)


def outcome_of(error: Exception, *, may_have_changed_zoho: bool) -> tuple[ZbmcpError, Outcome, str]:
    """The error the agent is told, the audit outcome and the rule for whatever a call raised; a bug too,
    since it must still answer the agent and leave an audit record."""
    for kind, outcome, rule in OUTCOMES:
        if isinstance(error, kind):
            return error, outcome, rule(error)
    name = type(error).__name__
    if may_have_changed_zoho:
        unknown = OutcomeUnknown(f"zbmcp hit an internal error ({name}) after the request was sent.",
                                 status=None, code=None, zoho_message=None)
        return unknown, "unknown", "internal error"
    failure = ZbmcpError(f"zbmcp hit an internal error ({name}); the call may not have run.")
    return failure, "failed", "internal error"


def error_result(error: ZbmcpError, rule: str, note: str = "", *, call_id: str,
                 check: Callable[[], str]) -> types.CallToolResult:
    """The tool error the agent reads: the message, and the details it can act on. `check` says how to find
    out whether a write whose answer was lost took effect."""
    status = getattr(error, "status", None)
    code = getattr(error, "code", None)
    detail: dict[str, Any] = {"type": type(error).__name__, "message": str(error) + note, "rule": rule}
    if status is not None:
        detail["http_status"] = status
    if code is not None:
        detail["zoho_code"] = code
    retry_after = getattr(error, "retry_after", None)  # RateLimited, StateUnavailable: worth a retry later
    if retry_after is not None:
        detail["retry_after_seconds"] = retry_after
    if isinstance(error, InvalidArguments):
        detail["fields"] = error.fields
    if isinstance(error, OutcomeUnknown):
        detail["call_id"] = call_id
        detail["check"] = check()
    return types.CallToolResult(
        content=[types.TextContent(text=str(error) + note)],
        structured_content={"error": detail},
        is_error=True,
    )
