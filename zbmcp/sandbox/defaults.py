"""The sandbox's fixed credentials, apart from the sandbox itself: `zbmcp serve --sandbox` names them in its
configuration at start-up and builds the sandbox (its seeded books, its routes) only when the first request
reaches it. tests/sandbox/test_defaults.py checks them against a sandbox."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def _fixed_hex(label: str, length: int) -> str:
    return hashlib.sha256(f"zbmcp-sandbox:{label}".encode()).hexdigest()[:length]


# Fixed, so a zbmcp config written against one sandbox run keeps working against the next.
DEFAULT_CLIENT_ID = "1000.SANDBOX0CLIENT00000000000000"
DEFAULT_CLIENT_SECRET = _fixed_hex("client-secret", 42)
DEFAULT_REFRESH_TOKEN = f"1000.{_fixed_hex('refresh-a', 32)}.{_fixed_hex('refresh-b', 32)}"
DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"
# The default user's organizations, as the seed makes them (zbmcp.sandbox.seed)
DEFAULT_ORGANIZATION_IDS = ("10234695", "10234696")


@dataclass(frozen=True)
class DefaultCredentials:
    """What a fresh sandbox's `credentials` say, known without making one."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    refresh_token: str = DEFAULT_REFRESH_TOKEN
    organization_ids: tuple[str, ...] = DEFAULT_ORGANIZATION_IDS
