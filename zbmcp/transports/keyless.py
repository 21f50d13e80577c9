"""Keyless HTTP for the embedded sandbox, and only on loopback: every request acts as one agent.

`zbmcp serve --sandbox --transport http` should work with any MCP client at once, including tools that cannot
send an Authorization header (the official conformance suite's CLI). Without a key, the only thing standing
between a caller and the agent is who can reach the socket, so keyless mode exists only where that is this
machine:

  * the address is a loopback literal (127.0.0.0/8, ::1) or `localhost`; any other name is refused, even one
    that resolves to loopback today (resolution can change between the check and the bind);
  * the socket, once bound, is checked again (the address it really listens on must be loopback);
  * every request's peer must be a loopback address, or it is refused as unauthenticated (uvicorn takes the
    peer from X-Forwarded-For when a loopback proxy sends one, so a local proxy forwarding others is refused);
  * the Host and Origin checks of the HTTP transport stay on, so a web page that rebinds its own name to
    127.0.0.1, or posts to 127.0.0.1 from another origin, is still refused.

Other users of the same machine can reach a loopback port too: that is why keyless mode is for the sandbox,
whose books are fake and which reaches nothing outside the process.
"""

from __future__ import annotations

import ipaddress
import socket

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials, AuthenticationBackend
from starlette.requests import HTTPConnection

from zbmcp.errors import ConfigError

LOCALHOST_NAMES = frozenset({"localhost", "localhost."})


def is_loopback_ip(address: str) -> bool:
    try:
        # an IPv6 zone (fe80::1%eth0) is not loopback anyway
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is how a dual-stack socket shows an IPv4 loopback peer
    return ip.is_loopback


def is_loopback_host(host: str) -> bool:
    """Whether a --host value names only this machine: a loopback literal, or `localhost`."""
    return host.lower() in LOCALHOST_NAMES or is_loopback_ip(host.strip("[]"))


def require_loopback_host(host: str, *, key_option: str) -> None:
    if not is_loopback_host(host):
        raise ConfigError(
            f"keyless mode listens only on loopback (127.0.0.1, ::1 or localhost), and {host} is not one: "
            f"anyone who can reach it would act as the agent. Give the server a key: {key_option}")


def require_loopback_socket(sock: socket.socket) -> None:
    """The address the socket really listens on, whatever name it was given."""
    address = sock.getsockname()[0]
    if not is_loopback_ip(address):
        raise ConfigError(f"keyless mode needs a loopback socket, but this one listens on {address}")


class LoopbackAgent(AuthenticationBackend):
    """Authenticates every request from a loopback peer as `agent`, and no other request at all."""

    def __init__(self, agent: str, scopes: list[str]) -> None:
        self._identity = AccessToken(token="", client_id=agent, scopes=list(scopes))

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, AuthenticatedUser] | None:
        peer = conn.client.host if conn.client is not None else ""
        if not is_loopback_ip(peer):
            return None  # the route then answers 401: no key can help a caller from elsewhere
        return AuthCredentials(self._identity.scopes), AuthenticatedUser(self._identity)
