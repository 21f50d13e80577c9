"""zbmcp's own reads from Zoho for one call (zbmcp.core.found): whom `send=true` will email, before the call
is decided, and the names, number and money a person approving it knows it by.

They are zbmcp's reads, not the agent's: an agent that may not read contacts still has its call decided on
who Zoho will email. Each goes out on the call's own connection (the signed-in person's, for `connection:
per_user`), waits for its turn at the organization's gate as any read does, is bounded in time, and is on
the audit record as a read of its own, naming the call it was for. A read that fails leaves the value
unread, saying why: the call is then decided on what zbmcp could not learn (zbmcp.core.policy), and the
question shows the id and says the name could not be read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import Any

import anyio

from zbmcp.calls.catalog import own_read
from zbmcp.calls.outcomes import outcome_of
from zbmcp.calls.runtime import Runtime
from zbmcp.calls.tool_call import ToolCall
from zbmcp.core.found import (
    Document,
    Found,
    Organization,
    Party,
    Reads,
    Tax,
    document_from,
    organization_from,
    party_from,
    tax_from,
)
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.policy import Decision
from zbmcp.core.requests import ZohoRequest, build_request
from zbmcp.core.shaping import split_view
from zbmcp.core.tools import takes_organization
from zbmcp.errors import ZbmcpError

log = logging.getLogger(__name__)

READ_SECONDS = 15.0  # one read, its turn at the gate included
ORGANIZATION_SECONDS = 3600.0  # an organization's currency and decimal places are remembered this long
REASON_CHARS = 160


async def read_for(runtime: Runtime, call: ToolCall, request: ZohoRequest, reads: Reads, why: str) -> Found:
    """What `reads` names, read concurrently; `why` goes on each read's audit record."""
    found: dict[str, Any] = {}
    lookups = _Lookups(runtime, call, request.organization_id, why)

    async def keep(name: str, read: Awaitable[Any]) -> None:
        found[name] = await read

    spec = call.spec
    assert spec is not None
    async with anyio.create_task_group() as group:
        if reads.counterparty:
            group.start_soon(keep, "counterparty", lookups.party(reads.counterparty))
        if reads.document:
            group.start_soon(keep, "document", lookups.document(spec, reads.document))
        if reads.organization and request.organization_id:
            group.start_soon(keep, "organization", lookups.organization(request.organization_id))
        for tax_id in reads.taxes:
            group.start_soon(keep, f"tax {tax_id}", lookups.tax(tax_id))
    taxes = tuple(value for name, value in found.items() if name.startswith("tax "))
    return Found(found.get("counterparty"), found.get("document"), found.get("organization"), taxes)


async def read_as_zbmcp(runtime: Runtime, call: ToolCall, organization_id: str | None, tool: str,
                        arguments: dict[str, Any], why: str) -> Any:
    """One read of zbmcp's own for `call` (zbmcp.calls.resolve): Zoho's answer under the tool's result key,
    or why it could not be read."""
    return await _Lookups(runtime, call, organization_id, why)._get(tool, arguments)


class _Lookups:
    def __init__(self, runtime: Runtime, call: ToolCall, organization_id: str | None, why: str) -> None:
        self.runtime = runtime
        self.call = call
        self.organization_id = organization_id
        self.why = why

    async def party(self, contact_id: str) -> Party:
        record = await self._get("get_contact", {"contact_id": contact_id})
        if isinstance(record, dict):
            return party_from(contact_id, record)
        return Party(contact_id, unread=record)

    async def document(self, spec: ToolSpec, document_id: str) -> Document | None:
        getter = _getter(self.runtime, spec)
        if getter is None:
            return None
        kind = getter.title.removeprefix("Get ").lower()
        record = await self._get(getter.name, {next(iter(getter.path_params)): document_id})
        if isinstance(record, dict):
            return document_from(kind, document_id, record)
        return Document(kind, document_id, unread=record)

    async def tax(self, tax_id: str) -> Tax:
        record = await self._get("get_tax", {"tax_id": tax_id})
        if isinstance(record, dict):
            return tax_from(tax_id, record)
        return Tax(tax_id, unread=record)

    async def organization(self, organization_id: str) -> Organization:
        cache: dict[str, tuple[Organization, float]] = self.runtime.remembered_organizations
        kept = cache.get(organization_id)
        if kept is not None and kept[1] > time.monotonic():
            return kept[0]
        listed = await self._get("list_organizations", {})
        if isinstance(listed, str):
            return Organization(organization_id, unread=listed)
        organization = organization_from(organization_id, listed)
        if organization.unread is None:
            cache[organization_id] = (organization, time.monotonic() + ORGANIZATION_SECONDS)
        return organization

    async def _get(self, tool: str, arguments: dict[str, Any]) -> Any:
        """Zoho's answer under the tool's result key, or why it could not be read."""
        spec = self.runtime.specs.get(tool) or own_read(tool)
        policy = self.call.policy
        if spec is None or policy is None:
            return f"zbmcp has no {tool} to read it with"
        if self.organization_id is not None and takes_organization(spec):
            arguments = {**arguments, "organization_id": self.organization_id}
        read = ToolCall(self.runtime, policy, tool, arguments, time.perf_counter(), self.call.person)
        read.spec = spec
        read.read_for = self.call.call_id
        try:
            request = read.request = build_request(spec, arguments, policy.organizations)
        except ZbmcpError as exc:
            return _reason(exc)
        read.decision = Decision("allow", f"zbmcp's own read for call {self.call.call_id} ({self.why})",
                                 policy.revision)
        return await self._send(read, request, spec)

    async def _send(self, read: ToolCall, request: ZohoRequest, spec: ToolSpec) -> Any:
        assert read.policy is not None
        with anyio.move_on_after(READ_SECONDS) as within:
            try:
                connection = self.runtime.calling_connection(read.policy.agent, read.person)
                response = await self.runtime.client.send(connection, request, before_send=read.write_ahead,
                                                          delivery=read.delivery)
            except anyio.get_cancelled_exc_class():
                read.finish_cancelled()
                raise
            except Exception as exc:  # noqa: BLE001 - whatever fails, the value is unread and says why
                error, outcome, rule = outcome_of(exc, may_have_changed_zoho=False)
                read.finish_error(error, outcome, rule)
                return _reason(error)
        if within.cancelled_caught:
            return f"Zoho did not answer within {READ_SECONDS:g} s"
        read.finish_ok(response.payload, response.status, split_view(spec, {})[1])
        return response.payload.get(spec.result_key or "")


def _getter(runtime: Runtime, spec: ToolSpec) -> ToolSpec | None:
    """The tool that reads the record in the call's path: get_invoice for email_invoice."""
    if not spec.path_params:
        return None
    parameter = "{" + next(iter(spec.path_params)) + "}"
    path = spec.path[: spec.path.index(parameter) + len(parameter)]
    return next((s for s in runtime.specs.values() if s.method == "GET" and s.path == path), None)


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."

