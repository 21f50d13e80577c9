"""The config's sections for serving zbmcp to others: the HTTP transport (http), the OAuth authorization
server of remote clients (oauth), what processes and replicas share (state) and the operator's console.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from zbmcp.core.yamlsource import unexpanded


class Section(BaseModel):
    """A section of the config: a key it does not know is a mistake, and a loaded one never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Http(Section):
    allowed_hosts: list[str] = []
    allowed_origins: list[str] = []
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Hostile clients (zbmcp.transports.http_guard): slow senders cut off, connections and per-agent sessions
    # capped.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_connections: int = Field(default=1000, ge=2)
    max_sessions_per_agent: int = Field(default=20, ge=1)
    # Each agent's share (zbmcp.transports.shares): open GET /mcp streams, and calls in progress.
    max_streams_per_agent: int = Field(default=10, ge=1)
    max_calls_per_agent: int = Field(default=50, ge=1)
    idle_seconds: float = Field(default=600.0, gt=0, le=86400)
    # Shared by replicas behind a load balancer, so an approval asked by one is accepted by another.
    approval_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _no_agent_fills_the_server(self) -> Http:
        share = self.max_sessions_per_agent + self.max_streams_per_agent + self.max_calls_per_agent
        if share > self.max_connections // 2:
            raise ValueError(
                f"one agent could hold {share} connections (max_sessions_per_agent + max_streams_per_agent + "
                f"max_calls_per_agent), more than half of max_connections ({self.max_connections}), and "
                "starve the others: lower those or raise max_connections")
        return self


class ClientMetadataDocuments(Section):
    """OAuth clients identified by the URL of their metadata (CIMD): which of those URLs zbmcp will fetch."""

    enabled: bool = True
    allowed_hosts: list[str] = []  # trust policy: only clients hosted here (empty: any public https host)
    # Fetch documents from loopback and private addresses too. Off: a client_id URL could otherwise make zbmcp
    # reach into its own network (SSRF). Only for tests and closed labs.
    allow_private_networks: bool = False
    ca_file: str | None = None  # extra CA certificates to trust when fetching them (relative to this file)


class Registration(Section):
    """Dynamic client registration (RFC 7591) is open to anyone, signed in or not: what strangers can make
    zbmcp keep is bounded. A registration no person has signed in with yet is "unused"."""

    per_address: int = Field(default=20, ge=1, le=100_000)  # from one address (IPv6: one /64) per window
    in_all: int = Field(default=200, ge=1, le=1_000_000)  # from everyone together per window
    window_minutes: float = Field(default=10, gt=0, le=24 * 60)
    unused_days: float = Field(default=7, gt=0, le=365)  # an unused registration is forgotten after this
    max_unused: int = Field(default=1000, ge=1, le=100_000)  # kept at most; past it the oldest unused go


class OAuth(Section):
    """zbmcp as the authorization server of remote MCP clients; people sign in with Zoho."""

    issuer: str  # the public origin zbmcp is served at, e.g. https://zbmcp.example.com
    # the Zoho OAuth client people sign in through (default: the only connection)
    connection: str | None = None
    access_token_seconds: int = Field(default=600, ge=60, le=3600)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    dynamic_registration: bool = True  # RFC 7591, for clients older than Client ID Metadata Documents
    registration: Registration = Registration()
    client_metadata_documents: ClientMetadataDocuments = ClientMetadataDocuments()
    # Signs enrollment links; replicas must share it. Unset: a key file under $ZBMCP_HOME/oauth.
    enrollment_secret: SecretStr | None = None

    @field_validator("issuer")
    @classmethod
    def _origin(cls, value: str) -> str:
        match = re.fullmatch(r"(https?)://([^/?#@\s]+)/?", value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not an origin; write the URL zbmcp is served at, with no path, "
                             "e.g. https://zbmcp.example.com")
        scheme, host = match.groups()
        if scheme == "http" and not _loopback(host):
            raise ValueError(f"{value!r}: OAuth needs https (plain http only on 127.0.0.1 or localhost, "
                             "for tests)")
        return f"{scheme}://{host.lower()}"

    @property
    def public_hosts(self) -> list[str]:
        """The Host headers people and clients reach zbmcp with, through the issuer's origin (any port)."""
        host = self.issuer.split("://", 1)[1]
        return [host, host + ":*"]


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class StateSettings(Section):
    """Where what must be one across processes lives: windows, quotas, day counts, tokens, approvals and
    sessions."""

    backend: Literal["local", "redis"] = "local"  # local: files under ZBMCP_HOME, one machine
    # redis://[user:password@]host:6379/0, rediss:// for TLS (may hold a password)
    url: SecretStr | None = None
    key_prefix: str = Field(default="zbmcp:", pattern=r"^[A-Za-z0-9_.:{}-]{0,64}$")
    # Encrypts Zoho tokens kept in Redis (at least 32 characters, e.g. ${ZBMCP_STATE_KEY}).
    encryption_key: SecretStr | None = None
    timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or unexpanded(value.get_secret_value(), info.context):
            return value
        if not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("not a Redis URL: use redis://[user:password@]host:6379/0 (rediss:// for TLS)")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or unexpanded(value.get_secret_value(), info.context):
            return value
        if len(value.get_secret_value()) < 32:
            raise ValueError("needs at least 32 characters; generate one with "
                             "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        return value

    @model_validator(mode="after")
    def _redis_needs(self) -> StateSettings:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend redis needs url: redis://[user:password@]host:6379/0")
        if self.backend == "redis" and self.encryption_key is None:
            raise ValueError("backend redis needs encryption_key (Zoho tokens are kept in Redis encrypted "
                             "with it): at least 32 random characters, e.g. ${ZBMCP_STATE_KEY}")
        return self


class Console(Section):
    session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)  # a sign-in lasts this long, then ends
    # a held call waits this long for a decision
    approval_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # How long one tool call waits in place for the decision before answering "pending, call again".
    hold_seconds: float = Field(default=20.0, ge=0, le=120)
    # Pending approvals are announced here (a chat channel's incoming webhook; its URL is a secret).
    webhook_url: SecretStr | None = None
    public_url: str | None = None  # how operators reach the console, for links in announcements
    # Reverse proxies (addresses or networks) whose X-Forwarded-Proto and X-Forwarded-For are believed: TLS
    # ends at the proxy, so the console learns from it that cookies must be Secure, and who is signing in.
    # (A proxy on the same machine, at 127.0.0.1, is believed by the HTTP server itself.)
    trusted_proxies: list[str] = []

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network "
                                 "(e.g. 10.0.0.5 or 10.0.0.0/24)") from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or unexpanded(value.get_secret_value(), info.context):
            return value
        if not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("is not an http(s) URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value
