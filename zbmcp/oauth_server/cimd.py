"""Client ID Metadata Documents: a client whose client_id is an https URL is described by the JSON
found there.

Fetching a URL a stranger chose is a server-side request forgery risk, so
(draft-ietf-oauth-client-id-metadata-document §6 and the MCP spec's security considerations):
  * only https, with a path, no fragment, no user info, no dot segments;
  * the host's addresses are resolved first and every one must be public (loopback, private, link-local, ...
    refused) unless the config allows private networks; the request then goes to the address that was checked,
    with the host name kept for TLS, so DNS cannot switch it afterwards;
  * optionally only hosts the operator trusts (allowed_hosts);
  * no redirects, no proxy, at most 5 KB, at most 5 seconds;
  * the document's client_id must be the URL exactly; no client secret; public clients only ("none").
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import ValidationError

from zbmcp.core.config_hosting import ClientMetadataDocuments
from zbmcp.oauth_server.redirects import redirect_uri_problem
from zbmcp.oauth_server.scopes import SUPPORTED
from zbmcp.oauth_server.records import Records

MAX_BYTES = 5 * 1024
MAX_URL_CHARS = 1000
TIMEOUT_SECONDS = 5.0
CACHE_SECONDS = (60, 3600)  # bounds on how long a fetched document is trusted
NAMESPACE = "oauth_client_documents"
# Any public host can publish documents: the cache keeps this many at most (the rest are fetched again).
MAX_CACHED = 1000
_SHARED_SECRET_METHODS = {"client_secret_post", "client_secret_basic", "client_secret_jwt"}


class DocumentRefused(Exception):
    """Why a client metadata document was not accepted, in words for the audit log and the operator."""


def is_document_client_id(client_id: str) -> bool:
    return client_id.startswith("https://")


@dataclass(frozen=True)
class _Target:
    url: str
    host: str
    port: int


def check_url(client_id: str, policy: ClientMetadataDocuments) -> _Target:
    if len(client_id) > MAX_URL_CHARS:
        raise DocumentRefused(f"a client_id URL is at most {MAX_URL_CHARS} characters")
    parts = urlsplit(client_id)
    if parts.scheme != "https":
        raise DocumentRefused("a client_id URL must use https")
    if parts.username is not None or parts.password is not None:
        raise DocumentRefused("a client_id URL must not carry user information")
    if parts.fragment or client_id.endswith("#"):
        raise DocumentRefused("a client_id URL must not have a fragment")
    if not parts.path or parts.path == "/":
        raise DocumentRefused("a client_id URL must have a path (e.g. /oauth/client.json)")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise DocumentRefused("a client_id URL must not contain . or .. path segments")
    host = (parts.hostname or "").lower()
    if not host:
        raise DocumentRefused("a client_id URL must name a host")
    allowed = [name.lower() for name in policy.allowed_hosts]
    if allowed and host not in allowed:
        raise DocumentRefused(f"clients hosted at {host} are not trusted here "
                              "(oauth.client_metadata_documents.allowed_hosts)")
    try:
        port = parts.port or 443
    except ValueError:
        raise DocumentRefused("a client_id URL has an invalid port") from None
    return _Target(client_id, host, port)


async def _public_address(target: _Target, policy: ClientMetadataDocuments) -> str:
    try:
        with anyio.fail_after(TIMEOUT_SECONDS):
            infos = await anyio.getaddrinfo(target.host, target.port, type=0, proto=6)
    except (OSError, TimeoutError):
        raise DocumentRefused(f"the client's host {target.host} does not resolve") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise DocumentRefused(f"the client's host {target.host} does not resolve")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global and not policy.allow_private_networks:
            raise DocumentRefused(f"the client's host {target.host} resolves to a non-public address ({ip}); "
                                  "zbmcp does not fetch documents from private networks")
    return addresses[0]


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


async def fetch_document(client_id: str, policy: ClientMetadataDocuments, *, ca_file: str | None = None
                         ) -> tuple[dict[str, Any], float]:
    """The document at `client_id`, and how many seconds it may be cached. DocumentRefused on any problem."""
    target = check_url(client_id, policy)
    address = await _public_address(target, policy)
    literal = f"[{address}]" if ":" in address else address
    parts = urlsplit(client_id)
    url = f"https://{literal}:{target.port}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    host_header = target.host if target.port == 443 else f"{target.host}:{target.port}"
    body = bytearray()
    try:
        with anyio.fail_after(TIMEOUT_SECONDS):
            async with httpx2.AsyncClient(verify=_ssl_context(ca_file), trust_env=False,
                                          follow_redirects=False, timeout=TIMEOUT_SECONDS) as http:
                request = http.build_request("GET", url,
                                             headers={"Host": host_header, "Accept": "application/json"},
                                             extensions={"sni_hostname": target.host})
                response = await http.send(request, stream=True)
                try:
                    if response.status_code != 200:
                        raise DocumentRefused(f"fetching the client's metadata document answered HTTP "
                                              f"{response.status_code}")
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > MAX_BYTES:
                            raise DocumentRefused("the client's metadata document is larger than "
                                                  f"{MAX_BYTES} bytes")
                finally:
                    await response.aclose()
    except TimeoutError:
        raise DocumentRefused("the client's metadata document did not arrive within "
                              f"{TIMEOUT_SECONDS:g} s") from None
    except httpx2.HTTPError as exc:
        raise DocumentRefused("could not fetch the client's metadata document "
                              f"({type(exc).__name__})") from None
    try:
        document = json.loads(bytes(body))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DocumentRefused("the client's metadata document is not JSON") from None
    if not isinstance(document, dict):
        raise DocumentRefused("the client's metadata document is not a JSON object")
    return document, _cache_seconds(response.headers.get("cache-control", ""))


def _cache_seconds(cache_control: str) -> float:
    low, high = CACHE_SECONDS
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return low
        if name == "max-age" and value.isdigit():
            return float(min(high, max(low, int(value))))
    return 300.0


def client_from_document(client_id: str, document: dict[str, Any]) -> OAuthClientInformationFull:
    """The registered-client view of a fetched document, after the checks the draft
    and the MCP spec require."""
    if document.get("client_id") != client_id:
        raise DocumentRefused("the document's client_id is not the URL it was fetched from")
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise DocumentRefused("a client metadata document must not carry a client secret")
    method = document.get("token_endpoint_auth_method") or "none"
    if method in _SHARED_SECRET_METHODS:
        raise DocumentRefused(f"token_endpoint_auth_method {method!r} needs a shared secret, "
                              "which a metadata document cannot have")
    if method != "none":
        raise DocumentRefused(f"token_endpoint_auth_method {method!r} is not supported here; use "
                              "\"none\" (PKCE)")
    redirect_uris = document.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris \
            or not all(isinstance(u, str) for u in redirect_uris):
        raise DocumentRefused("the document needs redirect_uris: a list of URLs")
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem:
            raise DocumentRefused(f"redirect URI {uri!r}: {problem}")
    grant_types = document.get("grant_types") or ["authorization_code"]
    if not isinstance(grant_types, list) or "authorization_code" not in grant_types:
        raise DocumentRefused("grant_types must include authorization_code")
    response_types = document.get("response_types") or ["code"]
    if not isinstance(response_types, list) or "code" not in response_types:
        raise DocumentRefused("response_types must include code")
    name = document.get("client_name")
    if not isinstance(name, str) or not name.strip():
        raise DocumentRefused("the document needs a client_name")
    try:
        return OAuthClientInformationFull.model_validate({
            "client_id": client_id,
            "client_name": name.strip()[:100],
            "client_uri": document.get("client_uri") if isinstance(document.get("client_uri"), str) else None,
            "redirect_uris": redirect_uris,
            "grant_types": [g for g in grant_types if g in ("authorization_code", "refresh_token")],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": " ".join(SUPPORTED),
        })
    except ValidationError as exc:
        raise DocumentRefused("the document is not valid client metadata "
                              f"({exc.errors()[0]['msg']})") from None


class ClientDocuments:
    """Fetches, checks and caches client metadata documents."""

    def __init__(self, policy: ClientMetadataDocuments, store: Records, *,
                 ca_file: str | None = None) -> None:
        self.policy = policy
        self._store = store
        self._ca_file = ca_file

    async def client(self, client_id: str) -> OAuthClientInformationFull:
        if not self.policy.enabled:
            raise DocumentRefused("client metadata documents are turned off here "
                                  "(oauth.client_metadata_documents.enabled)")
        cached = await self._store.get(NAMESPACE, client_id)
        if cached is not None:
            return OAuthClientInformationFull.model_validate(cached)
        document, seconds = await fetch_document(client_id, self.policy, ca_file=self._ca_file)
        client = client_from_document(client_id, document)
        await self._store.put(NAMESPACE, client_id, client.model_dump(mode="json", exclude_none=True),
                              ttl=seconds, most=MAX_CACHED)
        return client
