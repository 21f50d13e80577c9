"""The authorization server's settings, derived once from the config: URLs, lifetimes, cookie rules."""

from __future__ import annotations

from dataclasses import dataclass

from zbmcp.core.config import LoadedConfig, sign_in_connection
from zbmcp.core.config_hosting import Registration

CALLBACK_PATH = "/oauth/zoho/callback"
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
# Where the MCP endpoints live on this origin: a client may name any of them as the resource it wants.
MCP_PATHS = ("/mcp", "/sse")


@dataclass(frozen=True)
class ServerSettings:
    issuer: str  # also the resource identifier (RFC 8707): one origin, one protected resource
    sign_in_connection: str
    access_seconds: int
    refresh_seconds: int
    dynamic_registration: bool
    registration: Registration

    @property
    def resource(self) -> str:
        return self.issuer

    @property
    def resource_metadata_url(self) -> str:
        return self.issuer + RESOURCE_METADATA_PATH

    @property
    def zoho_redirect_uri(self) -> str:
        return self.issuer + CALLBACK_PATH

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    def audience_of(self, resource: str | None) -> str | None:
        """The audience a requested `resource` stands for, or None if it is not this server (invalid_target).

        No resource at all means this server: it is the only resource this authorization server serves.
        """
        if resource is None:
            return self.resource
        scheme, sep, rest = resource.partition("://")
        host, slash, path = rest.partition("/")
        normalised = f"{scheme.lower()}{sep}{host.lower()}" + (f"/{path}" if slash else "")
        if normalised.rstrip("/") == self.resource or normalised in {self.resource + p for p in MCP_PATHS}:
            return self.resource
        return None


def server_settings(loaded: LoadedConfig) -> ServerSettings | None:
    oauth = loaded.config.oauth
    connection = sign_in_connection(loaded.config)
    if oauth is None or connection is None:
        return None
    return ServerSettings(
        issuer=oauth.issuer,
        sign_in_connection=connection,
        access_seconds=oauth.access_token_seconds,
        refresh_seconds=oauth.refresh_token_days * 86400,
        dynamic_registration=oauth.dynamic_registration,
        registration=oauth.registration,
    )
