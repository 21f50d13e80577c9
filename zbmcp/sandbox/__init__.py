"""zbmcp.sandbox: a faithful, stateful Zoho Books API v3 emulator with Zoho Accounts
OAuth, for tests and demos.

    from zbmcp.sandbox import Sandbox, SandboxSettings
    sandbox = Sandbox(SandboxSettings())        # fresh seeded state
    sandbox.app                                 # Starlette ASGI app: /books/v3/... and /oauth/v2/...

See docs/sandbox.md. Facts reproduced are cited by section of zoho-books-api.md in the modules.

The names below load on first use: importing a light module of the package (zbmcp.sandbox.defaults, the
credentials `zbmcp serve --sandbox` starts with) does not load the emulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zbmcp.sandbox.faults import ConnectionDropped, Fault
    from zbmcp.sandbox.records import ApiRequest, OutboxEmail, TokenRequest
    from zbmcp.sandbox.sandbox import Credentials, Sandbox
    from zbmcp.sandbox.settings import SandboxSettings

_WHERE = {
    "ConnectionDropped": "faults", "Fault": "faults",
    "ApiRequest": "records", "OutboxEmail": "records", "TokenRequest": "records",
    "Credentials": "sandbox", "Sandbox": "sandbox",
    "SandboxSettings": "settings",
}

__all__ = [
    "ApiRequest", "ConnectionDropped", "Credentials", "Fault", "OutboxEmail", "Sandbox", "SandboxSettings",
    "TokenRequest",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
