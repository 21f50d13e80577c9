"""`zbmcp claude-config --remote URL`: how Claude reaches a hosted zbmcp that people sign in to.

claude.ai and Claude Desktop add a remote server as a custom connector (Settings > Connectors), by URL; Claude
Desktop's config file takes only local (stdio) servers, so for a zbmcp that Anthropic's cloud cannot reach (a
private network, this machine) the file gets the mcp-remote bridge, which does the same OAuth sign-in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from zbmcp.errors import ConfigError
from zbmcp.oauth_server.redirects import is_loopback_host

# the stdio-to-HTTP bridge Claude Desktop's config file needs for remote servers
MCP_REMOTE = "mcp-remote@0.15"


def endpoint_of(url: str) -> str:
    """The /mcp endpoint of a zbmcp given by its origin or by the endpoint itself."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"--remote {url!r}: give the URL zbmcp is served at, "
                          "e.g. https://zbmcp.example.com")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"--remote {url!r}: a remote zbmcp must use https "
                          "(plain http only on this machine)")
    path = parts.path.rstrip("/")
    if path not in ("", "/mcp"):
        raise ConfigError(f"--remote {url!r}: zbmcp serves MCP at /mcp on its own origin; give that origin")
    return f"{parts.scheme}://{parts.netloc}/mcp"


def remote_config(url: str) -> tuple[dict[str, Any], str]:
    """The claude_desktop_config.json entry (via mcp-remote), and what to do instead where it fits better."""
    endpoint = endpoint_of(url)
    entry = {"mcpServers": {"zoho-books": {"command": "npx", "args": ["-y", MCP_REMOTE, endpoint]}}}
    advice = "\n".join([
        f"zbmcp: the MCP endpoint is {endpoint}. People sign in with Zoho there; no key to copy.",
        "  claude.ai, Claude Desktop (public server): Settings > Connectors > Add custom connector, "
        "URL above.",
        f"  Claude Code: claude mcp add --transport http zoho-books {endpoint}",
        "  Claude Desktop, server on a private network: put the JSON above in claude_desktop_config.json "
        "(Node.js needed).",
    ])
    return entry, advice
