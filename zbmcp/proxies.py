"""Who is asking, and through which name: the Host and Origin a request names, matched exactly against the
names zbmcp serves (the transports' and the console's DNS-rebinding checks), and, behind reverse proxies it
trusts (console.trusted_proxies), the scheme and address their X-Forwarded-* headers give; anyone else's do
not count. The console's sign-in and the OAuth server's registration limits both key on the address found
here."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.requests import Request


class TrustedProxies:
    def __init__(self, networks: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def scheme(self, request: Request) -> str:
        scheme = request.url.scheme
        client = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-proto")
        if forwarded and client and self.trusted(client):
            scheme = forwarded.split(",")[0].strip()
        return scheme

    def client_address(self, request: Request) -> str:
        """Who is asking: the peer, or behind a trusted proxy the last address the proxies did not add."""
        address = request.client.host if request.client else "unknown"
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded and self.trusted(address):
            for hop in reversed([h.strip() for h in forwarded.split(",")]):
                address = hop
                if not self.trusted(hop):
                    break
        return address[:64]

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)


_PORT = re.compile(r"[0-9]{1,5}")


def name_allowed(value: str, patterns: Iterable[str]) -> bool:
    """Whether a Host (`name[:port]`) or an Origin (`scheme://name[:port]`) is one of `patterns`, each a value
    to equal (names compared without regard to case) or `value:*` for that value with any port.

    Exact, never a prefix: `127.0.0.1:8000@evil.example` is not `127.0.0.1:*`, nor is `localhost.evil.example`
    `localhost`.
    """
    value = value.lower()
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.endswith(":*"):
            base, sep, port = value.rpartition(":")
            if sep and base == pattern[:-2] and _PORT.fullmatch(port):
                return True
        elif value == pattern:
            return True
    return False
