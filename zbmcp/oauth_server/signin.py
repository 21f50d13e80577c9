"""The person's part of an authorization: sign in with Zoho, see what the app asks for, allow or deny.

    client ─/authorize─▶ SDK ─▶ provider.authorize ─▶ /oauth/sign-in ─▶ Zoho ─▶ /oauth/zoho/callback
        ─▶ /oauth/consent (the agent, its tools and organizations) ─allow─▶ [per_user: Zoho again, for the
        person's own Books grant ─▶ /oauth/zoho/callback] ─▶ client's redirect_uri ?code&state&iss

Every step is bound to the browser that started it (a cookie whose digest the step's record holds), so a
sign-in link sent to someone else cannot be finished by them; each record is used once and expires within
minutes. Enrollment links (enrollment.py) go through the same Zoho sign-in.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizationParams, construct_redirect_uri
from mcp.shared.auth import OAuthClientInformationFull
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from zbmcp.core.config import PER_USER
from zbmcp.errors import AuthError
from zbmcp.oauth_server import pages
from zbmcp.audit.oauth import AuthAudit
from zbmcp.oauth_server.cimd import is_document_client_id
from zbmcp.oauth_server.enrollment import EnrollmentLinks, InvalidLink
from zbmcp.oauth_server.people import People
from zbmcp.zoho.personal import PersonalConnections
from zbmcp.oauth_server.redirects import is_loopback_host, redirect_host
from zbmcp.oauth_server.scopes import READ, WRITE
from zbmcp.oauth_server.settings import CALLBACK_PATH, ServerSettings
from zbmcp.oauth_server.records import Record, Records
from zbmcp.oauth_server.tokens import TokenService
from zbmcp.state.single_use import use_once
from zbmcp.core.policy import AgentPolicy
from zbmcp.zoho.client import ZohoConnection
from zbmcp.zoho.accounts import (
    PROFILE_SCOPE,
    ZohoIdentity,
    authorization_url,
    exchange_code,
    fetch_identity,
    trusted_accounts_server,
)

log = logging.getLogger(__name__)

PENDING, CONSENTS, USED_LINKS = "oauth_pending", "oauth_consents", "oauth_used_links"
PENDING_SECONDS = 900  # from the app's /authorize to the end of the Zoho sign-in
# Anyone may start a sign-in: at most this many are pending at once (the oldest go first), what two windows
# of doors.AUTHORIZE_IN_ALL let in within PENDING_SECONDS.
MAX_PENDING = 2000
CONSENT_SECONDS = 600
STALE_LINK = "the enrollment link was made before the State lost its records (a Redis restarted empty)"
BROWSER_COOKIE = "zbmcp_oauth_browser"
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class ZohoSignIn:
    """The sign-in connection's Zoho OAuth client, used to learn who a person is (and, for per_user, to
    get their own Books grant)."""

    def __init__(self, connection: ZohoConnection, redirect_uri: str) -> None:
        self._connection = connection
        self._redirect_uri = redirect_uri

    def url(self, state: str, books_scopes: Sequence[str] = ()) -> str:
        client = self._connection.tokens.client
        return authorization_url(client, client.accounts_url, self._redirect_uri,
                                 [PROFILE_SCOPE, *books_scopes], state, offline=bool(books_scopes))

    async def finish(self, code: str,
                     accounts_server: str | None) -> tuple[dict[str, Any], ZohoIdentity, str]:
        client = self._connection.tokens.client
        server = trusted_accounts_server(accounts_server or client.accounts_url, client.accounts_url)
        transport = self._connection.tokens.transport
        token = await exchange_code(client, code, server, redirect_uri=self._redirect_uri,
                                    transport=transport)
        identity = await fetch_identity(server, str(token.get("access_token", "")), transport=transport)
        return token, identity, server


class SignInFlow:
    def __init__(self, settings: ServerSettings, store: Records, zoho: ZohoSignIn, people: People,
                 tokens: TokenService, policies: dict[str, AgentPolicy], agent_connections: dict[str, str],
                 personal: PersonalConnections | None, links: EnrollmentLinks, audit: AuthAudit) -> None:
        self._settings = settings
        self._store = store
        self._zoho = zoho
        self._people = people
        self._tokens = tokens
        self._policies = policies
        self._agent_connections = agent_connections
        self._personal = personal
        self._links = links
        self._audit = audit

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/sign-in", self.sign_in, methods=["GET"]),
            Route(CALLBACK_PATH, self.callback, methods=["GET"]),
            Route("/oauth/consent", self.show_consent, methods=["GET"]),
            Route("/oauth/consent", self.decide, methods=["POST"]),
            Route("/oauth/enroll", self.show_enrollment, methods=["GET"]),
            Route("/oauth/enroll", self.start_enrollment, methods=["POST"]),
        ]

    # -- from the SDK's /authorize to Zoho ----------------------------------------------------------------

    async def start(self, client: OAuthClientInformationFull, params: AuthorizationParams, scopes: list[str],
                    audience: str) -> str:
        request_id = secrets.token_urlsafe(24)
        record = {"kind": "authorize", "client_id": client.client_id, "client_name": _client_name(client),
                  "redirect_uri": str(params.redirect_uri),
                  "explicit": params.redirect_uri_provided_explicitly,
                  "code_challenge": params.code_challenge, "state": params.state, "scopes": scopes,
                  "resource": audience, "browser": None}
        await self._store.put(PENDING, request_id, record, ttl=PENDING_SECONDS, most=MAX_PENDING)
        return f"{self._settings.issuer}/oauth/sign-in?request={request_id}"

    async def sign_in(self, request: Request) -> Response:
        request_id = request.query_params.get("request", "")
        record = await self._store.get(PENDING, request_id) if request_id else None
        if record is None:
            return pages.message("This sign-in has expired", "Start again from your app.")
        nonce = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(24)
        if record["browser"] is not None and record["browser"] != _digest(nonce):
            self._audit.record("sign-in", "denied", "a sign-in link was opened in a second browser",
                               client=record["client_id"])
            return pages.message("This sign-in is already under way",
                                 "It was started in another browser. Start again from your app.")
        record["browser"] = _digest(nonce)
        await self._store.put(PENDING, request_id, record, ttl=PENDING_SECONDS)
        return self._bound(RedirectResponse(self._zoho.url(request_id), status_code=302, headers=_NO_STORE),
                           nonce)

    def _bound(self, response: Response, nonce: str) -> Response:
        response.set_cookie(BROWSER_COOKIE, nonce, httponly=True, samesite="lax", path="/oauth",
                            secure=self._settings.secure_cookies)
        return response

    def _same_browser(self, request: Request, record: Record) -> bool:
        nonce = request.cookies.get(BROWSER_COOKIE)
        return nonce is not None and record.get("browser") is not None and secrets.compare_digest(
            _digest(nonce), record["browser"])

    # -- back from Zoho -----------------------------------------------------------------------------------

    async def callback(self, request: Request) -> Response:
        query = request.query_params
        state = query.get("state", "")
        record = await self._store.take(PENDING, state) if state else None
        if record is None:
            self._audit.record("sign-in", "denied", "Zoho sent back an unknown or expired sign-in (state)")
            return pages.message("This sign-in has expired", "Start again from your app.")
        client = record.get("client_id")
        if not self._same_browser(request, record):
            self._audit.record("sign-in", "denied", "the Zoho sign-in came back to a different browser",
                               client=client)
            return pages.message("Sign-in refused",
                                 "This sign-in was started in another browser. Start again "
                                 "from your app, in this browser.")
        if query.get("error") or not query.get("code"):
            self._audit.record("sign-in", "denied", f"Zoho answered {query.get('error') or 'without a code'}",
                               client=client, error="access_denied")
            return self._back(record, "access_denied", "The sign-in at Zoho was cancelled.")
        try:
            token, identity, accounts_server = await self._zoho.finish(query["code"],
                                                                       query.get("accounts-server"))
        except AuthError as failure:
            self._audit.record("sign-in", "denied", str(failure), client=client, error="server_error")
            return self._back(record, "server_error", "zbmcp could not complete the Zoho sign-in.")
        if record["kind"] == "enroll":
            return await self._finish_enrollment(record, identity)
        if record["kind"] == "connect":
            return await self._finish_connect(record, identity, token, accounts_server)
        return await self._to_consent(record, identity)

    async def _to_consent(self, record: Record, identity: ZohoIdentity) -> Response:
        agents = await self._people.agents_for(identity)
        if not agents:
            self._audit.record("sign-in", "denied", "this Zoho user is not mapped to any agent",
                               client=record["client_id"], person=identity.email, error="access_denied")
            return pages.message(
                "Your Zoho account may not use this zbmcp",
                f"You signed in as {identity.email}, and no agent of this zbmcp server lists you. Ask "
                "its operator to add you to an agent's users, or for an enrollment link.", status=403,
                link=("Return to the app", self._back_url(record, "access_denied",
                                                          "This Zoho user may not use this server.")))
        consent_id = secrets.token_urlsafe(24)
        person = {"user_id": identity.user_id, "email": identity.email, "name": identity.name}
        await self._store.put(CONSENTS, consent_id, {**record, "person": person, "agents": agents},
                              ttl=CONSENT_SECONDS)
        self._audit.record("sign-in", "allowed", f"signed in with Zoho (agents: {', '.join(agents)})",
                           client=record["client_id"], person=identity.email)
        return RedirectResponse(f"/oauth/consent?id={consent_id}", status_code=302, headers=_NO_STORE)

    # -- consent ------------------------------------------------------------------------------------------

    async def show_consent(self, request: Request) -> Response:
        consent_id = request.query_params.get("id", "")
        record = await self._store.get(CONSENTS, consent_id) if consent_id else None
        if record is None or not self._same_browser(request, record):
            return pages.message("This request has expired", "Start again from your app.")
        person = record["person"]
        tools = {agent: [pages.ToolLine(spec.name, spec.title, not spec.read_only)
                         for spec in self._policies[agent].visible.values()] for agent in record["agents"]}
        organizations = {agent: list(self._policies[agent].organizations) for agent in record["agents"]}
        client_id = record["client_id"]
        if is_document_client_id(client_id):
            note = f"published at {urlsplit(client_id).hostname}"
        else:
            note = "a name the app gave itself, not checked by anyone"
        host = urlsplit(record["redirect_uri"]).hostname or ""
        return pages.consent(pages.ConsentView(
            consent_id=consent_id, client_name=record["client_name"], client_note=note,
            redirect_host=redirect_host(record["redirect_uri"]), loopback_redirect=is_loopback_host(host),
            person=f"{person['name']} ({person['email']})", agents=record["agents"], tools=tools,
            organizations=organizations, writes_requested=WRITE in record["scopes"]))

    async def decide(self, request: Request) -> Response:
        async with request.form() as form:
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
        consent_id = fields.get("consent", "")
        record = await self._store.take(CONSENTS, consent_id) if consent_id else None
        if record is None or not self._same_browser(request, record):
            self._audit.record("consent", "denied",
                               "a consent form that is unknown, used or from another browser")
            return pages.message("This request has expired", "Start again from your app.")
        person = record["person"]
        if fields.get("decision") != "allow":
            self._audit.record("consent", "denied", "the person denied the app", client=record["client_id"],
                               person=person["email"], error="access_denied")
            return self._back(record, "access_denied", "The person denied access.")
        agent = fields.get("agent", "")
        if agent not in record["agents"]:
            self._audit.record("consent", "denied", f"the form named agent {agent!r}, which was not offered",
                               client=record["client_id"], person=person["email"])
            return pages.message("Refused", "That agent was not offered to you.", status=400)
        scopes = [s for s in record["scopes"] if s != WRITE or fields.get("allow_writes") == "yes"] or [READ]
        if self._agent_connections.get(agent) == PER_USER and self._personal is not None:
            books_scopes = self._policies[agent].scopes
            if not await self._personal.ready(person["user_id"], person["email"], books_scopes):
                return await self._to_connect(record, agent, scopes, books_scopes)
        return await self._grant(record, agent, scopes)

    async def _grant(self, record: Record, agent: str, scopes: list[str]) -> Response:
        person = record["person"]
        code = await self._tokens.issue_code(
            client_id=record["client_id"], redirect_uri=record["redirect_uri"],
            redirect_uri_provided_explicitly=record["explicit"], code_challenge=record["code_challenge"],
            scopes=scopes, resource=record["resource"], subject=person["user_id"], agent=agent,
            person=person["email"])
        self._audit.record("consent", "allowed", f"allowed {' '.join(scopes)}", client=record["client_id"],
                           person=person["email"], agent=agent)
        url = construct_redirect_uri(record["redirect_uri"], code=code, state=record.get("state"),
                                     iss=self._settings.issuer)
        return RedirectResponse(url, status_code=302, headers=_NO_STORE)

    # -- per_user: the person's own Zoho grant for Books ---------------------------------------------------

    async def _to_connect(self, record: Record, agent: str, scopes: list[str], books_scopes: list[str]
                          ) -> Response:
        request_id = secrets.token_urlsafe(24)
        await self._store.put(PENDING, request_id,
                              {**record, "kind": "connect", "agent": agent, "granted": scopes},
                              ttl=PENDING_SECONDS)
        return RedirectResponse(self._zoho.url(request_id, books_scopes), status_code=302, headers=_NO_STORE)

    async def _finish_connect(self, record: Record, identity: ZohoIdentity, token: dict[str, Any],
                              accounts_server: str) -> Response:
        person = record["person"]
        if identity.user_id != person["user_id"]:
            self._audit.record("sign-in", "denied",
                               f"signed in to Zoho as {identity.email} to grant Books access "
                               f"for {person['email']}", client=record["client_id"], person=person["email"],
                               error="access_denied")
            return self._back(record, "access_denied", "A different Zoho account was used to grant access.")
        assert self._personal is not None
        try:
            await self._personal.adopt(identity.user_id, identity.email, token, accounts_server)
        except AuthError as failure:
            self._audit.record("sign-in", "denied", str(failure), client=record["client_id"],
                               person=person["email"], error="server_error")
            return self._back(record, "server_error", "Zoho did not grant lasting access to Zoho Books.")
        return await self._grant(record, record["agent"], record["granted"])

    # -- enrollment links ---------------------------------------------------------------------------------

    async def show_enrollment(self, request: Request) -> Response:
        token = request.query_params.get("t", "")
        try:
            invitation = self._links.read(token)
        except InvalidLink as invalid:
            return pages.message("Enrollment link refused", str(invalid))
        if invitation.epoch != await self._store.state.epoch():
            return _stale_link()
        if invitation.agent not in self._policies:
            return pages.message("Enrollment link refused",
                                 "The agent this link was made for no longer exists.")
        # The form must come back from this browser: another site cannot post it for
        # someone (and enroll them).
        nonce = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(24)
        return self._bound(pages.enroll_start(token, _digest(nonce), invitation.agent, invitation.email),
                           nonce)

    async def start_enrollment(self, request: Request) -> Response:
        async with request.form() as form:
            token, browser = form.get("t"), form.get("b")
        try:
            invitation = self._links.read(token if isinstance(token, str) else "")
        except InvalidLink as invalid:
            self._audit.record("enroll", "denied", str(invalid))
            return pages.message("Enrollment link refused", str(invalid))
        if invitation.epoch != await self._store.state.epoch():
            self._audit.record("enroll", "denied", STALE_LINK, agent=invitation.agent)
            return _stale_link()
        nonce = request.cookies.get(BROWSER_COOKIE)
        if nonce is None or not isinstance(browser, str) \
                or not secrets.compare_digest(_digest(nonce), browser):
            self._audit.record("enroll", "denied",
                               "the enrollment form was not sent from the page that shows it",
                               agent=invitation.agent)
            return pages.message("Enrollment refused", "Open the enrollment link again, in this browser.")
        request_id = secrets.token_urlsafe(24)
        await self._store.put(PENDING, request_id, {
            "kind": "enroll", "browser": _digest(nonce), "client_id": None,
            "invitation": {"agent": invitation.agent, "email": invitation.email, "nonce": invitation.nonce,
                           "expires_at": invitation.expires_at, "epoch": invitation.epoch}},
                              ttl=PENDING_SECONDS)
        return self._bound(RedirectResponse(self._zoho.url(request_id), status_code=302, headers=_NO_STORE),
                           nonce)

    async def _finish_enrollment(self, record: Record, identity: ZohoIdentity) -> Response:
        invitation = record["invitation"]
        agent = invitation["agent"]
        if invitation.get("email") and invitation["email"] != identity.email:
            self._audit.record("enroll", "denied", f"the link is for {invitation['email']}",
                               person=identity.email, agent=agent)
            return pages.message("Enrollment refused",
                                 f"This link is for {invitation['email']}, and you signed "
                                 f"in as {identity.email}.", status=403)
        if agent not in self._policies:
            return pages.message("Enrollment refused", "The agent this link was made for no longer exists.")
        remaining = max(60.0, invitation["expires_at"] - time.time())
        use = await use_once(self._store.state, USED_LINKS, invitation["nonce"], epoch=invitation["epoch"],
                             ttl=remaining)
        if use == "stale":
            self._audit.record("enroll", "denied", STALE_LINK, person=identity.email, agent=agent)
            return _stale_link()
        if use == "again":
            self._audit.record("enroll", "denied", "the enrollment link was already used",
                               person=identity.email, agent=agent)
            return pages.message("Enrollment link already used",
                                 "Each enrollment link works once. Ask your zbmcp "
                                 "operator for a new one.", status=410)
        await self._people.enroll(identity, agent)
        self._audit.record("enroll", "allowed", "enrolled with a one-time link", person=identity.email,
                           agent=agent)
        return pages.enrolled(agent, f"{identity.name} ({identity.email})", f"{self._settings.issuer}/mcp")

    # -- answers to the app -------------------------------------------------------------------------------

    def _back_url(self, record: Record, error: str, description: str) -> str:
        return construct_redirect_uri(record["redirect_uri"], error=error, error_description=description,
                                      state=record.get("state"), iss=self._settings.issuer)

    def _back(self, record: Record, error: str, description: str) -> Response:
        if record.get("kind") == "enroll" or not record.get("redirect_uri"):
            return pages.message("Sign-in did not complete", description)
        return RedirectResponse(self._back_url(record, error, description), status_code=302,
                                headers=_NO_STORE)


def _stale_link() -> Response:
    return pages.message("Enrollment link no longer valid",
                         "This link was made before zbmcp's shared state was reset (its Redis restarted "
                         "or was emptied), so zbmcp cannot tell whether it was used. Ask your zbmcp "
                         "operator for a new one.", status=410)


def _client_name(client: OAuthClientInformationFull) -> str:
    name = (client.client_name or "").strip()
    return name[:100] or "An unnamed app"
