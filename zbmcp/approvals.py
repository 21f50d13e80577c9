"""Asking a person before an agent does something they should see first (emailing a customer, deleting...).

The question goes to the human through MCP elicitation, never through the model: nothing in a tool's arguments
can approve a call. When the client cannot ask, or anything goes wrong while asking, the call is refused
(fail closed) with a message that says why.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mcp import types
from mcp.server import ServerRequestContext

from zbmcp.errors import ApprovalRefused
from zbmcp.manifest import ToolSpec
from zbmcp.requests import ZohoRequest

log = logging.getLogger(__name__)

APPROVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {"type": "boolean", "title": "Approve", "description": "Let the agent do this now"},
    },
    "required": ["approve"],
}


def question(agent: str, spec: ToolSpec, request: ZohoRequest, url: str) -> str:
    body = json.dumps(request.body, ensure_ascii=False)[:600] if request.body else ""
    return (
        f'Agent "{agent}" wants to {spec.title.lower()} in organization {request.organization_id}: '
        f"{request.method} {url}" + (f" with {body}" if body else "") + ". Approve?"
    )


def client_can_elicit(ctx: ServerRequestContext[Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.elicitation is not None)


async def request_approval(
    ctx: ServerRequestContext[Any], agent: str, spec: ToolSpec, request: ZohoRequest, url: str
) -> None:
    """Return when a person approved; raise ApprovalRefused otherwise."""
    rule = f"require_approval: {spec.name}"
    if not client_can_elicit(ctx):
        raise ApprovalRefused(
            f"{spec.name} needs a person's approval (require_approval), and this MCP client cannot ask one "
            "(it does not support elicitation). Nothing was sent to Zoho. Use a client that supports "
            "elicitation, or have a person do this in Zoho Books.",
            rule=rule + " (client cannot ask)",
        )
    try:
        answer = await ctx.session.elicit_form(question(agent, spec, request, url), APPROVE_SCHEMA)
    except Exception as exc:  # noqa: BLE001 - whatever breaks while asking, the answer is no
        log.warning("approval request for %s failed: %s", spec.name, type(exc).__name__)
        raise ApprovalRefused(
            f"{spec.name} needs a person's approval, and asking failed ({type(exc).__name__}). "
            "Nothing was sent to Zoho.",
            rule=rule + " (asking failed)",
        ) from None
    if _approved(answer):
        return
    raise ApprovalRefused(
        f"A person did not approve {spec.name} ({answer.action}). Nothing was sent to Zoho; do not retry "
        "unless they ask you to.",
        rule=rule + f" ({answer.action})",
    )


def _approved(answer: types.ElicitResult) -> bool:
    return answer.action == "accept" and bool(answer.content) and answer.content.get("approve") is True
