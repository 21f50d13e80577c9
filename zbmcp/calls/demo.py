"""The built-in configuration for `zbmcp serve --sandbox`: one connection to the embedded sandbox and one
agent, `demo`, that may use every tool of the whole catalog in both sandbox organizations."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from zbmcp.core.config import Agent, Config, Connection, LoadedConfig
from zbmcp.core.config_hosting import OAuth
from zbmcp.sandbox.defaults import DefaultCredentials
from zbmcp.core.yamlsource import SourceMap

if TYPE_CHECKING:
    from zbmcp.sandbox import Sandbox

DEMO_AGENT = "demo"
SANDBOX_CONNECTION = "sandbox"
# Requests never leave the process (an in-memory transport); the host name only has to look like one.
SANDBOX_BASE_URL = "http://sandbox.zbmcp.invalid"
SANDBOX_SOURCE = "<sandbox>"  # the config file name the built-in configuration reports


def demo_config(
    sandbox: Sandbox | None, base_url: str = SANDBOX_BASE_URL, api_keys: list[str] | None = None,
    oauth_issuer: str | None = None, users: list[str] | None = None, *, home: Path | None = None,
) -> LoadedConfig:
    """`sandbox`: the one whose credentials to use; None for a fresh sandbox's, before one is made.
    `api_keys`: hashes of the keys that reach agent `demo` over HTTP; `oauth_issuer` and `users`: people
    who sign in with the sandbox's Zoho as agent `demo` (a remote connector). `home`: where its State and keys
    live, the caller's to remove (default: a new temporary folder). Each sandbox has one of its own: another
    run's records (its pacing, its writes a repeat would be answered with) belong to another sandbox."""
    credentials = sandbox.credentials if sandbox is not None else DefaultCredentials()
    config = Config(
        connections={
            SANDBOX_CONNECTION: Connection(
                region="com",
                client_id=credentials.client_id,
                client_secret=SecretStr(credentials.client_secret),
                refresh_token=SecretStr(credentials.refresh_token),
                api_base_url=f"{base_url}/books/v3",
                accounts_url=base_url,
                token_store="memory",
            )
        },
        agents={
            DEMO_AGENT: Agent(
                connection=SANDBOX_CONNECTION,
                organizations=list(credentials.organization_ids),
                tools=["*:*"],
                catalog="whole",  # the sandbox answers the generated tools too
                api_keys=list(api_keys or []),
                users=list(users or []),
            )
        },
        oauth=OAuth(issuer=oauth_issuer) if oauth_issuer else None,
    )
    home = home if home is not None else Path(tempfile.mkdtemp(prefix="zbmcp-sandbox-"))
    return LoadedConfig(config, SourceMap(SANDBOX_SOURCE), home)
