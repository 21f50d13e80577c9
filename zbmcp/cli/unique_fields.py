"""`zbmcp doctor`'s check of each connection's unique_fields (docs/exactly-once.md): that the custom field
exists in each organization its agents use, refuses duplicates, and that the connection may use Zoho's upsert.

The check asks Zoho to update the record whose field holds a value no record holds, without X-Upsert: Zoho
answers "does not exist" (1002) when the field can identify a record, and refuses otherwise, saying why.
Nothing is made or changed either way.
"""

from __future__ import annotations

from zbmcp.calls.runtime import Runtime
from zbmcp.core.config import PER_USER, LoadedConfig, sign_in_connection
from zbmcp.core.idempotency import with_upsert_scopes
from zbmcp.core.policy import AgentPolicy, scope_granted
from zbmcp.core.requests import ZohoRequest
from zbmcp.errors import OutcomeUnknown, ZbmcpError, ZohoApiError
from zbmcp.state import new_id

NOT_FOUND = 1002
# the scope Zoho's upsert takes, by module (items are settings, as for every item operation)
SCOPES = {"items": "ZohoBooks.settings.UPDATE"}


def agent_scopes(loaded: LoadedConfig, name: str, policy: AgentPolicy) -> list[str]:
    """What `zbmcp scopes` prints and `auth login --agent` asks for: the agent's scopes, and the UPDATE scope
    of the upserts its creates go out as."""
    connection = loaded.config.agents[name].connection
    if connection == PER_USER:
        connection = sign_in_connection(loaded.config) or connection
    settings = loaded.config.connections.get(connection)
    return with_upsert_scopes(policy.scopes, policy.visible.values(),
                              settings.unique_fields if settings else {})


async def unique_field_checks(loaded: LoadedConfig, runtime: Runtime, name: str,
                              reached: set[str]) -> tuple[bool, list[str]]:
    fields = loaded.config.connections[name].unique_fields
    if not fields:
        return True, []
    healthy, lines = True, []
    granted = runtime.connections[name].tokens.granted_scopes
    organizations = sorted({org for agent in loaded.config.agents.values() if agent.connection == name
                            for org in agent.organizations if org in reached})
    for module, field in fields.items():
        scope = SCOPES.get(module, f"ZohoBooks.{module}.UPDATE")
        if granted is not None and not scope_granted(scope, {s.lower() for s in granted}):
            lines.append(f"WARN connection {name!r}: unique_fields.{module} needs scope {scope}, not "
                         "granted: until it is, creates there go out plain (looked up when unclear). Fix: "
                         f"zbmcp auth login --connection {name} --scopes ...,{scope}")
            continue
        for organization in organizations:
            problem = await _probe(runtime, name, module, field, organization)
            if problem is None:
                lines.append(f"ok   connection {name!r}: {module} in {organization} can be written exactly "
                             f"once through custom field {field}")
            else:
                healthy = False
                lines.append(f"FAIL connection {name!r}: unique_fields.{module} {field} in organization "
                             f"{organization}: {problem}. Fix: give {module} a custom field named {field} "
                             "that refuses duplicate values, or remove it from unique_fields")
    return healthy, lines


async def _probe(runtime: Runtime, name: str, module: str, field: str, organization: str) -> str | None:
    """Why the field cannot identify a record, or None when it can."""
    request = ZohoRequest("PUT", f"/{module}", (("organization_id", organization),), {}, organization,
                          scope=SCOPES.get(module, f"ZohoBooks.{module}.UPDATE"),
                          headers=(("X-Unique-Identifier-Key", field),
                                   ("X-Unique-Identifier-Value", f"zbmcp-doctor-{new_id()}")))
    try:
        await runtime.client.send(name, request)
    except OutcomeUnknown as exc:
        return f"Zoho's answer was unclear ({exc})"
    except ZohoApiError as exc:
        return None if exc.code == NOT_FOUND else (exc.zoho_message or str(exc))
    except ZbmcpError as exc:
        return str(exc)
    return "Zoho found a record holding a value zbmcp never wrote: the field is not what zbmcp needs"
