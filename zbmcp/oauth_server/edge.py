"""The OAuth edge of the HTTP app, assembled from a Runtime: the SDK's authorization-server endpoints around
zbmcp's provider, the sign-in and consent pages, the two metadata documents, and the resource-server checks.

    GET  /.well-known/oauth-protected-resource     RFC 9728: this resource and its authorization server
    GET  /.well-known/oauth-authorization-server   RFC 8414 (+ CIMD support, RFC 9207 iss)
    GET  /authorize  POST /token  POST /revoke  [POST /register]     the SDK's handlers
    (doors.py bounds what strangers can make /authorize and /register keep)
    /oauth/sign-in, /oauth/zoho/callback, /oauth/consent, /oauth/enroll      signin.py

Every refusal at /authorize, /token, /register and /revoke is audited with the error the client was given and
the reason found underneath (the doors' own, at most ten a window); error redirects carry `iss` as well as
successful ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.routes import build_metadata, cors_middleware, create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl, BaseModel, ConfigDict
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from zbmcp.audit.budget import RecordBudget
from zbmcp.audit.log import shorten
from zbmcp.core.config import PER_USER
from zbmcp.oauth_server.asgi import Captured, buffer_body, capturing, send_json
from zbmcp.audit.oauth import AuthAudit, Event, collecting_notes
from zbmcp.oauth_server.cimd import ClientDocuments
from zbmcp.oauth_server.clients import ClientRegistry
from zbmcp.oauth_server.doors import Door, authorization_rules, registration_rules
from zbmcp.oauth_server.enrollment import EnrollmentLinks, enrollment_key
from zbmcp.oauth_server.people import People
from zbmcp.oauth_server.provider import ZbmcpAuthProvider
from zbmcp.oauth_server.resource import BearerVerifier, ResourceGuard
from zbmcp.oauth_server.scopes import DEFAULT, SUPPORTED
from zbmcp.oauth_server.settings import RESOURCE_METADATA_PATH, server_settings
from zbmcp.oauth_server.signin import SignInFlow, ZohoSignIn
from zbmcp.oauth_server.records import Records
from zbmcp.oauth_server.tokens import TokenService
from zbmcp.calls.runtime import Runtime
from zbmcp.proxies import TrustedProxies

_AUDITED: Mapping[str, Event] = {"/authorize": "authorize", "/token": "token", "/register": "register",
                                 "/revoke": "revoke"}
_FORM_LIMIT = 64 * 1024
_AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"]


class _ExactUrl(BaseModel):
    # RFC 8414 and RFC 9207 compare issuers as strings: "https://x" must not become "https://x/".
    model_config = ConfigDict(url_preserve_empty_path=True)
    url: AnyHttpUrl


def exact_url(text: str) -> AnyHttpUrl:
    return _ExactUrl(url=text).url  # type: ignore[arg-type]


class OAuthEdge:
    """`clock` is when tokens and codes expire (seconds since the epoch); tests move it."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time) -> None:
        loaded = runtime.config
        settings = server_settings(loaded)
        oauth = loaded.config.oauth
        if settings is None or oauth is None:
            raise ValueError("the config has no oauth section")
        self.settings = settings
        self.store = Records(runtime.state)
        self.audit = AuthAudit(runtime.audit)
        self.people = People(loaded.config, self.store)
        self.tokens = TokenService(self.store, access_seconds=settings.access_seconds,
                                   refresh_seconds=settings.refresh_seconds, clock=clock)
        documents = oauth.client_metadata_documents
        ca_file = str(loaded.resolve(documents.ca_file)) if documents.ca_file else None
        self.clients = ClientRegistry(self.store, ClientDocuments(documents, self.store, ca_file=ca_file),
                                      settings.registration)
        self._proxies = TrustedProxies(loaded.config.console.trusted_proxies)
        # Anyone can present a token: its refusals are recorded within a budget (zbmcp.audit.budget).
        self.refusals = RecordBudget(self._refusals_left_out, per_source=10, in_all=100)
        agent_connections = {name: agent.connection for name, agent in loaded.config.agents.items()}
        self.sign_in = SignInFlow(
            settings, self.store, ZohoSignIn(runtime.connections[settings.sign_in_connection],
                                             settings.zoho_redirect_uri),
            self.people, self.tokens, dict(runtime.policies), agent_connections,
            runtime.personal if PER_USER in agent_connections.values() else None,
            EnrollmentLinks(enrollment_key(loaded), settings.issuer), self.audit)
        self.provider = ZbmcpAuthProvider(settings, self.clients, self.tokens, self.people, self.sign_in,
                                          self.audit)
        self._policies = runtime.policies
        self._max_body = loaded.config.http.max_body_bytes
        self._cimd_enabled = documents.enabled

    # -- the resource server ------------------------------------------------------------------------------

    def verifier(self, api_keys: TokenVerifier) -> BearerVerifier:
        return BearerVerifier(api_keys, self.tokens, self.people, self.settings.resource)

    def protect(self, app: ASGIApp) -> ResourceGuard:
        return ResourceGuard(app, resource_metadata_url=self.settings.resource_metadata_url,
                             specs_by_agent=self._policies, audit=self.audit, max_body=self._max_body,
                             record_refusal=self._record_refusal)

    def _record_refusal(self, scope: Scope) -> bool:
        return self.refusals.admit(self._proxies.client_address(Request(scope)))

    def _refusals_left_out(self, left_out: int, addresses: str) -> None:
        self.audit.record("bearer", "denied", f"{left_out} more refused keys or tokens, from {addresses} "
                          f"address{'' if addresses == '1' else 'es'}, were not recorded one by one (at most "
                          f"{self.refusals.per_source} records a minute from one address, "
                          f"{self.refusals.in_all} in all)", error="invalid_token")

    @property
    def resource_url(self) -> AnyHttpUrl:
        return exact_url(self.settings.resource)

    # -- the routes ---------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        issuer = exact_url(self.settings.issuer)
        registration = ClientRegistrationOptions(enabled=self.settings.dynamic_registration,
                                                 valid_scopes=list(SUPPORTED), default_scopes=list(DEFAULT))
        revocation = RevocationOptions(enabled=True)
        routes: list[BaseRoute] = []
        for route in create_auth_routes(self.provider, issuer, client_registration_options=registration,
                                        revocation_options=revocation):
            assert isinstance(route, Route)
            if route.path == "/.well-known/oauth-authorization-server":
                continue  # replaced below, with what the SDK's metadata leaves out
            event = _AUDITED.get(route.path)
            endpoint = _Audited(route.app, event, self) if event else route.app
            rules = {"/register": registration_rules(self.settings.registration),
                     "/authorize": authorization_rules()}.get(route.path)
            if rules is not None:
                endpoint = Door(endpoint, rules, self.store.state, self._proxies, self.audit)
            routes.append(Route(route.path, endpoint=endpoint, methods=list(route.methods or [])))
        metadata = build_metadata(issuer, None, registration, revocation)
        metadata.client_id_metadata_document_supported = self._cimd_enabled
        metadata.authorization_response_iss_parameter_supported = True
        metadata.scopes_supported = list(SUPPORTED)
        metadata.token_endpoint_auth_methods_supported = list(_AUTH_METHODS)
        metadata.revocation_endpoint_auth_methods_supported = list(_AUTH_METHODS)
        routes.append(Route("/.well-known/oauth-authorization-server",
                            endpoint=cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"]),
                            methods=["GET", "OPTIONS"]))
        resource = ProtectedResourceMetadata(resource=exact_url(self.settings.resource),
                                             authorization_servers=[issuer], scopes_supported=list(DEFAULT),
                                             resource_name="zbmcp: Zoho Books")
        routes.append(Route(RESOURCE_METADATA_PATH,
                            endpoint=cors_middleware(ProtectedResourceMetadataHandler(resource).handle,
                                                     ["GET", "OPTIONS"]),
                            methods=["GET", "OPTIONS"]))
        routes.extend(self.sign_in.routes())
        return routes


class _Audited:
    """Around one of the SDK's endpoints: refuses a foreign `resource` at /token (the SDK does not look), adds
    `iss` to /authorize's error redirects, and audits every refusal."""

    def __init__(self, app: ASGIApp, event: Event, edge: OAuthEdge) -> None:
        self._app = app
        self._event = event
        self._edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self._app(scope, receive, send)
            return
        body, replay, _ = await buffer_body(receive, _FORM_LIMIT)
        fields = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["method"] == "POST" and _is_form(scope):
            fields.update(parse_qsl(body.decode("utf-8", "replace")))
        client = fields.get("client_id")
        settings = self._edge.settings
        if self._event == "token" and "resource" in fields \
                and settings.audience_of(fields["resource"]) is None:
            description = f"This server is {settings.resource}; it issues no tokens for {fields['resource']}."
            self._edge.audit.record("token", "denied", f"resource {fields['resource']!r} is not this server",
                                    client=client, error="invalid_target")
            await send_json(send, 400, {"error": "invalid_target", "error_description": description})
            return
        captured = Captured()
        rewrite = self._with_iss if self._event == "authorize" else None
        with collecting_notes() as notes:
            await self._app(scope, replay, capturing(send, captured, rewrite_location=rewrite))
        refusal = _refusal(captured)
        if refusal is not None:
            error, description = refusal
            # Each part cut short on its own: the SDK's description may quote a huge client_id,
            # the note after it says why.
            rule = "; ".join([shorten(part, 250) for part in (description, *notes) if part]) or error
            self._edge.audit.record(self._event, "denied", rule, client=client or notes.client,
                                    person=notes.person, agent=notes.agent, error=error)

    def _with_iss(self, location: str) -> str:
        """RFC 9207: `iss` in error responses too (the SDK adds it to none); never on the way to sign-in."""
        parts = urlsplit(location)
        query = parse_qs(parts.query)
        if "error" not in query or "iss" in query:
            return location
        extra = urlencode({"iss": self._edge.settings.issuer})
        return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _is_form(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded"
    return False


def _refusal(captured: Captured) -> tuple[str, str] | None:
    """(error, description) when the response refused the request, else None."""
    if captured.status in (301, 302, 303, 307, 308):
        query = parse_qs(urlsplit(captured.header("location") or "").query)
        if "error" in query:
            return query["error"][0], query.get("error_description", [""])[0]
        return None
    if captured.status < 400:
        return None
    try:
        body = json.loads(bytes(captured.body))
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    return str(body.get("error") or f"HTTP {captured.status}"), str(body.get("error_description") or "")

