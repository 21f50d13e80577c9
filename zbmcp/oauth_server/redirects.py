"""Which redirect URIs a client may register (pure): https anywhere, plain http only back to this machine.

The MCP spec: "All redirect URIs MUST be either localhost or use HTTPS". Custom schemes, fragments and user
information are refused, so a code can only travel to where the client said and a person can see where.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri: str) -> str | None:
    """None if `uri` may be registered, else what is wrong with it."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "not a valid URL"
    if parts.fragment or uri.endswith("#"):
        return "a redirect URI must not have a fragment"
    if parts.username is not None or parts.password is not None:
        return "a redirect URI must not carry user information"
    if not parts.hostname:
        return "a redirect URI must name a host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return None
    return "a redirect URI must use https, or http to this machine (127.0.0.1, [::1] or localhost)"


def redirect_host(uri: str) -> str:
    """What a person is shown: where the code will be sent."""
    parts = urlsplit(uri)
    return parts.netloc or uri
