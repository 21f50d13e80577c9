"""The OAuth scopes a remote client asks for, and which tool calls each one lets through (pure).

    books:read     list and read (every tool that only reads)
    books:write    create, change, delete and email (implies books:read)

They narrow, never widen, what the agent's config allows: a token for agent `bookkeeper` with books:read calls
only bookkeeper's read tools. A call that needs more than was granted gets a scope challenge (HTTP 403,
`insufficient_scope`), and the client asks the person again.
"""

from __future__ import annotations

from collections.abc import Iterable

from zbmcp.core.manifest import ToolSpec

READ = "books:read"
WRITE = "books:write"
SUPPORTED = (READ, WRITE)
DEFAULT = (READ,)  # what a client gets when it names no scope: the least that is useful

_IMPLIED = {WRITE: {READ}}


def effective(granted: Iterable[str]) -> set[str]:
    have = set(granted)
    for scope in list(have):
        have |= _IMPLIED.get(scope, set())
    return have


def required(spec: ToolSpec) -> str:
    return READ if spec.read_only else WRITE


def allows(granted: Iterable[str], spec: ToolSpec) -> bool:
    return required(spec) in effective(granted)


def challenge_for(spec: ToolSpec) -> list[str]:
    """Every scope the call needs, in one challenge (the spec asks for all of them at once)."""
    return sorted({READ, required(spec)})
