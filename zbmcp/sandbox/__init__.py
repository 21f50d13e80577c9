"""zbmcp.sandbox: a faithful, stateful Zoho Books API v3 emulator with Zoho Accounts
OAuth, for tests and demos.

    from zbmcp.sandbox import Sandbox, SandboxSettings
    sandbox = Sandbox(SandboxSettings())        # fresh seeded state
    sandbox.app                                 # Starlette ASGI app: /books/v3/... and /oauth/v2/...

See docs/sandbox.md. Facts reproduced are cited by section of zoho-books-api.md in the modules.
"""

from zbmcp.sandbox.faults import ConnectionDropped, Fault
from zbmcp.sandbox.records import ApiRequest, OutboxEmail, TokenRequest
from zbmcp.sandbox.sandbox import Credentials, Sandbox
from zbmcp.sandbox.settings import SandboxSettings

__all__ = [
    "ApiRequest", "ConnectionDropped", "Credentials", "Fault", "OutboxEmail", "Sandbox", "SandboxSettings",
    "TokenRequest",
]
