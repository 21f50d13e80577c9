"""Who is asking, and over which scheme, when zbmcp sits behind reverse proxies it trusts
(console.trusted_proxies): their X-Forwarded-* headers count, anyone else's do not. The console's sign-in and
the OAuth server's registration limits both key on the address found here."""

from __future__ import annotations

import ipaddress
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
